//! The operations people ask for, one function each, whoever asks: the
//! REST API's handlers extract the request, call one of these with the
//! [`Actor`] and map the [`UseCaseError`] to a status; the command line
//! and the workers call the same functions. The rules of an operation
//! (what may be cancelled, what a copy needs, which conflicts refuse it)
//! live here once, and the actor is recorded on what it changes, so the
//! audit trail and access control (which will check the actor before the
//! rule) have one place to hook in.

pub mod executions;

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
    /// A client of the REST API, by the address it connected from (the
    /// signed-in user replaces it with access control).
    Api { client: String },
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.write_str("the server"),
            Actor::Scheduler => f.write_str("the scheduler"),
            Actor::Cli { user } => write!(f, "command-line user `{user}`"),
            Actor::Api { client } => write!(f, "API client {client}"),
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
