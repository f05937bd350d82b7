//! Users, roles and API tokens: who may create, change and remove them.
//! The rules live here once, for the API and the command line:
//! - nobody hands out more than they hold (a role or token whose
//!   permissions the actor lacks is refused);
//! - nobody changes their own role;
//! - the last `admin` cannot be removed or demoted;
//! - a password change or a role change ends the user's sessions.

use super::{Actor, UseCaseError};
use crate::auth;
use chrono::{DateTime, Utc};
use dg_core::access::{BuiltInRole, Permission, Permissions};
use dg_core::domain::FieldError;
use dg_store::access::{self as store, ApiToken, RoleRow, User};
use dg_store::Db;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

const ADMIN: &str = BuiltInRole::Admin.name();

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// At least 10 characters; stored as an argon2id hash only.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// A built-in (`admin`, `operator`, `viewer`) or custom role.
    #[schema(min_length = 1, max_length = 100)]
    pub role: String,
}

/// Changes to a user; fields left out stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: Option<String>,
    #[schema(min_length = 10, max_length = 256)]
    pub password: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub role: Option<String>,
}

/// A role as listed: built-in or custom.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Role {
    /// The name for built-in roles, an id for custom ones.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
    pub built_in: bool,
}

/// A custom role, as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
}

/// A new API token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Left out: whatever the owner's role allows when it is used.
    #[serde(default)]
    pub permissions: Option<Vec<Permission>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as listed (its secret is shown once, at creation).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    pub username: String,
    /// `null`: the owner's role.
    pub permissions: Option<Vec<Permission>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A token just created: the secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    /// Send as `Authorization: Bearer TOKEN`. Not shown again.
    pub token: String,
    pub permissions: Option<Vec<Permission>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The permissions of `role`, or a 422 naming `field`.
async fn permissions_of(db: &Db, role: &str, field: &str) -> Result<Permissions, UseCaseError> {
    auth::role_permissions(db, role).await?.ok_or_else(|| {
        UseCaseError::Invalid(FieldError::new(
            field,
            format!("there is no role named `{}`", dg_core::text::shorten(role)),
        ))
    })
}

/// Refuses to hand out what the actor does not hold.
fn within_actor(actor: &Actor, wanted: &Permissions, what: &str) -> Result<(), UseCaseError> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|p| !actor.may(**p))
        .map(|p| p.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(UseCaseError::Forbidden(format!(
            "{what} would hold {}, which {actor} does not have",
            missing.join(", ")
        )))
    }
}

