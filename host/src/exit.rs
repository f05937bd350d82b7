//! Exit codes of the `dataguardian` command, so scripts can tell a typo
//! from a missing backup from a damaged one (docs/CLI.md, "Exit codes"):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure (anything below does not apply) |
//! | 2 | usage: an unknown flag, a bad flag value or config file |
//! | 3 | not found: a plugin, type, user or stored object that does not exist |
//! | 4 | integrity: a checksum, manifest or signature does not match |

use crate::pipeline::PipelineError;
use crate::plugin::{CallError, FailureKind, NotInstalled};

pub const FAILURE: u8 = 1;
/// clap exits with 2 on its own usage errors; ours use the same.
pub const USAGE: u8 = 2;
pub const NOT_FOUND: u8 = 3;
pub const INTEGRITY: u8 = 4;

/// A flag, value or config file the command cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// What the command was asked to act on does not exist.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// Returns early with a [`Usage`] error.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::exit::Usage(format!($($arg)*))))
    };
}

fn pipeline_code(e: &PipelineError) -> Option<u8> {
    match e {
        PipelineError::Integrity(_)
        | PipelineError::Manifest { .. }
        | PipelineError::Missing { .. } => Some(INTEGRITY),
        PipelineError::Copy(inner) => pipeline_code(inner).or(Some(INTEGRITY)),
        PipelineError::Plugin(call) => call_code(call),
        _ => None,
    }
}

fn call_code(e: &CallError) -> Option<u8> {
    matches!(
        e,
        CallError::Plugin {
            kind: FailureKind::NotFound,
            ..
        }
    )
    .then_some(NOT_FOUND)
}

/// The exit code for a command that failed with `e`: the first cause in
/// its chain that has a code of its own decides.
pub fn code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<Usage>() {
            return USAGE;
        }
        if cause.is::<NotFound>() || cause.is::<NotInstalled>() {
            return NOT_FOUND;
        }
        if let Some(code) = cause
            .downcast_ref::<PipelineError>()
            .and_then(pipeline_code)
        {
            return code;
        }
        if let Some(code) = cause.downcast_ref::<CallError>().and_then(call_code) {
            return code;
        }
    }
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_first_cause_with_a_code_decides() {
        let usage: anyhow::Error = Usage("--jobs: must be at least 1".into()).into();
        assert_eq!(code(&usage), USAGE);
        let missing = Err::<(), _>(NotFound("no installed plugin `x`".into()))
            .context("removing")
            .unwrap_err();
        assert_eq!(code(&missing), NOT_FOUND);
        let damaged = Err::<(), _>(PipelineError::Copy(Box::new(PipelineError::Integrity(
            "chunk 3: checksum mismatch".into(),
        ))))
        .context("verifying")
        .unwrap_err();
        assert_eq!(code(&damaged), INTEGRITY);
        assert_eq!(code(&anyhow::anyhow!("disk full")), FAILURE);
    }
}
