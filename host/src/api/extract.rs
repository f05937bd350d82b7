//! Extractors whose rejections use the API error body and name the field.

use super::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A JSON body. Syntax errors are 400; well-formed JSON of the wrong
/// shape is 422 with the path of the offending field.
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse_json(&body(req, state).await?).map(ValidJson)
    }
}

/// A JSON body that may be left out entirely (an empty body is `None`).
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// The request body within the size limit, its rejections as API errors.
async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, e.body_text())
    })
}

/// Parses a JSON body with field-naming errors.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "a JSON body is required",
        ));
    }
    // Syntax first, so a truncated body is not reported as a type error.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Eof => "it ends too soon",
            Category::Syntax => "a syntax error",
            Category::Data | Category::Io => "it cannot be read",
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!(
                "the body is not valid JSON: {what} (line {}, character {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = readable(&e.inner().to_string());
        match field_of(&path, &message) {
            Some(field) => ApiError::invalid(field, message),
            None => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            ),
        }
    })
}

/// serde's message in the API's words: JSON's names for kinds of value,
/// no Rust type names (`expected struct CreateDatasource`, `u16`).
fn readable(message: &str) -> String {
    let mut text = match message.find("expected struct ") {
        Some(at) => format!("{}expected a JSON object", &message[..at]),
        None => message.to_string(),
    };
    for (rust, json) in [
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a map", "expected a JSON object"),
        ("invalid type: map", "invalid type: object"),
        ("invalid type: sequence", "invalid type: array"),
        ("expected a sequence", "expected an array"),
        ("invalid value: integer", "invalid value: number"),
    ] {
        text = text.replace(rust, json);
    }
    text
}

/// The dotted field an error is about: the path serde reached, plus the
/// field a "missing field `x`" / "unknown field `x`" message names.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    let path = (path != "." && !path.is_empty()).then_some(path);
    match (path, named) {
        (Some(p), Some(n)) if p == n || p.ends_with(&format!(".{n}")) => Some(p.to_string()),
        (Some(p), Some(n)) => Some(format!("{p}.{n}")),
        (Some(p), None) => Some(p.to_string()),
        (None, Some(n)) => Some(n.to_string()),
        (None, None) => None,
    }
}

/// Query parameters; a bad value is a 400 naming the parameter.
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ValidQuery)
            .map_err(|e| {
                let message = e.inner().to_string();
                let field = field_of(&e.path().to_string(), &message);
                let mut err = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    match &field {
                        Some(f) => format!("query parameter {f}: {message}"),
                        None => format!("query: {message}"),
                    },
                );
                err.field = field;
                err
            })
    }
}

/// An integer field that, as JSON Schema's `integer` does, also accepts a
/// number with a zero fraction (`3.0`): clients that only have doubles
/// send those. `#[serde(deserialize_with = "whole_number")]`.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::Deserialize;
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!(
            "{n} is not a whole number in range"
        ))),
    }
}

/// [`whole_number`] for an optional field (also add `#[serde(default)]`).
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => whole_number(n).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;
    use serde::Deserialize;

    #[test]
    fn errors_name_their_field() {
        assert_eq!(
            field_of(".", "missing field `name`").as_deref(),
            Some("name")
        );
        assert_eq!(
            field_of("retention_policy", "unknown field `max`, expected ...").as_deref(),
            Some("retention_policy.max")
        );
        assert_eq!(
            field_of("enabled", "invalid type").as_deref(),
            Some("enabled")
        );
        assert_eq!(field_of(".", "invalid type: map"), None);
    }

    #[test]
    fn messages_carry_no_rust_type_names() {
        assert_eq!(
            super::readable("invalid length 0, expected struct CreateDatasource with 5 elements"),
            "invalid length 0, expected a JSON object"
        );
        assert_eq!(
            super::readable("invalid type: string \"5432\", expected u16"),
            "invalid type: string \"5432\", expected a whole number from 0 to 65535"
        );
        assert_eq!(
            super::readable("invalid type: sequence, expected a map"),
            "invalid type: array, expected a JSON object"
        );
    }

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::whole_number")]
        n: i64,
        #[serde(default, deserialize_with = "super::optional_whole_number")]
        o: Option<i64>,
    }

    fn parse(json: &str) -> Result<(i64, Option<i64>), String> {
        serde_json::from_str::<T>(json)
            .map(|t| (t.n, t.o))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integral_doubles_are_integers_and_fractions_are_not() {
        assert_eq!(parse(r#"{"n": 3}"#), Ok((3, None)));
        assert_eq!(parse(r#"{"n": 3.0, "o": -6197.0}"#), Ok((3, Some(-6197))));
        assert_eq!(parse(r#"{"n": 1, "o": null}"#), Ok((1, None)));
        for bad in [
            r#"{"n": 2.5}"#,
            r#"{"n": 1e300}"#,
            r#"{"n": "3"}"#,
            r#"{"n": 1, "o": 0.1}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

/// Who is asking, for the use-case layer: the signed-in user or token
/// the access layer ([`super::access::enforce`]) found, and the address
/// the request came from. A route without a caller answers 401.
#[derive(Debug, Clone)]
pub struct RequestActor(pub dg_app::usecases::Actor);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestActor {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let Some(super::access::Caller(principal)) =
            parts.extensions.get::<super::access::Caller>().cloned()
        else {
            return Err(super::error::ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in (POST /api/auth/login) or send `Authorization: Bearer TOKEN`",
            ));
        };
        Ok(Self(dg_app::usecases::Actor::User {
            principal,
            client: super::access::client_of(&parts.extensions),
        }))
    }
}

/// The address a request came from, as text (`in-process` in tests).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(super::access::client_of(&parts.extensions)))
    }
}
