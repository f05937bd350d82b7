//! `users`, `roles`, `sessions`, `api_tokens` and `audit_logs`. Session
//! and token secrets arrive here hashed; a user's role is stored by name
//! (a built-in one or a row of `roles`).

use crate::{now, with_pool, Db, Filter, StoreError};
use chrono::{DateTime, Utc};
use dg_core::access::Permission;
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;

/// A person who signs in. The password hash never leaves the store.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    /// The name of a built-in or custom role.
    pub role: String,
    /// `ISSUER#SUBJECT` when the account signs in through single sign-on.
    pub oidc_subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A custom role.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Json<Vec<Permission>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub secret_hash: String,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end; the idle end is `last_seen_at` plus the idle
    /// limit, which is configuration, not data.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the token, to recognise it in a list.
    pub prefix: String,
    pub secret_hash: String,
    /// `None`: whatever the owner's role allows at the time of use.
    pub permissions: Option<Json<Vec<Permission>>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One line of the audit log.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct AuditLog {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub actor_type: dg_core::domain::ActorKind,
    /// The user's id (for a token, its owner's).
    pub actor_id: Option<String>,
    /// Who, readable: `alice`, `alice (token ci)`.
    pub actor: String,
    /// `datasources.create`, `auth.login`, `backups.restore`, ...
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// The client address of the request.
    pub client: Option<String>,
    pub outcome: dg_core::domain::AuditOutcome,
    /// The HTTP status answered, when the action came over the API.
    pub status: Option<i64>,
    #[schema(value_type = Object)]
    pub details: Json<serde_json::Value>,
}

fn conflict(what: String, field: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::classify(e, Some(field), &what)
}

// ---- users ----

pub async fn insert_user(db: &Db, u: &User) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at, updated_at,
             oidc_subject) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.role)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(&u.oidc_subject)
        .execute(p)
        .await
        .map_err(conflict(
            format!("a user named `{}`", u.username),
            "username",
        ))?;
    });
    Ok(())
}

/// Creates the first user only while there is none (the setup link).
/// False if a user exists already.
pub async fn insert_first_user(db: &Db, u: &User) -> Result<bool, StoreError> {
    let n = with_pool!(db, |p| sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM users)",
    )
    .bind(&u.id)
    .bind(&u.username)
    .bind(&u.password_hash)
    .bind(&u.role)
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(p)
    .await
    .map_err(conflict(
        format!("a user named `{}`", u.username),
        "username"
    ))?
    .rows_affected());
    Ok(n == 1)
}

pub async fn update_user(db: &Db, u: &User) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "UPDATE users SET username = $2, password_hash = $3, role = $4, updated_at = $5
             WHERE id = $1",
        )
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.role)
        .bind(u.updated_at)
        .execute(p)
        .await
        .map_err(conflict(
            format!("a user named `{}`", u.username),
            "username",
        ))?;
    });
    Ok(())
}

pub async fn user(db: &Db, id: &str) -> Result<Option<User>, StoreError> {
    crate::by_id(db, "users", id).await
}

/// The account single sign-on made for `ISSUER#SUBJECT`.
pub async fn user_by_oidc_subject(db: &Db, subject: &str) -> Result<Option<User>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, User>(
        "SELECT * FROM users WHERE oidc_subject = $1"
    )
    .bind(subject)
    .fetch_optional(p)
    .await?))
}

pub async fn user_by_name(db: &Db, username: &str) -> Result<Option<User>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, User>(
        "SELECT * FROM users WHERE username = $1"
    )
    .bind(username)
    .fetch_optional(p)
    .await?))
}

pub async fn users(db: &Db, limit: i64, offset: i64) -> Result<(Vec<User>, i64), StoreError> {
    crate::page(
        db,
        "users",
        "username, id",
        &Filter::default(),
        limit,
        offset,
    )
    .await
}

pub async fn count_users(db: &Db) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM users"
    )
    .fetch_one(p)
    .await?))
}

/// The lock every change that could leave a role without holders takes on
/// PostgreSQL (a transaction-scoped advisory lock): there, a statement's
/// `COUNT(*)` sees its snapshot, so two demotions at once could each see
/// the other admin. SQLite runs write statements one at a time already.
const HOLDERS_LOCK: i64 = 0x6467_6164_6d69;

