//! Who is calling: passwords (argon2id), the random secrets behind session
//! cookies and API tokens (stored as SHA-256 hashes, compared by hash
//! lookup), the [`Principal`] a request acts as, and the sign-in throttle.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use chrono::{DateTime, Utc};
use dg_core::access::{BuiltInRole, Permission, Permissions};
use dg_core::domain::FieldError;
use dg_store::access as store;
use dg_store::{Db, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name (seed: `dg_session`).
pub const SESSION_COOKIE: &str = "dg_session";
/// Every API token starts with this, so secret scanners can find leaked
/// ones.
pub const TOKEN_PREFIX: &str = "dgt_";
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (hashing cost stays bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The longest password, in characters (at most 4 bytes each: within
/// [`MAX_PASSWORD_BYTES`]).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// `last_seen_at`/`last_used_at` are written at most this often.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// How sessions end.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Unused this long, a session ends.
    pub idle: Duration,
    /// Whatever the use, a session ends this long after sign-in.
    pub absolute: Duration,
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session { id: String },
    Token { id: String, name: String },
}

/// A signed-in user, or a token acting for one, with what it may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub role: String,
    /// For a token: its own permissions within its owner's current role.
    pub permissions: Permissions,
    pub via: Via,
}

impl Principal {
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// `alice`, or `alice (token ci)`.
    pub fn describe(&self) -> String {
        match &self.via {
            Via::Session { .. } => self.username.clone(),
            Via::Token { name, .. } => format!("{} (token {name})", self.username),
        }
    }
}

/// The permissions of role `name`, built-in or custom; `None` if there is
/// no such role.
pub async fn role_permissions(db: &Db, name: &str) -> Result<Option<Permissions>, StoreError> {
    if let Some(role) = BuiltInRole::by_name(name) {
        return Ok(Some(role.permissions()));
    }
    Ok(store::role_by_name(db, name)
        .await?
        .map(|r| r.permissions.0.into_iter().collect()))
}

/// An argon2id hash of `password` (PHC string, salt inside).
pub fn hash_password(password: &str) -> Result<String, FieldError> {
    check_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| FieldError::new("password", format!("cannot be hashed: {e}")))
}

/// The password rules, naming the field.
pub fn check_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// User names: 1–64 letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "username",
            "must be 1 to 64 letters, digits, `.`, `_`, `-` or `@`",
        ))
    }
}

/// Whether `password` matches `hash` (argon2's comparison is constant
/// time).
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time of one verification on a hash no password matches, so
/// an unknown user takes as long to refuse as a wrong password.
pub fn verify_nothing(password: &str) {
    static DECOY: LazyLock<String> = LazyLock::new(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no password matches this decoy", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let _ = verify_password(&DECOY, password);
}

/// A new random secret (256 bits, base64url) after `prefix`, and its hash.
pub fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_secret(&secret);
    (secret, hash)
}

/// The stored form of a session or token secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The principal of a session cookie, if it is valid now.
pub async fn from_session(
    db: &Db,
    secret: &str,
    policy: SessionPolicy,
) -> Result<Option<Principal>, StoreError> {
    let Some(session) = store::session_by_secret(db, &hash_secret(secret)).await? else {
        return Ok(None);
    };
    let now = dg_store::now();
    let idle = chrono::Duration::from_std(policy.idle).unwrap_or(chrono::Duration::hours(8));
    if session.expires_at <= now || session.last_seen_at + idle <= now {
        store::delete_session(db, &session.id).await?;
        return Ok(None);
    }
    let Some(user) = store::user(db, &session.user_id).await? else {
        return Ok(None);
    };
    let Some(permissions) = role_permissions(db, &user.role).await? else {
        return Ok(None);
    };
    // Touched at most once a minute (a write per request would be a
    // write per page view), and often enough that a short idle limit holds.
    if now - session.last_seen_at > TOUCH_EVERY.min(idle / 4) {
        store::touch_session(db, &session.id, now).await?;
    }
    Ok(Some(Principal {
        user_id: user.id,
        username: user.username,
        role: user.role,
        permissions,
        via: Via::Session { id: session.id },
    }))
}

/// The principal of an API token, if it is valid now.
pub async fn from_token(db: &Db, secret: &str) -> Result<Option<Principal>, StoreError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(token) = store::token_by_secret(db, &hash_secret(secret)).await? else {
        return Ok(None);
    };
    let now = dg_store::now();
    if token.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let Some(user) = store::user(db, &token.user_id).await? else {
        return Ok(None);
    };
    let Some(role) = role_permissions(db, &user.role).await? else {
        return Ok(None);
    };
    let permissions = match &token.permissions {
        Some(own) => own.0.iter().copied().filter(|p| role.contains(p)).collect(),
        None => role,
    };
    if token.last_used_at.is_none_or(|at| now - at > TOUCH_EVERY) {
        store::touch_token(db, &token.id, now).await?;
    }
    Ok(Some(Principal {
        user_id: user.id,
        username: user.username,
        role: user.role,
        permissions,
        via: Via::Token {
            id: token.id,
            name: token.name,
        },
    }))
}

/// A new session for `user`: its cookie secret and row.
pub async fn open_session(
    db: &Db,
    user: &store::User,
    client: Option<String>,
    user_agent: Option<String>,
    policy: SessionPolicy,
) -> Result<(String, store::Session), StoreError> {
    let (secret, secret_hash) = new_secret("");
    let now = dg_store::now();
    let session = store::Session {
        id: dg_store::new_id(),
        user_id: user.id.clone(),
        secret_hash,
        client,
        user_agent: user_agent.map(|a| dg_core::text::shorten(&a)),
        created_at: now,
        last_seen_at: now,
        expires_at: now
            + chrono::Duration::from_std(policy.absolute).unwrap_or(chrono::Duration::days(7)),
    };
    store::insert_session(db, &session).await?;
    Ok((secret, session))
}

