//! `/api/users`, `/api/roles`, `/api/tokens` and `/api/audit-logs`. The
//! rules (nobody hands out more than they hold, the last admin stays)
//! are the use cases'; these handlers only translate.

use super::error::{ApiError, ApiResult};
use super::extract::{RequestActor, ValidJson, ValidQuery};
use super::page::{Page, PageQuery};
use crate::server::state::AppState;
use crate::store::access::{self as store, AuditLog, User};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use dg_app::usecases::access::{
    self as uc, CreatedToken, NewToken, NewUser, Role, RoleInput, TokenView, UserChange,
};
use serde::Deserialize;
use utoipa::IntoParams;

/// Users, by name.
#[utoipa::path(get, path = "/api/users", tag = "access", params(PageQuery),
    responses((status = 200, body = Page<User>)))]
pub async fn list_users(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<User>>> {
    let (limit, offset, page) = q.resolve()?;
    let (rows, total) = store::users(&state.db, limit, offset).await?;
    Ok(Json(Page::new(rows, total, page, limit)))
}

/// A new user with a password (at least 10 characters) and a role.
#[utoipa::path(post, path = "/api/users", tag = "access", request_body = NewUser,
    responses((status = 201, body = User)))]
pub async fn create_user(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    ValidJson(body): ValidJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = uc::create_user(&state.db, &actor, body).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "access",
    responses((status = 200, body = User), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_user(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(uc::get_user(&state.db, &actor, &id).await?))
}

/// Renames, sets a new password or changes the role (not one's own, and
/// never the last admin's); a new password or role ends their sessions.
#[utoipa::path(put, path = "/api/users/{id}", tag = "access", request_body = UserChange,
    responses((status = 200, body = User), (status = 404, body = super::error::ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<UserChange>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let changed: Vec<&str> = [
        ("username", body.username.is_some()),
        ("password", body.password.is_some()),
        ("role", body.role.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, sent)| sent.then_some(field))
    .collect();
    let user = uc::update_user(&state.db, &actor, &id, body).await?;
    let mut response = Json(user).into_response();
    response
        .extensions_mut()
        .insert(super::access::AuditDetails(
            serde_json::json!({ "changed": changed }),
        ));
    Ok(response)
}

/// Removes a user, their sessions and tokens (never the last admin).
#[utoipa::path(delete, path = "/api/users/{id}", tag = "access",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    uc::delete_user(&state.db, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Built-in roles (`admin`, `operator`, `viewer`) and custom ones.
#[utoipa::path(get, path = "/api/roles", tag = "access",
    responses((status = 200, body = Page<Role>)))]
pub async fn list_roles(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
) -> ApiResult<Json<Page<Role>>> {
    Ok(Json(Page::whole(uc::roles(&state.db, &actor).await?)))
}

/// A custom role: a name and its permissions.
#[utoipa::path(post, path = "/api/roles", tag = "access", request_body = RoleInput,
    responses((status = 201, body = Role)))]
pub async fn create_role(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    ValidJson(body): ValidJson<RoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    Ok((
        StatusCode::CREATED,
        Json(uc::create_role(&state.db, &actor, body).await?),
    ))
}

/// A role by id (a built-in role's id is its name).
#[utoipa::path(get, path = "/api/roles/{id}", tag = "access",
    responses((status = 200, body = Role), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<Json<Role>> {
    Ok(Json(uc::role(&state.db, &actor, &id).await?))
}

/// Replaces a custom role; its users keep it under the new name.
#[utoipa::path(put, path = "/api/roles/{id}", tag = "access", request_body = RoleInput,
    responses((status = 200, body = Role), (status = 404, body = super::error::ErrorBody)))]
pub async fn update_role(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RoleInput>,
) -> ApiResult<Json<Role>> {
    Ok(Json(uc::update_role(&state.db, &actor, &id, body).await?))
}

/// Removes a custom role nobody holds.
#[utoipa::path(delete, path = "/api/roles/{id}", tag = "access",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    uc::delete_role(&state.db, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's API tokens (everyone's with `users:manage`), with last use.
#[utoipa::path(get, path = "/api/tokens", tag = "access",
    responses((status = 200, body = Page<TokenView>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
) -> ApiResult<Json<Page<TokenView>>> {
    Ok(Json(Page::whole(uc::tokens(&state.db, &actor).await?)))
}

/// A new API token of the caller, shown once; never more than the
/// caller's own permissions.
#[utoipa::path(post, path = "/api/tokens", tag = "access", request_body = NewToken,
    responses((status = 201, body = CreatedToken)))]
pub async fn create_token(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    ValidJson(body): ValidJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let Some(principal) = actor.principal() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in to create a token",
        ));
    };
    let owner = store::user(&state.db, &principal.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &principal.user_id))?;
    let created = uc::create_token(&state.db, &actor, &owner, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a token: the caller's own, or anyone's with `users:manage`.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "access",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    uc::revoke_token(&state.db, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// A user name: their own actions and their tokens'.
    pub actor: Option<String>,
    /// `datasources.create`, `auth.login_failed`, `backups.restore`, ...
    pub action: Option<String>,
    pub entity_id: Option<String>,
    /// RFC 3339; rows at or after.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339; rows at or before.
    pub to: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/audit-logs", tag = "access", params(AuditQuery),
    responses((status = 200, body = Page<AuditLog>)))]
pub async fn audit_logs(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditLog>>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let query = store::AuditQuery {
        actor: q.actor,
        action: q.action,
        entity_id: q.entity_id,
        from: q.from,
        to: q.to,
    };
    let (rows, total) = store::audit_logs(&state.db, &query, limit, offset).await?;
    Ok(Json(Page::new(rows, total, page, limit)))
}
