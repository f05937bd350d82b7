//! `/api/auth/*`: signing in and out, the first-run setup, the caller's
//! own account and sessions.

use super::access::{audit_row, cookie_value, session_cookie, write_audit, Caller};
use super::error::{ApiError, ApiResult};
use super::extract::{ClientIp, RequestActor, ValidJson};
use super::page::Page;
use crate::auth::{self, Principal, Via};
use crate::server::state::AppState;
use crate::store::access as store;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use dg_core::access::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

// The password must never reach a log line, even through `{:?}`.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The first administrator, with the one-time token the server logged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The `token` of the setup URL in the server's log.
    pub token: String,
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Who the caller is and what they may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub role: String,
    pub permissions: Vec<Permission>,
    /// `session` or `token`.
    pub via: String,
    /// The token's name, when the caller is a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Self {
        let (via, token) = match &p.via {
            Via::Session { .. } => ("session", None),
            Via::Token { name, .. } => ("token", Some(name.clone())),
        };
        Self {
            username: p.username.clone(),
            role: p.role.clone(),
            permissions: p.permissions.iter().copied().collect(),
            via: via.into(),
            token,
        }
    }
}

/// Whether the browser reached us over TLS: `--public-url` is https, or
/// the proxy says so. Cookies then carry `Secure`.
fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The `Set-Cookie` of a new session (or, with `None`, of its end).
fn session_cookie_header(
    state: &AppState,
    headers: &HeaderMap,
    secret: Option<&str>,
) -> HeaderValue {
    let over_tls = over_tls(state, headers);
    let (value, max_age) = match secret {
        Some(s) => (s, state.config.sessions.absolute.as_secs()),
        None => ("", 0),
    };
    let secure = if over_tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}",
        auth::SESSION_COOKIE
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("dg_session=; Max-Age=0; Path=/"))
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong username or password",
    )
}

/// Password checks running at once: each holds argon2's 19 MiB, so a
/// flood of sign-ins queues here instead of exhausting memory.
static VERIFYING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores * 2)
});

/// The key a client is throttled under: its address, IPv6 by /64 (one
/// host holds a whole /64).
fn throttle_key(client: &str) -> String {
    client.parse::<std::net::IpAddr>().map_or_else(
        |_| client.to_string(),
        |ip| super::throttle::ClientAddr::of(ip).0.to_string(),
    )
}