pub async fn create_user(db: &Db, actor: &Actor, new: NewUser) -> Result<User, UseCaseError> {
    actor.require(Permission::UsersManage)?;
    auth::check_username(&new.username)?;
    let permissions = permissions_of(db, &new.role, "role").await?;
    within_actor(actor, &permissions, "that role")?;
    let now = dg_store::now();
    let user = User {
        id: dg_store::new_id(),
        username: new.username,
        password_hash: auth::hash_password(&new.password)?,
        role: new.role,
        oidc_subject: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_user(db, &user).await?;
    tracing::info!(user = %user.username, role = %user.role, "user created by {actor}");
    Ok(user)
}

/// The first administrator, through the one-time setup link; false if a
/// user exists already.
pub async fn create_first_admin(
    db: &Db,
    username: &str,
    password: &str,
) -> Result<Option<User>, UseCaseError> {
    auth::check_username(username)?;
    let now = dg_store::now();
    let user = User {
        id: dg_store::new_id(),
        username: username.to_string(),
        password_hash: auth::hash_password(password)?,
        role: ADMIN.to_string(),
        oidc_subject: None,
        created_at: now,
        updated_at: now,
    };
    Ok(store::insert_first_user(db, &user).await?.then_some(user))
}

pub async fn get_user(db: &Db, actor: &Actor, id: &str) -> Result<User, UseCaseError> {
    actor.require(Permission::UsersManage)?;
    store::user(db, id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("user", id))
}

pub async fn update_user(
    db: &Db,
    actor: &Actor,
    id: &str,
    change: UserChange,
) -> Result<User, UseCaseError> {
    let mut user = get_user(db, actor, id).await?;
    reaches(db, actor, &user).await?;
    let is_self = actor.principal().is_some_and(|p| p.user_id == user.id);
    let mut end_sessions = false;
    if let Some(name) = change.username {
        auth::check_username(&name)?;
        user.username = name;
    }
    if let Some(password) = change.password {
        if is_self {
            return Err(UseCaseError::Forbidden(
                "change your own password with PUT /api/auth/password (it asks for the \
                 current one)"
                    .into(),
            ));
        }
        if actor
            .principal()
            .is_some_and(|p| matches!(p.via, auth::Via::Token { .. }))
        {
            return Err(UseCaseError::Forbidden(
                "passwords are set from a signed-in session or the command line, not with an \
                 API token"
                    .into(),
            ));
        }
        user.password_hash = auth::hash_password(&password)?;
        end_sessions = true;
    }
    if let Some(role) = change.role.filter(|r| *r != user.role) {
        if is_self {
            return Err(UseCaseError::Forbidden(
                "you cannot change your own role; another user with users:manage can".into(),
            ));
        }
        let permissions = permissions_of(db, &role, "role").await?;
        within_actor(actor, &permissions, "that role")?;
        user.role = role;
        end_sessions = true;
    }
    user.updated_at = dg_store::now();
    if !store::update_user_keeping(db, &user, ADMIN).await? {
        return Err(UseCaseError::Conflict(format!(
            "`{}` is the last admin; make another user admin first",
            user.username
        )));
    }
    if end_sessions {
        store::delete_sessions_of(db, &user.id).await?;
    }
    tracing::info!(user = %user.username, "user changed by {actor}");
    Ok(user)
}

/// Users who hold more than the actor are out of the actor's reach: a
/// helpdesk role with `users:manage` alone must not reset an admin's
/// password, demote or remove them.
async fn reaches(db: &Db, actor: &Actor, user: &User) -> Result<(), UseCaseError> {
    let held = auth::role_permissions(db, &user.role)
        .await?
        .unwrap_or_default();
    within_actor(actor, &held, &format!("acting on `{}`", user.username))
}

pub async fn delete_user(db: &Db, actor: &Actor, id: &str) -> Result<(), UseCaseError> {
    let user = get_user(db, actor, id).await?;
    reaches(db, actor, &user).await?;
    match store::delete_user_keeping(db, id, ADMIN).await? {
        Some(true) => {
            tracing::info!(user = %user.username, "user deleted by {actor}");
            Ok(())
        }
        Some(false) => Err(UseCaseError::Conflict(format!(
            "`{}` is the last admin; make another user admin first",
            user.username
        ))),
        None => Err(UseCaseError::not_found("user", id)),
    }
}

fn built_in(role: BuiltInRole) -> Role {
    Role {
        id: role.name().to_string(),
        name: role.name().to_string(),
        description: Some(
            match role {
                BuiltInRole::Admin => "everything",
                BuiltInRole::Operator => {
                    "everything but users, plugins, settings and the audit log"
                }
                BuiltInRole::Viewer => "reads only: no download, restore or explore",
            }
            .to_string(),
        ),
        permissions: role.permissions().into_iter().collect(),
        built_in: true,
    }
}

fn custom(row: RoleRow) -> Role {
    Role {
        id: row.id,
        name: row.name,
        description: row.description,
        permissions: row.permissions.0,
        built_in: false,
    }
}

/// Built-in roles first, then the custom ones by name.
pub async fn roles(db: &Db, actor: &Actor) -> Result<Vec<Role>, UseCaseError> {
    actor.require(Permission::UsersManage)?;
    let mut all: Vec<Role> = BuiltInRole::ALL.iter().copied().map(built_in).collect();
    all.extend(store::roles(db).await?.into_iter().map(custom));
    Ok(all)
}

pub async fn role(db: &Db, actor: &Actor, id: &str) -> Result<Role, UseCaseError> {
    actor.require(Permission::UsersManage)?;
    if let Some(b) = BuiltInRole::by_name(id) {
        return Ok(built_in(b));
    }
    store::role(db, id)
        .await?
        .map(custom)
        .ok_or_else(|| UseCaseError::not_found("role", id))
}

fn check_role_input(input: &RoleInput) -> Result<Permissions, UseCaseError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(FieldError::new("name", "must be 1 to 100 characters").into());
    }
    if BuiltInRole::by_name(name).is_some() {
        return Err(FieldError::new("name", format!("`{name}` is a built-in role")).into());
    }
    Ok(input.permissions.iter().copied().collect())
}

pub async fn create_role(db: &Db, actor: &Actor, input: RoleInput) -> Result<Role, UseCaseError> {
    actor.require(Permission::UsersManage)?;
    let permissions = check_role_input(&input)?;
    within_actor(actor, &permissions, "the role")?;
    let now = dg_store::now();
    let row = RoleRow {
        id: dg_store::new_id(),
        name: input.name.trim().to_string(),
        description: input.description,
        permissions: Json(permissions.into_iter().collect()),
        created_at: now,
        updated_at: now,
    };
    store::insert_role(db, &row).await?;
    Ok(custom(row))
}

pub async fn update_role(
    db: &Db,
    actor: &Actor,
    id: &str,
    input: RoleInput,
) -> Result<Role, UseCaseError> {
    actor.require(Permission::UsersManage)?;
    if BuiltInRole::by_name(id).is_some() {
        return Err(UseCaseError::Conflict(format!(
            "`{id}` is a built-in role and cannot be changed; create a custom one"
        )));
    }
    let mut row = store::role(db, id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("role", id))?;
    let permissions = check_role_input(&input)?;
    within_actor(actor, &permissions, "the role")?;
    let before: Permissions = row.permissions.0.iter().copied().collect();
    within_actor(actor, &before, "the role as it is")?;
    if actor.principal().is_some_and(|p| p.role == row.name) {
        return Err(UseCaseError::Forbidden(
            "you cannot change the role you hold".into(),
        ));
    }
    let old_name = std::mem::replace(&mut row.name, input.name.trim().to_string());
    row.description = input.description;
    row.permissions = Json(permissions.into_iter().collect());
    row.updated_at = dg_store::now();
    store::update_role(db, &old_name, &row).await?;
    Ok(custom(row))
}

