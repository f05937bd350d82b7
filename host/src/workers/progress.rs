//! Publishes a running execution's progress (bytes moved) to its row
//! every few seconds, so API clients see it move.

use crate::plugin::Activity;
use crate::store::{executions, Db};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const EVERY: Duration = Duration::from_secs(2);

/// Stops publishing when dropped.
pub struct Publisher(JoinHandle<()>);

impl Drop for Publisher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn publish(db: Db, execution_id: &str, activity: Arc<Activity>) -> Publisher {
    let id = execution_id.to_string();
    Publisher(tokio::spawn(async move {
        let mut last = 0;
        loop {
            tokio::time::sleep(EVERY).await;
            let bytes = activity.bytes();
            if bytes != last {
                last = bytes;
                if let Err(e) = executions::set_progress(&db, &id, bytes as i64).await {
                    tracing::warn!(execution = %id, "publishing progress: {e}");
                }
            }
        }
    }))
}
