//! Export and import of the log as NDJSON, one [`StoredEvent`] per line with
//! every stored column, hash included. An import goes only into an empty log, keeps the
//! original positions and times, and re-checks every hash link as it reads, so
//! a file altered after export is refused rather than imported. The imported log
//! is sealed again with this server's key (its global heads are a function of
//! the events, so an auditor's checkpoint from the old server still verifies).

use super::read::{StoredEvent, EVENT_COLUMNS};
use super::seal::{seal_backlog, SealError};
use super::verify::check_link;
use super::EventLog;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
    #[error("the log already holds {0} events: import only into an empty database")]
    NotEmpty(i64),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl EventLog {
    /// Streams events (one stream, or all; from a time on) to `write`, in log order.
    pub async fn export(
        &self,
        stream: Option<&str>,
        since: Option<DateTime<Utc>>,
        mut write: impl FnMut(&StoredEvent) -> std::io::Result<()>,
    ) -> Result<u64, TransferError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE ($1::text IS NULL OR stream = $1) \
               AND ($2::timestamptz IS NULL OR recorded_at >= $2) ORDER BY position"
        );
        let mut rows = sqlx::query_as::<_, StoredEvent>(&sql)
            .bind(stream)
            .bind(since)
            .fetch(self.pool());
        let mut count = 0;
        while let Some(event) = rows.try_next().await? {
            write(&event)?;
            count += 1;
        }
        Ok(count)
    }

    /// Imports NDJSON lines into an empty log (run as the schema owner: it sets
    /// the position sequence). Each stream must start at version 1 and chain.
    pub async fn import(
        &self,
        lines: impl IntoIterator<Item = (usize, String)>,
    ) -> Result<u64, TransferError> {
        let sealer = self.sealer().ok_or(SealError::NoKey)?;
        let mut tx = self.pool().begin().await?;
        // Checkpoints without events would be sealed onto: empty means both.
        let (existing, checkpoints): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM log_checkpoints)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if existing > 0 || checkpoints > 0 {
            return Err(TransferError::NotEmpty(existing));
        }
        let mut heads: HashMap<String, (i64, Vec<u8>)> = HashMap::new();
        let mut count = 0;
        for (line, text) in lines {
            if text.trim().is_empty() {
                continue;
            }
            let event: StoredEvent =
                serde_json::from_str(&text).map_err(|err| TransferError::Invalid {
                    line,
                    message: err.to_string(),
                })?;
            if let Some(reason) = check_link(heads.get(&event.stream), &event) {
                return Err(TransferError::Invalid {
                    line,
                    message: format!(
                        "stream {} version {}: {reason}",
                        event.stream, event.version
                    ),
                });
            }
            heads.insert(event.stream.clone(), (event.version, event.hash.clone()));
            sqlx::query(
                "INSERT INTO events (position, stream, version, event_type, schema_version, payload, \
                   actor, source, correlation_id, causation_id, recorded_at, hash) \
                 OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(event.position)
            .bind(&event.stream)
            .bind(event.version)
            .bind(&event.event_type)
            .bind(event.schema_version)
            .bind(&event.payload)
            .bind(&event.actor)
            .bind(&event.source)
            .bind(event.correlation_id)
            .bind(event.causation_id)
            .bind(event.recorded_at)
            .bind(&event.hash)
            .execute(&mut *tx)
            .await?;
            count += 1;
        }
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('events', 'position'), \
                           greatest((SELECT max(position) FROM events), 1))",
        )
        .execute(&mut *tx)
        .await?;
        seal_backlog(&mut tx, sealer).await?;
        tx.commit().await?;
        Ok(count)
    }
}