/// Checks a password off the async threads (argon2 takes tens of ms).
async fn password_matches(user: Option<store::User>, password: String) -> Option<store::User> {
    let _permit = VERIFYING.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || match user {
        // Accounts of single sign-on have no password.
        Some(u) if u.password_hash.is_empty() => {
            auth::verify_nothing(&password);
            None
        }
        Some(u) if auth::verify_password(&u.password_hash, &password) => Some(u),
        Some(_) => None,
        None => {
            // Same work for an unknown user as for a wrong password.
            auth::verify_nothing(&password);
            None
        }
    })
    .await
    .ok()
    .flatten()
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A session for `user`: the answer with its cookie and the caller.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    client: &str,
    user: &store::User,
    status: StatusCode,
    action: &str,
) -> ApiResult<Response> {
    let (cookie, me) = open_signed_session(state, headers, client, user, action).await?;
    let mut response = (status, Json(me)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Opens a session for `user` and records the sign-in: the `Set-Cookie`
/// value and who they are.
async fn open_signed_session(
    state: &AppState,
    headers: &HeaderMap,
    client: &str,
    user: &store::User,
    action: &str,
) -> ApiResult<(HeaderValue, Me)> {
    let status = StatusCode::OK;
    let (secret, session) = auth::open_session(
        &state.db,
        user,
        Some(client.to_string()),
        user_agent(headers),
        state.config.sessions,
    )
    .await?;
    let permissions = auth::role_permissions(&state.db, &user.role)
        .await?
        .unwrap_or_default();
    let principal = Principal {
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role.clone(),
        permissions,
        via: Via::Session { id: session.id },
    };
    write_audit(
        state,
        audit_row(
            Some(&principal),
            action,
            Some("users".into()),
            Some(user.id.clone()),
            Some(client.to_string()),
            dg_core::domain::AuditOutcome::Succeeded,
            Some(status),
            serde_json::json!({}),
        ),
    )
    .await;
    Ok((
        session_cookie_header(state, headers, Some(&secret)),
        Me::from(&principal),
    ))
}

/// Sign in: a `dg_session` cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Me, description = "Signed in; the session is in the \
        `dg_session` cookie (HttpOnly, SameSite=Strict, Secure behind https)"),
        (status = 401, body = super::error::ErrorBody, description = "Wrong username or password"),
        (status = 429, body = super::error::ErrorBody, description = "Too many failed sign-ins \
            from this address or for this account; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ValidJson(body): ValidJson<Login>,
) -> ApiResult<Response> {
    if body.password.len() > auth::MAX_PASSWORD_BYTES {
        return Err(invalid_credentials());
    }
    let key = throttle_key(&client);
    if let Err(wait) = state.access.throttle.attempt(&body.username, &key) {
        return Err(ApiError::too_many(
            "too_many_sign_ins",
            "too many failed sign-ins; wait before trying again",
            Some(wait.as_secs().max(1)),
        ));
    }
    // No account has a longer name: no need to look.
    let user = if body.username.len() <= 64 {
        store::user_by_name(&state.db, &body.username).await?
    } else {
        None
    };
    // A name nobody has may be a password typed in the wrong field: it is
    // not recorded.
    let known = user.is_some();
    let Some(user) = password_matches(user, body.password).await else {
        write_audit(
            &state,
            audit_row(
                None,
                "auth.login_failed",
                Some("users".into()),
                None,
                Some(client),
                dg_core::domain::AuditOutcome::Denied,
                Some(StatusCode::UNAUTHORIZED),
                if known {
                    serde_json::json!({ "username": body.username })
                } else {
                    serde_json::json!({ "username": null, "reason": "unknown user" })
                },
            ),
        )
        .await;
        return Err(invalid_credentials());
    };
    state.access.throttle.succeeded(&body.username, &key);
    signed_in(
        &state,
        &headers,
        &client,
        &user,
        StatusCode::OK,
        "auth.login",
    )
    .await
}

/// Sign out: ends the session of the cookie sent, and clears it.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out (also when no session was open)")))]
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(secret) = session_cookie(&headers) {
        if let Some(session) =
            store::session_by_secret(&state.db, &auth::hash_secret(secret)).await?
        {
            store::delete_session(&state.db, &session.id).await?;
            let user = store::user(&state.db, &session.user_id).await?;
            let mut row = audit_row(
                None,
                "auth.logout",
                Some("sessions".into()),
                Some(session.id),
                Some(client),
                dg_core::domain::AuditOutcome::Succeeded,
                Some(StatusCode::NO_CONTENT),
                serde_json::json!({}),
            );
            if let Some(u) = user {
                row.actor_type = dg_core::domain::ActorKind::User;
                row.actor_id = Some(u.id);
                row.actor = u.username;
            }
            write_audit(&state, row).await;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_header(&state, &headers, None),
    );
    Ok(response)
}

/// The first administrator, with the one-time token the server logs when
/// it starts without any user; signs them in.
#[utoipa::path(post, path = "/api/auth/setup", tag = "auth", request_body = Setup,
    responses((status = 201, body = Me, description = "Created and signed in"),
        (status = 401, body = super::error::ErrorBody, description = "Unknown or used setup token"),
        (status = 409, body = super::error::ErrorBody, description = "A user exists already")))]
pub async fn setup(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ValidJson(body): ValidJson<Setup>,
) -> ApiResult<Response> {
    if !state.access.take_setup_token(&body.token) {
        let mut refused = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_setup_token",
            "the setup token is unknown or was used; the server logs a new one when it starts \
             without users, or create the admin with `dataguardian admin create`",
        );
        refused.field = Some("token".into());
        return Err(refused);
    }
    let created =
        dg_app::usecases::access::create_first_admin(&state.db, &body.username, &body.password)
            .await;
    let user = match created {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Err(ApiError::conflict(
                "an administrator exists already; sign in instead",
            ))
        }
        Err(e) => {
            // A refused name or password does not use the token up.
            state.access.restore_setup_token(&body.token);
            return Err(e.into());
        }
    };
    signed_in(
        &state,
        &headers,
        &client,
        &user,
        StatusCode::CREATED,
        "auth.setup",
    )
    .await
}

