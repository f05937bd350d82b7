//! `notification_templates` and their numbered versions. Every edit adds a
//! version and makes it the active one; nothing is overwritten.

use crate::rows::{Template, TemplateVersion};
use crate::{new_id, now, with_pool, Db, StoreError};
use dg_core::domain::NotificationKind;

/// Creates the template of `channel` × `kind` with `subject`/`body` as
/// version 1 unless it exists; returns it either way.
pub async fn ensure(
    db: &Db,
    channel: &str,
    kind: NotificationKind,
    subject: Option<&str>,
    body: &str,
) -> Result<Template, StoreError> {
    if let Some(t) = find(db, channel, kind).await? {
        return Ok(t);
    }
    let at = now();
    let t = Template {
        id: new_id(),
        channel: channel.to_string(),
        kind,
        active_version: 1,
        created_at: at,
        updated_at: at,
    };
    let inserted = with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        let n = sqlx::query(
            "INSERT INTO notification_templates (id, channel, type, active_version, created_at,
             updated_at) VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (channel, type) DO NOTHING",
        )
        .bind(&t.id)
        .bind(&t.channel)
        .bind(t.kind)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            sqlx::query(
                "INSERT INTO notification_template_versions (template_id, version, subject, body,
                 created_at) VALUES ($1, 1, $2, $3, $4)",
            )
            .bind(&t.id)
            .bind(subject)
            .bind(body)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        n == 1
    });
    if inserted {
        Ok(t)
    } else {
        // Another node created it meanwhile.
        find(db, channel, kind)
            .await?
            .ok_or_else(|| StoreError::Sql(sqlx::Error::RowNotFound))
    }
}

pub async fn find(
    db: &Db,
    channel: &str,
    kind: NotificationKind,
) -> Result<Option<Template>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Template>(
        "SELECT * FROM notification_templates WHERE channel = $1 AND type = $2"
    )
    .bind(channel)
    .bind(kind)
    .fetch_optional(p)
    .await?))
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Template>, StoreError> {
    crate::by_id(db, "notification_templates", id).await
}

pub async fn list(db: &Db) -> Result<Vec<Template>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Template>(
        "SELECT * FROM notification_templates ORDER BY channel, type"
    )
    .fetch_all(p)
    .await?))
}

/// Every version, newest first.
pub async fn versions(db: &Db, id: &str) -> Result<Vec<TemplateVersion>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, TemplateVersion>(
        "SELECT * FROM notification_template_versions WHERE template_id = $1
         ORDER BY version DESC"
    )
    .bind(id)
    .fetch_all(p)
    .await?))
}

pub async fn version(
    db: &Db,
    id: &str,
    version: i64,
) -> Result<Option<TemplateVersion>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, TemplateVersion>(
        "SELECT * FROM notification_template_versions WHERE template_id = $1 AND version = $2"
    )
    .bind(id)
    .bind(version)
    .fetch_optional(p)
    .await?))
}

/// Adds the next version and makes it active.
pub async fn add_version(
    db: &Db,
    id: &str,
    subject: Option<&str>,
    body: &str,
) -> Result<TemplateVersion, StoreError> {
    let at = now();
    let version: i64 = with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM notification_template_versions
             WHERE template_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO notification_template_versions (template_id, version, subject, body,
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(next)
        .bind(subject)
        .bind(body)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE notification_templates SET active_version = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(next)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        next
    });
    Ok(TemplateVersion {
        template_id: id.to_string(),
        version,
        subject: subject.map(str::to_string),
        body: body.to_string(),
        created_at: at,
    })
}
