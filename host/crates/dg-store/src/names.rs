//! The names people read beside ids: every job, datasource and storage
//! location by id, read in three small queries, so a page of executions
//! (or an event) can carry names without a query per row.

use crate::{with_pool, Db, StoreError};
use std::collections::HashMap;

/// Names by id.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub jobs: HashMap<String, String>,
    pub datasources: HashMap<String, String>,
    pub storages: HashMap<String, String>,
}

impl Names {
    pub fn job(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.jobs.get(id).cloned())
    }

    pub fn datasource(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.datasources.get(id).cloned())
    }

    pub fn storage(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.storages.get(id).cloned())
    }
}

/// Every job, datasource and storage name.
pub async fn all(db: &Db) -> Result<Names, StoreError> {
    Ok(Names {
        jobs: of(db, "SELECT id, name FROM backup_jobs").await?,
        datasources: of(db, "SELECT id, name FROM datasources").await?,
        storages: of(db, "SELECT id, name FROM storage_locations").await?,
    })
}

async fn of(db: &Db, sql: &'static str) -> Result<HashMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = with_pool!(db, |p| sqlx::query_as(sql).fetch_all(p).await?);
    Ok(rows.into_iter().collect())
}
