//! `SealedJson`: a JSON configuration column whose secret values are
//! sealed on the way into the database and opened on the way out (see
//! `dg_core::secrets`). Every read and write of such a column goes through
//! this type, so no code path can store a plaintext secret by forgetting.

use serde::Serialize;
use serde_json::Value;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::types::Json;
use sqlx::{Database, Decode, Encode, Type};

/// A configuration with its secrets in the clear in memory. Its `Debug`
/// form is redacted, so a stray `{:?}` cannot log a password.
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SealedJson(pub Value);

impl std::fmt::Debug for SealedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedJson({})", dg_core::secrets::redact(&self.0))
    }
}

impl<DB: Database> Type<DB> for SealedJson
where
    Json<Value>: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <Json<Value> as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <Json<Value> as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for SealedJson
where
    Json<Value>: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        let sealed = dg_core::secrets::seal(&self.0)?;
        Json(sealed).encode_by_ref(buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for SealedJson
where
    Json<Value>: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let Json(stored) = <Json<Value> as Decode<'r, DB>>::decode(value)?;
        Ok(SealedJson(dg_core::secrets::open(&stored)?))
    }
}

/// Tables with sealed configuration columns: (table, column).
const SEALED_COLUMNS: &[(&str, &str)] = &[
    ("datasources", "connection_config"),
    ("storage_locations", "config"),
];

/// Re-writes every stored configuration whose secrets are not sealed under
/// the current key: plaintext rows from before encryption (run at every
/// start) and rows under an older key (a key rotation). Returns how many
/// rows were re-written.
pub async fn reseal_all(db: &crate::Db) -> Result<usize, crate::StoreError> {
    let current = dg_core::secrets::with_keyring(|ring| Ok(ring.current_id().to_string()))?;
    let mut count = 0;
    for (table, column) in SEALED_COLUMNS {
        let select = format!("SELECT id, {column} FROM {table}");
        let rows: Vec<(String, Json<Value>)> =
            crate::with_pool!(db, |p| sqlx::query_as(&select).fetch_all(p).await?);
        let update = format!("UPDATE {table} SET {column} = $2 WHERE id = $1");
        for (id, Json(stored)) in rows {
            if !dg_core::secrets::needs_sealing(&stored, &current) {
                continue;
            }
            let opened = dg_core::secrets::open(&stored)?;
            crate::execute!(db, |p| sqlx::query(&update)
                .bind(&id)
                .bind(SealedJson(opened.clone()))
                .execute(p)
                .await?);
            count += 1;
        }
    }
    if count > 0 {
        db.checkpoint().await?;
    }
    Ok(count)
}
