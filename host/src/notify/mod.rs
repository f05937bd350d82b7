//! External notifications: what the core's notification kinds are, the
//! message templates they are rendered with, and the context a template
//! sees. Routing and the delivery queue live in `store::deliveries`; the
//! sending in `workers::deliveries`.

pub mod context;
pub mod templates;

pub use crate::domain::NotificationKind;

/// The notification kinds the core raises (each also a row in
/// `notifications`), in the order docs/NOTIFIERS.md lists them.
pub const KINDS: &[NotificationKind] = NotificationKind::ALL;

pub mod send;

use crate::store::rows::{Template, TemplateVersion};
use crate::store::{self, Db, StoreError};

/// Makes sure every kind has a template for each channel type, version 1
/// being the built-in default.
pub async fn seed_templates(db: &Db, channel_types: &[&str]) -> Result<(), StoreError> {
    for channel in channel_types {
        for kind in KINDS {
            store::templates::ensure(
                db,
                channel,
                *kind,
                Some(templates::DEFAULT_SUBJECT),
                templates::DEFAULT_BODY,
            )
            .await?;
        }
    }
    Ok(())
}

/// The active version of the template for `channel` × `kind` (created
/// from the default when missing).
pub async fn active_template(
    db: &Db,
    channel: &str,
    kind: NotificationKind,
) -> Result<(Template, TemplateVersion), StoreError> {
    let template = store::templates::ensure(
        db,
        channel,
        kind,
        Some(templates::DEFAULT_SUBJECT),
        templates::DEFAULT_BODY,
    )
    .await?;
    let version = store::templates::version(db, &template.id, template.active_version)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;
    Ok((template, version))
}
