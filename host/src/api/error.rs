//! The API's error body, `{"error": {"code", "message", "field"?}}`, and
//! the mapping from internal errors. Internal details are logged, never
//! sent: a 500 says only that something went wrong on our side.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `validation_failed`, `not_found`...
    pub code: String,
    pub message: String,
    /// The request field at fault, dotted (`retention_policy.max_backups`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds after which a refused request may be tried again
    /// (`Retry-After` of a 429).
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 429: a per-client limit was reached; `retry_after` seconds when
    /// waiting helps.
    pub fn too_many(
        code: &'static str,
        message: impl Into<String>,
        retry_after: Option<u64>,
    ) -> Self {
        Self {
            retry_after,
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 422 naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: format!("{field}: {message}"),
            field: Some(field),
            retry_after: None,
        }
    }

    /// A plugin's refusal of a configuration sent under `field`
    /// (`config`, `connection_config`), naming the setting at fault where
    /// the message does: `missing field `url`` → `config.url: is
    /// required`; `topic: must not be empty` → `config.topic: …`.
    pub fn plugin_config(field: &str, message: &str) -> Self {
        let message = message.strip_prefix("config: ").unwrap_or(message);
        let quoted = |rest: &str| {
            let name = rest.strip_prefix('`')?;
            let end = name.find('`')?;
            Some((name[..end].to_string(), name[end + 1..].to_string()))
        };
        if let Some((key, _)) = message.strip_prefix("missing field ").and_then(quoted) {
            return Self::invalid(format!("{field}.{key}"), "is required");
        }
        if let Some((key, rest)) = message.strip_prefix("unknown field ").and_then(quoted) {
            let expected = rest.trim_start_matches(", ");
            return Self::invalid(
                format!("{field}.{key}"),
                format!("is not a setting of this type ({expected})"),
            );
        }
        if let Some((key, rest)) = message.split_once(": ") {
            let setting = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if setting {
                return Self::invalid(format!("{field}.{key}"), rest);
            }
        }
        Self::invalid(field, message)
    }

    /// A refused field, as the layer below named it.
    pub fn field(e: crate::domain::FieldError) -> Self {
        Self::invalid(e.field, e.message)
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} `{id}` does not exist"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "upstream_failed", message)
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read; the connection cannot be
            // reused, so say so instead of letting the client find out.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<dg_app::usecases::UseCaseError> for ApiError {
    fn from(e: dg_app::usecases::UseCaseError) -> Self {
        use dg_app::usecases::UseCaseError;
        match e {
            UseCaseError::NotFound { what, id } => ApiError::not_found(what, &id),
            UseCaseError::Conflict(message) => ApiError::conflict(message),
            UseCaseError::Forbidden(message) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            UseCaseError::Invalid(e) => ApiError::field(e),
            UseCaseError::QueueUnavailable(message) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                format!("queue unavailable: {message}"),
            ),
            UseCaseError::Upstream(message) => ApiError::bad_gateway(message),
            UseCaseError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Conflict { field, .. } => {
                let mut err = ApiError::conflict(e.to_string());
                err.field = field.map(str::to_string);
                err
            }
            StoreError::Reference(message) => ApiError::conflict(message),
            StoreError::Sql(sqlx::Error::Database(db)) if refuses_nul(db.code().as_deref()) => {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "text must not contain NUL characters (\\u0000)",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::server::targets::TargetError> for ApiError {
    fn from(e: crate::server::targets::TargetError) -> Self {
        use crate::server::paths::PathRefusal;
        use crate::server::targets::TargetError;
        match e {
            TargetError::NotInstalled(e) => ApiError::invalid("type", e.to_string()),
            TargetError::Path {
                field,
                refusal: PathRefusal::Invalid(m),
            } => ApiError::invalid(field, m),
            TargetError::Path {
                field,
                refusal: PathRefusal::Overlap(m),
            } => {
                let mut err = ApiError::conflict(format!("{field}: {m}"));
                err.field = Some(field);
                err
            }
            TargetError::Unreachable(m) => ApiError::bad_gateway(m),
            TargetError::Store(e) => e.into(),
        }
    }
}

/// PostgreSQL's SQLSTATEs for a NUL in TEXT (22021) or JSONB (22P05):
/// bad client input, not a server fault.
fn refuses_nul(code: Option<&str>) -> bool {
    matches!(code, Some("22021" | "22P05"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_config_errors_name_the_setting() {
        let e = ApiError::plugin_config("config", "config: missing field `url`");
        assert_eq!(e.field.as_deref(), Some("config.url"));
        assert_eq!(e.message, "config.url: is required");
        let e = ApiError::plugin_config(
            "connection_config",
            "unknown field `hots`, expected one of `host`, `port`",
        );
        assert_eq!(e.field.as_deref(), Some("connection_config.hots"));
        assert!(
            e.message.contains("expected one of `host`"),
            "{}",
            e.message
        );
        let e = ApiError::plugin_config("config", "topic: must not be empty");
        assert_eq!(e.message, "config.topic: must not be empty");
        let e = ApiError::plugin_config("config", "The server said: no");
        assert_eq!(e.field.as_deref(), Some("config"));
        assert_eq!(e.message, "config: The server said: no");
    }
}
