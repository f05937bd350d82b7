//! External notifications: what the core's notification kinds are, the
//! message templates they are rendered with, and the context a template
//! sees. Routing and the delivery queue live in `dg_store::deliveries`; the
//! sending in `workers::deliveries`.

pub mod context;
pub mod templates;

pub use dg_core::domain::NotificationKind;

/// The notification kinds the core raises (each also a row in
/// `notifications`), in the order docs/NOTIFIERS.md lists them.
pub const KINDS: &[NotificationKind] = NotificationKind::ALL;

pub mod send;

use dg_store::rows::{Template, TemplateVersion};
use dg_store::{Db, StoreError};

/// Makes sure every kind has a template for each channel type, version 1
/// being the built-in default.
pub async fn seed_templates(db: &Db, channel_types: &[&str]) -> Result<(), StoreError> {
    for channel in channel_types {
        for kind in KINDS {
            dg_store::templates::ensure(
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
    let template = dg_store::templates::ensure(
        db,
        channel,
        kind,
        Some(templates::DEFAULT_SUBJECT),
        templates::DEFAULT_BODY,
    )
    .await?;
    let version = dg_store::templates::version(db, &template.id, template.active_version)
        .await?
        .ok_or(StoreError::Sql(sqlx::Error::RowNotFound))?;
    Ok((template, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds of the table under "## Notification kinds" in
    /// docs/NOTIFIERS.md, in order.
    fn documented() -> Vec<String> {
        let doc = include_str!("../../../../../docs/NOTIFIERS.md");
        let (_, section) = doc
            .split_once("\n## Notification kinds\n")
            .expect("docs/NOTIFIERS.md has a `## Notification kinds` section");
        let section = section.split("\n## ").next().unwrap_or_default();
        section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`'))
            .map(|(kind, _)| kind.to_string())
            .collect()
    }

    /// Every kind the core raises is in the documented table, and the
    /// table lists nothing else, in the same order.
    #[test]
    fn every_kind_is_documented() {
        let raised: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
        let documented = documented();
        for kind in &raised {
            assert!(
                documented.contains(kind),
                "`{kind}` is raised but not documented"
            );
        }
        for kind in &documented {
            assert!(
                raised.contains(kind),
                "`{kind}` is documented but not a kind"
            );
        }
        assert_eq!(
            documented, raised,
            "the table lists the kinds in enum order"
        );
    }
}
