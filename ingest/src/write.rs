//! The one path by which ingest writes the log: events decided by `domain::decide`
//! (reads, pushes, deletes, locations added or removed) appended inside the caller's
//! transaction, which took the append lock before it read the state they were decided
//! on. It decides nothing and commits nothing: the caller commits, with whatever else
//! the same transaction records.

use crate::IngestError;
use almanac_domain::{CatalogEvent, PendingEvent};
use almanac_store::{AppendMeta, EventLog, NewEvent, StreamAppend, Tx};

/// Begins a transaction on `log` (its appends sign with the log's key) that holds the
/// append lock: what it reads next is what its decisions are appended to.
pub(crate) async fn begin_locked(log: &EventLog) -> Result<Tx, IngestError> {
    let mut tx = log.begin().await?;
    tx.lock_appends().await?;
    Ok(tx)
}

/// A decided event on its way to the log; `source` (empty: none) says where it came
/// from when that differs from the append's [`AppendMeta::source`].
pub(crate) fn stream_append(pending: PendingEvent, source: &str) -> StreamAppend {
    StreamAppend {
        stream: pending.stream,
        expected_version: pending.expected_version,
        events: vec![new_event(pending.event)],
        source: (!source.is_empty()).then(|| source.to_string()),
    }
}

/// Appends `appends` in `tx`: the position of the last event, `None` when there was
/// nothing to append. A stream that moved is [`IngestError::Conflict`].
pub(crate) async fn append(
    tx: &mut Tx,
    appends: &[StreamAppend],
    meta: &AppendMeta,
) -> Result<Option<i64>, IngestError> {
    if appends.is_empty() {
        return Ok(None);
    }
    let outcome = tx
        .append(appends, meta)
        .await
        .map_err(IngestError::from_append)?;
    Ok(outcome.last_position())
}

fn new_event(event: CatalogEvent) -> NewEvent {
    NewEvent {
        event_type: event.event_type().to_string(),
        schema_version: event.schema_version(),
        payload: event.into_payload(),
    }
}
