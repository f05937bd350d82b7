//! Rows other parts of the node watch as they are written. The store
//! reports each one to an [`EventSink`] held in [`crate::Db`] rather than
//! publishing it itself: the event bus belongs to the application layer
//! above, which installs it with [`crate::Db::with_events`]. Without one
//! (tools and tests that only read and write rows) nothing is reported.

use crate::rows::{Execution, Notification};
use std::sync::Arc;

/// Receives the rows the store writes that are watched live.
pub trait EventSink: Send + Sync {
    /// An execution was created or changed status (after its transaction
    /// committed).
    fn execution_status(&self, execution: &Execution);
    /// A notification row was written (`notifications::insert`).
    fn notification(&self, notification: &Notification);
}

/// The sink of a store no application watches: drops every report.
struct Unwatched;

impl EventSink for Unwatched {
    fn execution_status(&self, _: &Execution) {}
    fn notification(&self, _: &Notification) {}
}

/// The sink a `Db` holds; its own type so `Db` keeps `Clone` and `Debug`.
#[derive(Clone)]
pub(crate) struct Events(pub(crate) Arc<dyn EventSink>);

impl Default for Events {
    fn default() -> Self {
        Self(Arc::new(Unwatched))
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}
