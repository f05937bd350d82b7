//! Single sign-on with OpenID Connect: authorization code flow with PKCE
//! and a nonce, the ID token verified by the `openidconnect` crate
//! (signature against the provider's JWKS, issuer, audience, expiry,
//! nonce). The provider is the operator's configuration (flags), not API
//! input, so it is reached directly rather than through the plugins'
//! egress policy.
//!
//! Accounts made by sign-on are keyed by `ISSUER#SUBJECT`, never merged
//! with a local account of the same name; their role follows the mapped
//! claim at every sign-in.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    reqwest, AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a started sign-in may take at the provider.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// Most sign-ins waiting at the provider at once (older ones are dropped).
const MAX_PENDING: usize = 1000;

/// The operator's single sign-on settings.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL, exactly as the provider's tokens name it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// `PUBLIC_URL/api/auth/oidc/callback`.
    pub redirect_url: String,
    /// The claim whose value(s) pick the role (`groups`, `roles`...).
    pub role_claim: String,
    /// `claim value → role`, first match wins.
    pub role_map: Vec<(String, String)>,
    /// The role of a user no mapping matches; `None`: they are refused.
    pub default_role: Option<String>,
}

/// Every claim of the ID token beyond the standard ones.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type TokenAnswer = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenAnswer,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-on failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or described itself wrongly: {0}")]
    Provider(String),
    #[error("this sign-in is unknown or took longer than 10 minutes; start again")]
    UnknownState,
    #[error("the identity provider refused: {0}")]
    Refused(String),
    #[error("the identity provider's answer did not verify: {0}")]
    Unverified(String),
    #[error("no role is mapped for this account (claim `{0}`); ask an administrator")]
    NoRole(String),
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `ISSUER#SUBJECT`.
    pub key: String,
    /// `preferred_username`, else `email`, else the subject.
    pub username: String,
    pub role: String,
}

struct Pending {
    nonce: String,
    verifier: String,
    started: Instant,
}

/// The relying party: discovers the provider on first use (a provider
/// down at start does not stop the server), remembers sign-ins in flight.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    client: tokio::sync::OnceCell<OidcClient>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        // The token endpoint must not be followed elsewhere (the crate's
        // advice: redirects would leak the code).
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        Ok(Self {
            config,
            http,
            client: tokio::sync::OnceCell::new(),
            pending: Mutex::default(),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    async fn client(&self) -> Result<&OidcClient, OidcError> {
        self.client
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.config.issuer.clone())
                    .map_err(|e| OidcError::Provider(format!("issuer URL: {e}")))?;
                let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| OidcError::Provider(describe(&e)))?;
                let redirect = RedirectUrl::new(self.config.redirect_url.clone())
                    .map_err(|e| OidcError::Provider(format!("redirect URL: {e}")))?;
                Ok(OidcClient::from_provider_metadata(
                    metadata,
                    ClientId::new(self.config.client_id.clone()),
                    Some(ClientSecret::new(self.config.client_secret.clone())),
                )
                .set_redirect_uri(redirect))
            })
            .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The provider's sign-in page for a new sign-in, and its `state`
    /// (which the browser must bring back: the caller binds it to the
    /// browser with a cookie).
    pub async fn start(&self) -> Result<(String, String), OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let mut pending = self.lock();
        pending.retain(|_, p| p.started.elapsed() < PENDING_FOR);
        if pending.len() >= MAX_PENDING {
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            state.secret().clone(),
            Pending {
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                started: Instant::now(),
            },
        );
        Ok((url.to_string(), state.secret().clone()))
    }

    /// The identity of a sign-in the provider sent back with `code`.
    pub async fn finish(&self, state: &str, code: &str) -> Result<Identity, OidcError> {
        let pending = self
            .lock()
            .remove(state)
            .filter(|p| p.started.elapsed() < PENDING_FOR)
            .ok_or(OidcError::UnknownState)?;
        let client = self.client().await?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(describe(&e)))?;
        let id_token = answer
            .id_token()
            .ok_or_else(|| OidcError::Unverified("the answer holds no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce))
            .map_err(|e| OidcError::Unverified(e.to_string()))?;
        let subject = claims.subject().as_str();
        let username = claims
            .preferred_username()
            .map(|u| u.as_str().to_string())
            .or_else(|| claims.email().map(|e| e.as_str().to_string()))
            .unwrap_or_else(|| subject.to_string());
        let values = claim_values(claims.additional_claims().0.get(&self.config.role_claim));
        let role = self
            .config
            .role_map
            .iter()
            .find(|(value, _)| values.contains(value))
            .map(|(_, role)| role.clone())
            .or_else(|| self.config.default_role.clone())
            .ok_or_else(|| OidcError::NoRole(self.config.role_claim.clone()))?;
        Ok(Identity {
            key: format!("{}#{subject}", self.config.issuer),
            username: usable_name(&username),
            role,
        })
    }
}

/// A claim's values: one string, or an array of strings.
fn claim_values(claim: Option<&serde_json::Value>) -> Vec<String> {
    match claim {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// A provider's name made a valid user name (letters, digits, `.`, `_`,
/// `-`, `@`; at most 64).
fn usable_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "sso-user".into()
    } else {
        cleaned
    }
}

/// An error with its causes, on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_a_string_or_an_array() {
        assert_eq!(
            claim_values(Some(&serde_json::json!(["a", 1, "b"]))),
            vec!["a", "b"]
        );
        assert_eq!(claim_values(Some(&serde_json::json!("ops"))), vec!["ops"]);
        assert!(claim_values(None).is_empty());
    }

    #[test]
    fn provider_names_become_user_names() {
        assert_eq!(usable_name("Ana Lúcia"), "Ana-L-cia");
        assert_eq!(usable_name("ana@example.com"), "ana@example.com");
        assert_eq!(usable_name(""), "sso-user");
    }
}
