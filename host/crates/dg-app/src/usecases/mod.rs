//! The operations people ask for, one function each, whoever asks: the
//! REST API's handlers extract the request, call one of these with the
//! [`Actor`] and map the [`UseCaseError`] to a status; the command line
//! and the workers call the same functions. The rules of an operation
//! (what may be cancelled, what a copy needs, which conflicts refuse it)
//! live here once, and the actor is recorded on what it changes, so the
//! audit trail and access control (which will check the actor before the
//! rule) have one place to hook in.

pub mod access;
pub mod executions;
pub mod plugins;

use dg_core::domain::FieldError;
use dg_store::StoreError;
use std::fmt;

/// Who asks for an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The server itself: recovery, retention, draining.
    System,
    /// The scheduler, for a job whose time came.
    Scheduler,
    /// The command line, as the operating-system user who runs it.
    Cli { user: String },
    /// A signed-in user, or a token acting for one, over the REST API;
    /// `client` is the address the request came from.
    User {
        principal: std::sync::Arc<crate::auth::Principal>,
        client: String,
    },
}

impl Actor {
    /// The signed-in principal, when the actor is one.
    pub fn principal(&self) -> Option<&crate::auth::Principal> {
        match self {
            Actor::User { principal, .. } => Some(principal),
            _ => None,
        }
    }

    /// Whether the actor may do `p`: the server, the scheduler and the
    /// command line (the operating-system user who can read the data dir)
    /// may do anything.
    pub fn may(&self, p: dg_core::access::Permission) -> bool {
        self.principal().is_none_or(|who| who.may(p))
    }

    /// Refuses with [`UseCaseError::Forbidden`] unless the actor may do `p`.
    pub fn require(&self, p: dg_core::access::Permission) -> Result<(), UseCaseError> {
        if self.may(p) {
            Ok(())
        } else {
            Err(UseCaseError::Forbidden(format!(
                "this needs the permission `{p}`, which {self} does not have"
            )))
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.write_str("the server"),
            Actor::Scheduler => f.write_str("the scheduler"),
            Actor::Cli { user } => write!(f, "command-line user `{user}`"),
            Actor::User { principal, client } => match &principal.via {
                crate::auth::Via::Session { .. } => {
                    write!(f, "user `{}` from {client}", principal.username)
                }
                crate::auth::Via::Token { name, .. } => write!(
                    f,
                    "token `{name}` of user `{}` from {client}",
                    principal.username
                ),
            },
        }
    }
}

/// Why an operation was refused or failed, as a value each caller maps:
/// the API to a status and error body, the CLI to a message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    /// The operation does not fit the current state (cancel what has
    /// ended, copy what is not a backup).
    #[error("{0}")]
    Conflict(String),
    /// The actor may not do this; says which permission or rule.
    #[error("{0}")]
    Forbidden(String),
    /// A value of the request is refused; names the field.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The queue could not take the work: nothing was recorded.
    #[error("queue unavailable: {0}")]
    QueueUnavailable(String),
    /// A storage or plugin the operation needed failed.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCaseError {
    pub fn not_found(what: &'static str, id: &str) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}