pub async fn delete_role(db: &Db, actor: &Actor, id: &str) -> Result<(), UseCaseError> {
    actor.require(Permission::UsersManage)?;
    if BuiltInRole::by_name(id).is_some() {
        return Err(UseCaseError::Conflict(format!(
            "`{id}` is a built-in role and cannot be removed"
        )));
    }
    match store::delete_unused_role(db, id).await? {
        Some(true) => Ok(()),
        Some(false) => Err(UseCaseError::Conflict(
            "users hold this role; give them another role first".into(),
        )),
        None => Err(UseCaseError::not_found("role", id)),
    }
}

/// A token for `owner` (a user the actor is, or any with users:manage).
pub async fn create_token(
    db: &Db,
    actor: &Actor,
    owner: &User,
    new: NewToken,
) -> Result<CreatedToken, UseCaseError> {
    // A token minting tokens would outlive its own expiry and revocation.
    if actor
        .principal()
        .is_some_and(|p| matches!(p.via, auth::Via::Token { .. }))
    {
        return Err(UseCaseError::Forbidden(
            "API tokens are created from a signed-in session or with `dataguardian token \
             create`, not with another token"
                .into(),
        ));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(FieldError::new("name", "must be 1 to 100 characters").into());
    }
    if new.expires_at.is_some_and(|at| at <= dg_store::now()) {
        return Err(FieldError::new("expires_at", "must be in the future").into());
    }
    let wanted: Permissions = match &new.permissions {
        Some(p) => p.iter().copied().collect(),
        None => permissions_of(db, &owner.role, "role").await?,
    };
    within_actor(actor, &wanted, "the token")?;
    let (secret, secret_hash) = auth::new_secret(auth::TOKEN_PREFIX);
    let token = ApiToken {
        id: dg_store::new_id(),
        user_id: owner.id.clone(),
        name: name.to_string(),
        prefix: secret.chars().take(auth::TOKEN_PREFIX.len() + 4).collect(),
        secret_hash,
        permissions: new.permissions.clone().map(|p| {
            let set: Permissions = p.into_iter().collect();
            Json(set.into_iter().collect())
        }),
        expires_at: new.expires_at,
        last_used_at: None,
        created_at: dg_store::now(),
    };
    store::insert_token(db, &token).await?;
    tracing::info!(token = %token.name, user = %owner.username, "token created by {actor}");
    Ok(CreatedToken {
        id: token.id,
        name: token.name,
        token: secret,
        permissions: token.permissions.map(|p| p.0),
        expires_at: token.expires_at,
    })
}

/// Tokens the actor may see: their own, or everyone's with users:manage.
pub async fn tokens(db: &Db, actor: &Actor) -> Result<Vec<TokenView>, UseCaseError> {
    let own = match actor.principal() {
        Some(p) if !p.may(Permission::UsersManage) => Some(p.user_id.clone()),
        _ => None,
    };
    let names = user_names(db).await?;
    Ok(store::tokens(db, own.as_deref())
        .await?
        .into_iter()
        .map(|t| TokenView {
            username: names.get(&t.user_id).cloned().unwrap_or_default(),
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            permissions: t.permissions.map(|p| p.0),
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            created_at: t.created_at,
        })
        .collect())
}

/// Every user's name by id (to name the owners of tokens and sessions).
pub async fn user_names(
    db: &Db,
) -> Result<std::collections::HashMap<String, String>, UseCaseError> {
    let (users, _) = store::users(db, i64::MAX, 0).await?;
    Ok(users.into_iter().map(|u| (u.id, u.username)).collect())
}

/// Revokes a token: the actor's own, or anyone's with users:manage.
pub async fn revoke_token(db: &Db, actor: &Actor, id: &str) -> Result<(), UseCaseError> {
    let token = store::token(db, id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("token", id))?;
    owner_or_manager(actor, &token.user_id, "token", id)?;
    store::delete_token(db, id).await?;
    tracing::info!(token = %token.name, "token revoked by {actor}");
    Ok(())
}

/// Sessions and tokens of others are reached only with users:manage; a
/// 404 (not 403) hides whether they exist.
pub fn owner_or_manager(
    actor: &Actor,
    owner_id: &str,
    what: &'static str,
    id: &str,
) -> Result<(), UseCaseError> {
    match actor.principal() {
        Some(p) if p.user_id != owner_id && !p.may(Permission::UsersManage) => {
            Err(UseCaseError::not_found(what, id))
        }
        _ => Ok(()),
    }
}