/// Failed sign-ins remembered per account and address, and per address.
/// In memory: each node counts its own (a cluster behind one balancer
/// allows as many tries per node).
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// Failed sign-ins one address may make for one account per window.
pub const FAILURES_PER_ACCOUNT: usize = 10;
/// Failed sign-ins one address may make for all accounts per window.
pub const FAILURES_PER_ADDRESS: usize = 30;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered at most; past it the oldest are pruned.
const MAX_KEYS: usize = 65_536;

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl LoginThrottle {
    fn keys(username: &str, client: &str) -> [(String, usize); 2] {
        // A name longer than any account's is cut: keys stay small.
        let username: String = username.chars().take(64).collect();
        [
            (format!("{client}\u{0}{username}"), FAILURES_PER_ACCOUNT),
            (client.to_string(), FAILURES_PER_ADDRESS),
        ]
    }

    /// One sign-in attempt, counted as a failure before the password is
    /// checked (so attempts sent in parallel cannot all pass the check
    /// before any is counted); [`Self::succeeded`] takes it back.
    /// `Err(wait)` when the limit is reached.
    pub fn attempt(&self, username: &str, client: &str) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::wait_in(&map, username, client)?;
        Self::record_in(&mut map, username, client);
        Ok(())
    }

    /// `Err(wait)` when this address has failed too often for this account
    /// (or for all accounts) within the window.
    fn wait_in(
        map: &HashMap<String, Vec<Instant>>,
        username: &str,
        client: &str,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        let mut wait = None;
        for (key, limit) in Self::keys(username, client) {
            let Some(times) = map.get(&key) else { continue };
            let recent: Vec<&Instant> = times
                .iter()
                .filter(|t| now.duration_since(**t) < THROTTLE_WINDOW)
                .collect();
            if recent.len() >= limit {
                let oldest = recent[recent.len() - limit];
                let left = THROTTLE_WINDOW.saturating_sub(now.duration_since(*oldest));
                wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
            }
        }
        wait.map_or(Ok(()), Err)
    }

    fn record_in(map: &mut HashMap<String, Vec<Instant>>, username: &str, client: &str) {
        let now = Instant::now();
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| {
                times.retain(|t| now.duration_since(*t) < THROTTLE_WINDOW);
                !times.is_empty()
            });
        }
        for (key, _) in Self::keys(username, client) {
            let times = map.entry(key).or_default();
            times.retain(|t| now.duration_since(*t) < THROTTLE_WINDOW);
            times.push(now);
        }
    }

    /// A correct password from this address forgets its failures for this
    /// account (not another address's).
    pub fn succeeded(&self, username: &str, client: &str) {
        let [(account, _), (address, _)] = Self::keys(username, client);
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&account);
        // The attempt counted against the address is taken back too.
        if let Some(times) = map.get_mut(&address) {
            times.pop();
        }
    }
}

/// What the API keeps in memory about signing in.
#[derive(Default)]
pub struct AccessState {
    pub throttle: LoginThrottle,
    /// The hash of the one-time setup token, while no user exists.
    setup: Mutex<Option<String>>,
}

impl AccessState {
    /// A new setup token (replacing any earlier one); the secret is shown
    /// once, in the server's log.
    pub fn new_setup_token(&self) -> String {
        let (secret, hash) = new_secret("setup_");
        *self.setup.lock().unwrap_or_else(|p| p.into_inner()) = Some(hash);
        secret
    }

    /// Whether `secret` is the current setup token; it is used up when it
    /// is.
    pub fn take_setup_token(&self, secret: &str) -> bool {
        let mut setup = self.setup.lock().unwrap_or_else(|p| p.into_inner());
        let matches = setup.as_deref() == Some(hash_secret(secret).as_str());
        if matches {
            *setup = None;
        }
        matches
    }

    /// Puts a used token back (the first admin could not be created).
    pub fn restore_setup_token(&self, secret: &str) {
        *self.setup.lock().unwrap_or_else(|p| p.into_inner()) = Some(hash_secret(secret));
    }
}

/// When a token or session ends, for listing.
pub fn is_past(at: Option<DateTime<Utc>>) -> bool {
    at.is_some_and(|t| t <= dg_store::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_decoys_do_not() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery!"));
        assert_eq!(hash_password("short").expect_err("short").field, "password");
    }

    #[test]
    fn the_eleventh_failure_waits_and_another_address_does_not() {
        let t = LoginThrottle::default();
        for _ in 0..FAILURES_PER_ACCOUNT {
            assert!(t.attempt("alice", "10.0.0.1").is_ok());
        }
        let wait = t.attempt("alice", "10.0.0.1").expect_err("throttled");
        assert!(wait <= THROTTLE_WINDOW && wait > Duration::ZERO);
        assert!(t.attempt("alice", "10.0.0.2").is_ok());
        t.succeeded("alice", "10.0.0.2");
        assert!(
            t.attempt("alice", "10.0.0.1").is_err(),
            "not reset by another address"
        );
        // A success takes its own attempt back: the address may go on.
        for _ in 0..FAILURES_PER_ADDRESS {
            assert!(t.attempt("bob", "10.0.0.3").is_ok());
            t.succeeded("bob", "10.0.0.3");
        }
        assert!(t.attempt("carol", "10.0.0.3").is_ok());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, ha) = new_secret(TOKEN_PREFIX);
        let (b, _) = new_secret(TOKEN_PREFIX);
        assert!(a.starts_with("dgt_") && a.len() > 40 && a != b);
        assert_eq!(hash_secret(&a), ha);
    }
}
