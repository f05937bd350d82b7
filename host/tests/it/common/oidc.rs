//! A small OpenID Connect provider on loopback for the single sign-on
//! tests: discovery, JWKS, an authorize endpoint that consents at once,
//! and a token endpoint that checks the client's secret and PKCE and
//! answers an RS256 ID token. It can be told to misbehave.

use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "dataguardian";
pub const CLIENT_SECRET: &str = "provider-shared-secret";

/// How the next ID tokens are made wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trick {
    Honest,
    /// Signed with a key the JWKS does not hold (same `kid`).
    ForeignKey,
    /// Issued for another client.
    WrongAudience,
}

struct State {
    issuer: String,
    key: RsaPrivateKey,
    foreign: RsaPrivateKey,
    trick: Trick,
    /// The next sign-in's claims (`sub`, `preferred_username`, `groups`).
    claims: Value,
    /// code → (nonce, PKCE challenge, claims)
    codes: HashMap<String, (String, String, Value)>,
}

pub struct Provider {
    pub issuer: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Provider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let mut rng = rand::thread_rng();
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            key: RsaPrivateKey::new(&mut rng, 2048).expect("RSA key"),
            foreign: RsaPrivateKey::new(&mut rng, 2048).expect("RSA key"),
            trick: Trick::Honest,
            claims: json!({}),
            codes: HashMap::new(),
        }));
        let shared = state.clone();
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get({
                    let s = shared.clone();
                    move || async move { axum::Json(discovery(&s.lock().unwrap().issuer)) }
                }),
            )
            .route(
                "/jwks",
                axum::routing::get({
                    let s = shared.clone();
                    move || async move { axum::Json(jwks(&s.lock().unwrap().key)) }
                }),
            )
            .route(
                "/authorize",
                axum::routing::get({
                    let s = shared.clone();
                    move |q: axum::extract::Query<HashMap<String, String>>| async move {
                        authorize(&s, &q.0)
                    }
                }),
            )
            .route(
                "/token",
                axum::routing::post({
                    let s = shared.clone();
                    move |headers: axum::http::HeaderMap, body: String| async move {
                        token(&s, &headers, &body)
                    }
                }),
            );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            state,
            task,
        }
    }

    /// Who the next sign-in is.
    pub fn sign_in_as(&self, sub: &str, username: &str, groups: &[&str]) {
        self.state.lock().unwrap().claims =
            json!({"sub": sub, "preferred_username": username, "groups": groups});
    }

    pub fn trick(&self, trick: Trick) {
        self.state.lock().unwrap().trick = trick;
    }
}

fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    })
}

fn jwks(key: &RsaPrivateKey) -> Value {
    let public = key.to_public_key();
    json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
        "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()),
    }]})
}

fn authorize(state: &Arc<Mutex<State>>, q: &HashMap<String, String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut s = state.lock().unwrap();
    let ok = q.get("response_type").map(String::as_str) == Some("code")
        && q.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && q.get("code_challenge_method").map(String::as_str) == Some("S256");
    if !ok {
        return (axum::http::StatusCode::BAD_REQUEST, "bad authorize request").into_response();
    }
    let code = format!("code-{}", s.codes.len() + 1);
    let claims = s.claims.clone();
    s.codes.insert(
        code.clone(),
        (
            q.get("nonce").cloned().unwrap_or_default(),
            q.get("code_challenge").cloned().unwrap_or_default(),
            claims,
        ),
    );
    let location = format!(
        "{}?code={code}&state={}",
        q.get("redirect_uri").cloned().unwrap_or_default(),
        q.get("state").cloned().unwrap_or_default()
    );
    (
        axum::http::StatusCode::FOUND,
        [(axum::http::header::LOCATION, location)],
    )
        .into_response()
}

fn token(
    state: &Arc<Mutex<State>>,
    headers: &axum::http::HeaderMap,
    body: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let refuse = |why: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    let form: HashMap<&str, &str> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let mut s = state.lock().unwrap();
    let Some((nonce, challenge, claims)) = form.get("code").and_then(|c| s.codes.remove(*c)) else {
        return refuse("unknown code");
    };
    let verifier = form.get("code_verifier").copied().unwrap_or_default();
    if b64(&Sha256::digest(verifier.as_bytes())) != challenge {
        return refuse("PKCE verifier does not match");
    }
    let now = chrono::Utc::now().timestamp();
    let audience = if s.trick == Trick::WrongAudience {
        "someone-else"
    } else {
        CLIENT_ID
    };
    let mut payload = json!({
        "iss": s.issuer, "aud": audience, "iat": now, "exp": now + 300, "nonce": nonce,
    });
    if let (Value::Object(p), Value::Object(c)) = (&mut payload, claims) {
        p.extend(c);
    }
    let key = if s.trick == Trick::ForeignKey {
        s.foreign.clone()
    } else {
        s.key.clone()
    };
    let header =
        b64(&serde_json::to_vec(&json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})).unwrap());
    let claims = b64(&serde_json::to_vec(&payload).unwrap());
    let input = format!("{header}.{claims}");
    let signature = SigningKey::<Sha256>::new(key)
        .sign(input.as_bytes())
        .to_bytes();
    let id_token = format!("{input}.{}", b64(&signature));
    axum::Json(json!({
        "access_token": "provider-access-token", "token_type": "Bearer",
        "expires_in": 300, "id_token": id_token,
    }))
    .into_response()
}
