//! External notifications: what the core's notification kinds are, the
//! message templates they are rendered with, and the context a template
//! sees. Routing and the delivery queue live in `store::deliveries`; the
//! sending in `workers::deliveries`.

pub mod context;
pub mod templates;

/// The notification kinds the core raises (each also a row in
/// `notifications`), in the order the docs list them.
pub const KINDS: &[&str] = &[
    "backup_completed",
    "backup_failed",
    "restore_completed",
    "restore_failed",
    "verification_failed",
    "connection_lost",
    "connection_restored",
    "storage_unreachable",
    "cleanup_completed",
    "plugin_failed",
];
