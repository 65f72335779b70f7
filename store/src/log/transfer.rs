//! Export and import of the log as NDJSON, one event per line with every stored
//! column, hash included. An import goes only into an empty log, keeps the
//! original positions and times, and re-checks every hash link as it reads, so
//! a file altered after export is refused rather than imported.

use super::hash::{event_hash, HashInput};
use super::read::{StoredEvent, EVENT_COLUMNS};
use super::EventLog;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// One exported event: the row, with the hash in hex.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedEvent {
    pub position: i64,
    pub stream: String,
    pub version: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
    pub actor: String,
    pub source: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    pub hash: String,
}

impl From<StoredEvent> for ExportedEvent {
    fn from(e: StoredEvent) -> Self {
        Self {
            position: e.position,
            stream: e.stream,
            version: e.version,
            event_type: e.event_type,
            schema_version: e.schema_version,
            payload: e.payload,
            actor: e.actor,
            source: e.source,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            recorded_at: e.recorded_at,
            hash: hex::encode(e.hash),
        }
    }
}

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
}

impl EventLog {
    /// Streams events (one stream, or all; from a time on) to `write`, in log order.
    pub async fn export(
        &self,
        stream: Option<&str>,
        since: Option<DateTime<Utc>>,
        mut write: impl FnMut(&ExportedEvent) -> std::io::Result<()>,
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
            write(&ExportedEvent::from(event))?;
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
        let mut tx = self.pool().begin().await?;
        let (existing,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            return Err(TransferError::NotEmpty(existing));
        }
        let mut heads: HashMap<String, (i64, Vec<u8>)> = HashMap::new();
        let mut count = 0;
        for (line, text) in lines {
            if text.trim().is_empty() {
                continue;
            }
            let event: ExportedEvent =
                serde_json::from_str(&text).map_err(|err| TransferError::Invalid {
                    line,
                    message: err.to_string(),
                })?;
            let hash = check_link(&mut heads, &event)
                .map_err(|message| TransferError::Invalid { line, message })?;
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
            .bind(hash)
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
        tx.commit().await?;
        Ok(count)
    }
}

/// The event must follow its stream's previous one, and its hash must be what
/// the chain gives.
fn check_link(
    heads: &mut HashMap<String, (i64, Vec<u8>)>,
    event: &ExportedEvent,
) -> Result<Vec<u8>, String> {
    let head = heads.entry(event.stream.clone()).or_default();
    if event.version != head.0 + 1 {
        return Err(format!(
            "stream {} version {} follows version {}",
            event.stream, event.version, head.0
        ));
    }
    let previous = (!head.1.is_empty()).then_some(head.1.as_slice());
    let computed = event_hash(
        previous,
        &HashInput {
            stream: &event.stream,
            version: event.version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: &event.payload,
            actor: &event.actor,
            source: event.source.as_deref(),
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            recorded_at: event.recorded_at,
        },
    );
    if hex::encode(computed) != event.hash {
        return Err(format!(
            "stream {} version {}: hash does not match its contents and chain",
            event.stream, event.version
        ));
    }
    *head = (event.version, computed.to_vec());
    Ok(computed.to_vec())
}