/// The caller: name, role and permissions.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", responses((status = 200, body = Me)))]
pub async fn me(Extension(Caller(principal)): Extension<Caller>) -> Json<Me> {
    Json(Me::from(principal.as_ref()))
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub username: String,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session this request came with.
    pub current: bool,
}

/// The caller's sessions (everyone's with `users:manage`).
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth",
    responses((status = 200, body = Page<SessionView>)))]
pub async fn sessions(
    State(state): State<AppState>,
    Extension(Caller(principal)): Extension<Caller>,
) -> ApiResult<Json<Page<SessionView>>> {
    let own = (!principal.may(Permission::UsersManage)).then_some(principal.user_id.as_str());
    let current = match &principal.via {
        Via::Session { id } => Some(id.as_str()),
        Via::Token { .. } => None,
    };
    let names = dg_app::usecases::access::user_names(&state.db).await?;
    let rows = store::sessions(&state.db, own).await?;
    let data = rows
        .into_iter()
        .map(|s| SessionView {
            current: current == Some(s.id.as_str()),
            username: names.get(&s.user_id).cloned().unwrap_or_default(),
            id: s.id,
            client: s.client,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        })
        .collect();
    Ok(Json(Page::whole(data)))
}

/// Ends a session: the caller's own, or anyone's with `users:manage`.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let session = store::session(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("session", &id))?;
    dg_app::usecases::access::owner_or_manager(&actor, &session.user_id, "session", &id)?;
    store::delete_session(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How one may sign in here.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInOptions {
    /// Local accounts (`POST /api/auth/login`): always.
    pub password: bool,
    /// Single sign-on: `GET /api/auth/oidc/login` starts it.
    pub oidc: bool,
    /// True while no user exists: the first admin is made with the setup
    /// token the server logged (`POST /api/auth/setup`).
    pub setup_required: bool,
    /// Whether this request carries a valid session or token: the UI asks
    /// here first, so a visitor who is not signed in costs no 401 (which
    /// browsers log as an error).
    pub signed_in: bool,
}

/// The sign-in methods this server offers (for the sign-in page).
#[utoipa::path(get, path = "/api/auth/options", tag = "auth",
    responses((status = 200, body = SignInOptions)))]
pub async fn options(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<SignInOptions>> {
    let signed_in = matches!(
        super::access::principal_of(&state, &headers).await,
        Ok(Some(_))
    );
    Ok(Json(SignInOptions {
        password: true,
        oidc: state.oidc.is_some(),
        setup_required: store::count_users(&state.db).await? == 0,
        signed_in,
    }))
}

fn oidc_of(state: &AppState) -> ApiResult<&dg_app::oidc::Oidc> {
    state.oidc.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "sso_not_configured",
            "single sign-on is not configured on this server (--oidc-issuer)",
        )
    })
}

fn oidc_failed(e: dg_app::oidc::OidcError) -> ApiError {
    use dg_app::oidc::OidcError;
    let message = e.to_string();
    match e {
        OidcError::Provider(_) => ApiError::bad_gateway(message),
        OidcError::UnknownState => {
            ApiError::new(StatusCode::BAD_REQUEST, "sso_state_unknown", message)
        }
        OidcError::Refused(_) => ApiError::new(StatusCode::UNAUTHORIZED, "sso_refused", message),
        OidcError::Unverified(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "sso_unverified", message)
        }
        OidcError::NoRole(_) => ApiError::new(StatusCode::FORBIDDEN, "sso_no_role", message),
    }
}

/// Starts single sign-on: a redirect to the identity provider.
#[utoipa::path(get, path = "/api/auth/oidc/login", tag = "auth",
    responses((status = 303, description = "To the identity provider's sign-in page"),
        (status = 404, body = super::error::ErrorBody, description = "Single sign-on is not configured"),
        (status = 502, body = super::error::ErrorBody, description = "The provider could not be reached")))]
