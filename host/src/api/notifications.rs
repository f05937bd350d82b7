//! `/api/notifications`: list, filter, mark read.

use super::error::{ApiError, ApiResult};
use super::extract::ValidQuery;
use super::page::{Page, PageQuery};
use crate::server::state::AppState;
use crate::store::rows::Notification;
use crate::store::{self, Filter, Param};
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A notification kind (docs/NOTIFIERS.md).
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<crate::domain::NotificationKind>)]
    pub kind: Option<String>,
    #[param(value_type = Option<crate::domain::Severity>)]
    pub severity: Option<String>,
    /// true: read only; false: unread only.
    pub read: Option<bool>,
    pub entity_id: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    #[serde(flatten)]
    pub page: Page<Notification>,
    pub unread: i64,
}

#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(ListQuery),
    responses((status = 200, body = NotificationPage)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    if let Some(t) = q.kind {
        let Ok(t) = t.parse::<crate::domain::NotificationKind>() else {
            return Err(ApiError::invalid(
                "type",
                format!(
                    "expected {}",
                    crate::domain::either(crate::domain::NotificationKind::ALL)
                ),
            ));
        };
        f.push("type = ?", Param::Text(t.to_string()));
    }
    if let Some(s) = q.severity {
        let Ok(s) = s.parse::<crate::domain::Severity>() else {
            return Err(ApiError::invalid(
                "severity",
                format!(
                    "expected {}",
                    crate::domain::either(crate::domain::Severity::ALL)
                ),
            ));
        };
        f.push("severity = ?", Param::Text(s.to_string()));
    }
    match q.read {
        Some(true) => {
            f.raw("read_at IS NOT NULL");
        }
        Some(false) => {
            f.raw("read_at IS NULL");
        }
        None => {}
    }
    if let Some(e) = q.entity_id {
        f.push("entity_id = ?", Param::Text(e));
    }
    let (rows, total) = store::notifications::list(&state.db, &f, limit, offset).await?;
    let unread = store::notifications::unread_count(&state.db).await?;
    Ok(Json(NotificationPage {
        page: Page::new(rows, total, page, limit),
        unread,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Marked {
    pub marked: u64,
}

#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications",
    responses((status = 200, body = Marked), (status = 404, body = super::error::ErrorBody)))]
pub async fn mark_read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Marked>> {
    let marked = store::notifications::mark_read(&state.db, Some(&id)).await?;
    if marked == 0 {
        return Err(ApiError::not_found("notification", &id));
    }
    Ok(Json(Marked { marked }))
}

#[utoipa::path(post, path = "/api/notifications/read-all", tag = "notifications",
    responses((status = 200, body = Marked)))]
pub async fn mark_all_read(State(state): State<AppState>) -> ApiResult<Json<Marked>> {
    Ok(Json(Marked {
        marked: store::notifications::mark_read(&state.db, None).await?,
    }))
}