/// Runs `sql` (which binds `$1` = the user id, `$2` = the guarded role,
/// then `extra`) serialized against other such changes; rows affected.
async fn guarded(
    db: &Db,
    sql: &str,
    id: &str,
    guarded_role: &str,
    extra: &[Option<String>],
    times: &[DateTime<Utc>],
) -> Result<u64, StoreError> {
    match db.pool() {
        crate::Pool::Sqlite(p) => {
            let mut q = sqlx::query(sql).bind(id).bind(guarded_role);
            for e in extra {
                q = q.bind(e.clone());
            }
            for t in times {
                q = q.bind(*t);
            }
            Ok(q.execute(p).await?.rows_affected())
        }
        crate::Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(HOLDERS_LOCK)
                .execute(&mut *tx)
                .await?;
            let mut q = sqlx::query(sql).bind(id).bind(guarded_role);
            for e in extra {
                q = q.bind(e.clone());
            }
            for t in times {
                q = q.bind(*t);
            }
            let n = q.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(n)
        }
    }
}

/// Deletes a user unless that would leave `guarded_role` with no holder
/// (the last admin); `Ok(None)` when there was no such user.
pub async fn delete_user_keeping(
    db: &Db,
    id: &str,
    guarded_role: &str,
) -> Result<Option<bool>, StoreError> {
    let n = guarded(
        db,
        "DELETE FROM users WHERE id = $1 AND (role <> $2
           OR (SELECT COUNT(*) FROM users WHERE role = $2) > 1)",
        id,
        guarded_role,
        &[],
        &[],
    )
    .await?;
    if n == 1 {
        return Ok(Some(true));
    }
    Ok(user(db, id).await?.map(|_| false))
}

/// Saves a changed user unless that would take `guarded_role` from its
/// last holder; false when it would (nothing is written).
pub async fn update_user_keeping(
    db: &Db,
    u: &User,
    guarded_role: &str,
) -> Result<bool, StoreError> {
    let n = guarded(
        db,
        "UPDATE users SET username = $3, password_hash = $4, role = $5, updated_at = $6
         WHERE id = $1 AND ($5 = $2 OR role <> $2
           OR (SELECT COUNT(*) FROM users WHERE role = $2) > 1)",
        &u.id,
        guarded_role,
        &[
            Some(u.username.clone()),
            Some(u.password_hash.clone()),
            Some(u.role.clone()),
        ],
        &[u.updated_at],
    )
    .await
    .map_err(|e| match e {
        StoreError::Sql(e) => conflict(format!("a user named `{}`", u.username), "username")(e),
        other => other,
    })?;
    Ok(n == 1)
}

// ---- roles ----

pub async fn insert_role(db: &Db, r: &RoleRow) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO roles (id, name, description, permissions, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.permissions)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(p)
        .await
        .map_err(conflict(format!("a role named `{}`", r.name), "name"))?;
    });
    Ok(())
}

/// Saves a role; a new name is carried to the users holding the old one,
/// in the same transaction.
pub async fn update_role(db: &Db, old_name: &str, r: &RoleRow) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        sqlx::query(
            "UPDATE roles SET name = $2, description = $3, permissions = $4, updated_at = $5
             WHERE id = $1",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.permissions)
        .bind(r.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict(format!("a role named `{}`", r.name), "name"))?;
        sqlx::query("UPDATE users SET role = $2 WHERE role = $1")
            .bind(old_name)
            .bind(&r.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

pub async fn role(db: &Db, id: &str) -> Result<Option<RoleRow>, StoreError> {
    crate::by_id(db, "roles", id).await
}

pub async fn role_by_name(db: &Db, name: &str) -> Result<Option<RoleRow>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, RoleRow>(
        "SELECT * FROM roles WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await?))
}

pub async fn roles(db: &Db) -> Result<Vec<RoleRow>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, RoleRow>(
        "SELECT * FROM roles ORDER BY name"
    )
    .fetch_all(p)
    .await?))
}

/// Deletes a role no user holds; `Ok(None)` when there was no such role.
pub async fn delete_unused_role(db: &Db, id: &str) -> Result<Option<bool>, StoreError> {
    let n = with_pool!(db, |p| sqlx::query(
        "DELETE FROM roles WHERE id = $1
         AND NOT EXISTS (SELECT 1 FROM users WHERE users.role = roles.name)"
    )
    .bind(id)
    .execute(p)
    .await?
    .rows_affected());
    if n == 1 {
        return Ok(Some(true));
    }
    Ok(role(db, id).await?.map(|_| false))
}

// ---- sessions ----

pub async fn insert_session(db: &Db, s: &Session) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, secret_hash, client, user_agent, created_at,
             last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.secret_hash)
        .bind(&s.client)
        .bind(&s.user_agent)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(p)
        .await?;
    });
    Ok(())
}

pub async fn session_by_secret(db: &Db, secret_hash: &str) -> Result<Option<Session>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Session>(
        "SELECT * FROM sessions WHERE secret_hash = $1"
    )
    .bind(secret_hash)
    .fetch_optional(p)
    .await?))
}

pub async fn touch_session(db: &Db, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(p)
            .await?;
    });
    Ok(())
}

pub async fn session(db: &Db, id: &str) -> Result<Option<Session>, StoreError> {
    crate::by_id(db, "sessions", id).await
}