pub async fn oidc_login(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let (url, sign_in) = oidc_of(&state)?.start().await.map_err(oidc_failed)?;
    let location = HeaderValue::from_str(&url).map_err(ApiError::internal)?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(
        header::SET_COOKIE,
        oidc_state_cookie(&state, &headers, Some(&sign_in)),
    );
    Ok(response)
}

/// The cookie that ties a sign-on to the browser that started it: a
/// callback URL someone else started (login CSRF) lacks it. `Lax`, since
/// the provider's redirect back is a cross-site navigation.
const OIDC_STATE_COOKIE: &str = "dg_oidc_state";

fn oidc_state_cookie(state: &AppState, headers: &HeaderMap, value: Option<&str>) -> HeaderValue {
    let secure = over_tls(state, headers);
    let (value, max_age) = value.map_or(("", 0), |v| (v, 600));
    HeaderValue::from_str(&format!(
        "{OIDC_STATE_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/api/auth/oidc; \
         Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("dg_oidc_state=; Max-Age=0"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OidcCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the user or the provider refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the identity provider sends the user back: verifies the answer,
/// finds or makes the account, signs in and redirects to the UI.
#[utoipa::path(get, path = "/api/auth/oidc/callback", tag = "auth", params(OidcCallback),
    responses((status = 303, description = "Signed in (`dg_session` cookie); to `/`"),
        (status = 400, body = super::error::ErrorBody, description = "Unknown or expired sign-in"),
        (status = 401, body = super::error::ErrorBody, description = "The provider refused or its ID token did not verify"),
        (status = 403, body = super::error::ErrorBody, description = "No role is mapped for this account"),
        (status = 404, body = super::error::ErrorBody, description = "Single sign-on is not configured"),
        (status = 409, body = super::error::ErrorBody, description = "A local account has this name"),
        (status = 429, body = super::error::ErrorBody, description = "Too many failed sign-ons from this address; see Retry-After"),
        (status = 502, body = super::error::ErrorBody, description = "The provider could not be reached")))]
pub async fn oidc_callback(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    super::extract::ValidQuery(q): super::extract::ValidQuery<OidcCallback>,
) -> ApiResult<Response> {
    let oidc = oidc_of(&state)?;
    if let Some(error) = q.error {
        // The provider (or whoever built this URL) says no; nothing of
        // ours was at stake, nothing is recorded.
        let reason = match q.error_description {
            Some(d) => format!("{error}: {d}"),
            None => error,
        };
        return Err(oidc_failed(dg_app::oidc::OidcError::Refused(
            dg_core::text::shorten(&reason),
        )));
    }
    let (Some(code), Some(sign_in)) = (q.code, q.state) else {
        return Err(ApiError::invalid(
            "code",
            "the provider sent no code and state",
        ));
    };
    // The browser that started this sign-on brings its state back.
    if cookie_value(&headers, OIDC_STATE_COOKIE) != Some(sign_in.as_str()) {
        return Err(oidc_failed(dg_app::oidc::OidcError::UnknownState));
    }
    let key = throttle_key(&client);
    if let Err(wait) = state.access.throttle.attempt("(single sign-on)", &key) {
        return Err(ApiError::too_many(
            "too_many_sign_ins",
            "too many failed sign-ins; wait before trying again",
            Some(wait.as_secs().max(1)),
        ));
    }
    let outcome = async {
        let identity = oidc.finish(&sign_in, &code).await.map_err(oidc_failed)?;
        sso_account(&state, identity).await
    }
    .await;
    let user = match outcome {
        Ok(user) => user,
        Err(e) => {
            write_audit(
                &state,
                audit_row(
                    None,
                    "auth.login_failed",
                    Some("users".into()),
                    None,
                    Some(client),
                    dg_core::domain::AuditOutcome::Denied,
                    Some(e.status),
                    serde_json::json!({ "via": "oidc", "reason": dg_core::text::shorten(&e.message) }),
                ),
            )
            .await;
            return Err(e);
        }
    };
    state.access.throttle.succeeded("(single sign-on)", &key);
    let (cookie, _) = open_signed_session(&state, &headers, &client, &user, "auth.login").await?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response.headers_mut().append(
        header::SET_COOKIE,
        oidc_state_cookie(&state, &headers, None),
    );
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    Ok(response)
}

/// The account of a sign-on identity: found by `ISSUER#SUBJECT` (its role
/// following the provider's claim), or made; never a local account that
/// happens to have the same name.
async fn sso_account(state: &AppState, identity: dg_app::oidc::Identity) -> ApiResult<store::User> {
    if auth::role_permissions(&state.db, &identity.role)
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "sso_no_role",
            format!(
                "the role `{}` mapped for this account does not exist; check --oidc-role-map",
                identity.role
            ),
        ));
    }
    let now = crate::store::now();
    if let Some(mut user) = store::user_by_oidc_subject(&state.db, &identity.key).await? {
        if user.role != identity.role {
            let before = std::mem::replace(&mut user.role, identity.role);
            user.updated_at = now;
            if !store::update_user_keeping(&state.db, &user, "admin").await? {
                // The provider demoted the last admin: they stay admin
                // until another is made, and the log says why.
                tracing::warn!(
                    user = %user.username,
                    "single sign-on would demote the last admin to `{}`; kept `admin`",
                    user.role
                );
                user.role = before;
            }
        }
        return Ok(user);
    }
    let user = store::User {
        id: crate::store::new_id(),
        username: identity.username,
        password_hash: String::new(),
        role: identity.role,
        oidc_subject: Some(identity.key),
        created_at: now,
        updated_at: now,
    };
    store::insert_user(&state.db, &user)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict { .. } => ApiError::conflict(format!(
                "an account named `{}` exists already and is not this sign-on's; an administrator \
             must rename one of them",
                user.username
            )),
            other => other.into(),
        })?;
    tracing::info!(user = %user.username, role = %user.role, "account made by single sign-on");
    Ok(user)
}

