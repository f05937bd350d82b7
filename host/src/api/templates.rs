//! `/api/system/notification-templates`: the message of each notification
//! kind per channel type, with every edit kept as a numbered version.

use super::error::{ApiError, ApiResult};
use super::extract::ValidJson;
use crate::notify::{self, templates};
use crate::server::state::AppState;
use crate::store::rows::{Template, TemplateVersion};
use crate::store::{self};
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A template with the text of its active version.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    /// The channel type it is for (`smtp`, `webhook`, `whatsapp`...).
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: crate::domain::NotificationKind,
    pub active_version: i64,
    pub subject: Option<String>,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

fn view(t: Template, v: TemplateVersion) -> TemplateView {
    TemplateView {
        id: t.id,
        channel: t.channel,
        kind: t.kind,
        active_version: t.active_version,
        subject: v.subject,
        body: v.body,
        updated_at: t.updated_at,
    }
}

async fn load(state: &AppState, id: &str) -> ApiResult<(Template, TemplateVersion)> {
    let t = store::templates::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("notification template", id))?;
    let v = store::templates::version(&state.db, id, t.active_version)
        .await?
        .ok_or_else(|| ApiError::internal(format!("template {id} lost its active version")))?;
    Ok((t, v))
}

/// Every template (each kind for each installed notifier type).
#[utoipa::path(get, path = "/api/system/notification-templates", operation_id = "template_list", tag = "notifications",
    responses((status = 200, body = super::page::Page<TemplateView>)))]
pub async fn list(
    State(state): State<AppState>,
) -> ApiResult<Json<super::page::Page<TemplateView>>> {
    let mut out = Vec::new();
    for t in store::templates::list(&state.db).await? {
        let id = t.id.clone();
        out.push(view(t, load(&state, &id).await?.1));
    }
    Ok(Json(super::page::Page::whole(out)))
}

#[utoipa::path(get, path = "/api/system/notification-templates/{id}", operation_id = "template_get", tag = "notifications",
    responses((status = 200, body = TemplateView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let (t, v) = load(&state, &id).await?;
    Ok(Json(view(t, v)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditTemplate {
    /// Empty or omitted: `[DataGuardian] {{ title }}`.
    #[schema(max_length = 16384)]
    pub subject: Option<String>,
    /// minijinja syntax; variables: see docs/NOTIFIERS.md.
    #[schema(min_length = 1, max_length = 16384)]
    pub body: String,
}

/// Most characters of a subject or body.
const MAX_TEMPLATE_CHARS: usize = 16 * 1024;

/// A template must render against the sample event (which defines every
/// variable) within the caps of a render (output, memory, time), so an
/// unknown variable or a template bomb is refused here, naming the part.
async fn check(input: &EditTemplate) -> ApiResult<templates::Rendered> {
    for (field, text) in [
        ("subject", input.subject.as_deref().unwrap_or("")),
        ("body", &input.body),
    ] {
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(ApiError::invalid(
                field,
                format!("must be at most {MAX_TEMPLATE_CHARS} characters"),
            ));
        }
    }
    templates::check(input.subject.as_deref(), &input.body)
        .await
        .map_err(render_error)
}

/// A render failure as an API error: 422 naming the part, or 500 when the
/// renderer itself could not run.
pub fn render_error(e: templates::RenderError) -> ApiError {
    match e.part() {
        Some(part) => ApiError::invalid(part.name(), e.reason()),
        None => ApiError::internal(e),
    }
}

/// Saves an edit as a new version and makes it active.
#[utoipa::path(put, path = "/api/system/notification-templates/{id}", operation_id = "template_update", tag = "notifications",
    request_body = EditTemplate,
    responses((status = 200, body = TemplateView), (status = 422, body = super::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<EditTemplate>,
) -> ApiResult<Json<TemplateView>> {
    load(&state, &id).await?;
    check(&input).await?;
    let subject = input.subject.filter(|s| !s.trim().is_empty());
    store::templates::add_version(&state.db, &id, subject.as_deref(), &input.body).await?;
    let (t, v) = load(&state, &id).await?;
    Ok(Json(view(t, v)))
}

/// Every version, newest first.
#[utoipa::path(get, path = "/api/system/notification-templates/{id}/versions", operation_id = "template_versions", tag = "notifications",
    responses((status = 200, body = super::page::Page<TemplateVersion>), (status = 404, body = super::error::ErrorBody)))]
pub async fn versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<super::page::Page<TemplateVersion>>> {
    load(&state, &id).await?;
    Ok(Json(super::page::Page::whole(
        store::templates::versions(&state.db, &id).await?,
    )))
}

#[utoipa::path(get, path = "/api/system/notification-templates/{id}/versions/{version}", operation_id = "template_version",
    tag = "notifications",
    params(("id" = String, Path), ("version" = i64, Path, minimum = 1, description = "A version number, from 1")),
    responses((status = 200, body = TemplateVersion), (status = 404, body = super::error::ErrorBody)))]
pub async fn version(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<TemplateVersion>> {
    load(&state, &id).await?;
    let missing = || ApiError::not_found("template version", &format!("{id}/{version}"));
    // Parsed here, not by the extractor, so a number out of range is the
    // same JSON 404 as any other version that does not exist.
    let number: i64 = version.parse().map_err(|_| missing())?;
    store::templates::version(&state.db, &id, number)
        .await?
        .map(Json)
        .ok_or_else(missing)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revert {
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "super::extract::whole_number")]
    pub version: i64,
}

/// Makes an old version current again, as a new version equal to it
/// (history is never rewritten).
#[utoipa::path(post, path = "/api/system/notification-templates/{id}/revert", operation_id = "template_revert", tag = "notifications",
    request_body = Revert,
    responses((status = 200, body = TemplateView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn revert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<Revert>,
) -> ApiResult<Json<TemplateView>> {
    load(&state, &id).await?;
    let old = store::templates::version(&state.db, &id, input.version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("template version", &format!("{id}/{}", input.version))
        })?;
    store::templates::add_version(&state.db, &id, old.subject.as_deref(), &old.body).await?;
    let (t, v) = load(&state, &id).await?;
    Ok(Json(view(t, v)))
}

/// What a preview rendered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub subject: String,
    pub body: String,
    /// The sample event it was rendered against.
    #[schema(value_type = Object)]
    pub context: Value,
}

/// Renders a template text (not saved) against the sample event; 422
/// naming the part when it does not render.
#[utoipa::path(post, path = "/api/system/notification-templates/preview", operation_id = "template_preview", tag = "notifications",
    request_body = EditTemplate,
    responses((status = 200, body = Preview), (status = 422, body = super::error::ErrorBody)))]
pub async fn preview(ValidJson(input): ValidJson<EditTemplate>) -> ApiResult<Json<Preview>> {
    let rendered = check(&input).await?;
    Ok(Json(Preview {
        subject: rendered.subject,
        body: rendered.body,
        context: notify::context::sample(),
    }))
}