/// Sessions of one user, or of everyone, newest first.
pub async fn sessions(db: &Db, user_id: Option<&str>) -> Result<Vec<Session>, StoreError> {
    let sql = match user_id {
        Some(_) => "SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id",
        None => "SELECT * FROM sessions ORDER BY created_at DESC, id",
    };
    let mut rows = with_pool!(db, |p| {
        let q = sqlx::query_as::<_, Session>(sql);
        match user_id {
            Some(u) => q.bind(u).fetch_all(p).await?,
            None => q.fetch_all(p).await?,
        }
    });
    rows.shrink_to_fit();
    Ok(rows)
}

pub async fn delete_session(db: &Db, id: &str) -> Result<bool, StoreError> {
    crate::delete_by_id(db, "sessions", id, "a session").await
}

/// Ends every session of a user (password changed, role changed).
pub async fn delete_sessions_of(db: &Db, user_id: &str) -> Result<u64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(p)
    .await?
    .rows_affected()))
}

/// Removes sessions past their absolute end or idle since before
/// `idle_since`.
pub async fn delete_expired_sessions(
    db: &Db,
    idle_since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2"
    )
    .bind(now())
    .bind(idle_since)
    .execute(p)
    .await?
    .rows_affected()))
}

// ---- tokens ----

pub async fn insert_token(db: &Db, t: &ApiToken) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, prefix, secret_hash, permissions,
             expires_at, last_used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.name)
        .bind(&t.prefix)
        .bind(&t.secret_hash)
        .bind(&t.permissions)
        .bind(t.expires_at)
        .bind(t.last_used_at)
        .bind(t.created_at)
        .execute(p)
        .await
        .map_err(conflict(format!("a token named `{}`", t.name), "name"))?;
    });
    Ok(())
}

pub async fn token_by_secret(db: &Db, secret_hash: &str) -> Result<Option<ApiToken>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, ApiToken>(
        "SELECT * FROM api_tokens WHERE secret_hash = $1"
    )
    .bind(secret_hash)
    .fetch_optional(p)
    .await?))
}

pub async fn touch_token(db: &Db, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(p)
            .await?;
    });
    Ok(())
}

pub async fn token(db: &Db, id: &str) -> Result<Option<ApiToken>, StoreError> {
    crate::by_id(db, "api_tokens", id).await
}

/// Tokens of one user, or of everyone, newest first.
pub async fn tokens(db: &Db, user_id: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
    let sql = match user_id {
        Some(_) => "SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id",
        None => "SELECT * FROM api_tokens ORDER BY created_at DESC, id",
    };
    let mut rows = with_pool!(db, |p| {
        let q = sqlx::query_as::<_, ApiToken>(sql);
        match user_id {
            Some(u) => q.bind(u).fetch_all(p).await?,
            None => q.fetch_all(p).await?,
        }
    });
    rows.shrink_to_fit();
    Ok(rows)
}

pub async fn delete_token(db: &Db, id: &str) -> Result<bool, StoreError> {
    crate::delete_by_id(db, "api_tokens", id, "a token").await
}

// ---- audit ----

pub async fn insert_audit(db: &Db, a: &AuditLog) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO audit_logs (id, created_at, actor_type, actor_id, actor, action,
             entity_type, entity_id, client, outcome, status, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&a.id)
        .bind(a.created_at)
        .bind(a.actor_type)
        .bind(&a.actor_id)
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.entity_type)
        .bind(&a.entity_id)
        .bind(&a.client)
        .bind(a.outcome)
        .bind(a.status)
        .bind(&a.details)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// What the audit log is searched by.
#[derive(Debug, Default)]
pub struct AuditQuery {
    /// A user name (`alice` matches her own actions and her tokens').
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub async fn audit_logs(
    db: &Db,
    q: &AuditQuery,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditLog>, i64), StoreError> {
    use crate::Param;
    let mut f = Filter::default();
    if let Some(actor) = &q.actor {
        // By name, or by the id of the user holding it now (their
        // tokens' rows name the token too).
        f.push(
            "(actor = ? OR actor_id IN (SELECT id FROM users WHERE username = ?))",
            Param::Text(actor.clone()),
        );
    }
    if let Some(action) = &q.action {
        f.push("action = ?", Param::Text(action.clone()));
    }
    if let Some(id) = &q.entity_id {
        f.push("entity_id = ?", Param::Text(id.clone()));
    }
    if let Some(from) = q.from {
        f.push("created_at >= ?", Param::Time(from));
    }
    if let Some(to) = q.to {
        f.push("created_at <= ?", Param::Time(to));
    }
    crate::page(
        db,
        "audit_logs",
        "created_at DESC, id DESC",
        &f,
        limit,
        offset,
    )
    .await
}