/// A change of one's own password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

/// Changes the caller's own password (their current one is asked again);
/// ends every session of theirs and opens a new one for this browser.
#[utoipa::path(put, path = "/api/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = Me, description = "Changed; a new `dg_session` cookie"),
        (status = 401, body = super::error::ErrorBody, description = "The current password is wrong"),
        (status = 429, body = super::error::ErrorBody, description = "Too many wrong current passwords")))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Extension(Caller(principal)): Extension<Caller>,
    ValidJson(body): ValidJson<PasswordChange>,
) -> ApiResult<Response> {
    // A stolen session must not be enough to lock its owner out: the
    // current password is asked, and guessing it is throttled as sign-in is.
    let key = throttle_key(&client);
    if let Err(wait) = state.access.throttle.attempt(&principal.username, &key) {
        return Err(ApiError::too_many(
            "too_many_sign_ins",
            "too many wrong passwords; wait before trying again",
            Some(wait.as_secs().max(1)),
        ));
    }
    auth::check_password(&body.new_password)
        .map_err(|e| ApiError::invalid("new_password", e.message))?;
    let user = store::user(&state.db, &principal.user_id).await?;
    let Some(mut user) = password_matches(user, body.current_password).await else {
        write_audit(
            &state,
            audit_row(
                Some(&principal),
                "auth.password_change_failed",
                Some("users".into()),
                Some(principal.user_id.clone()),
                Some(client),
                dg_core::domain::AuditOutcome::Denied,
                Some(StatusCode::UNAUTHORIZED),
                serde_json::json!({ "reason": "wrong current password" }),
            ),
        )
        .await;
        return Err(ApiError {
            field: Some("current_password".into()),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "current_password: wrong password",
            )
        });
    };
    state.access.throttle.succeeded(&principal.username, &key);
    let new_password = body.new_password;
    user.password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&new_password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::field)?;
    user.updated_at = crate::store::now();
    store::update_user(&state.db, &user).await?;
    store::delete_sessions_of(&state.db, &user.id).await?;
    signed_in(
        &state,
        &headers,
        &client,
        &user,
        StatusCode::OK,
        "auth.password_changed",
    )
    .await
}
