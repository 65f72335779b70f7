//! An entity's past, straight from its stream: what it looked like at a time or
//! a version, the entity and relation rows of such a snapshot, what each event
//! changed, and pages of a stream's events. Projections only know the present;
//! this reads the log.
//!
//! It folds nothing itself: the fold is `domain::history`, and the rows are
//! the projection's own (`projection::rows`). Here are only the reads, the
//! decoding of stored events, and placing a fold's error at its log position.

use std::collections::{HashMap, HashSet};

use crate::catalog::{EntityRecord, RelationRecord};
use crate::log::{EventLog, StoredEvent, EVENT_COLUMNS};
use crate::projection::rows::{columns, declared_rows, entity_uid};
use crate::StoreError;
use almanac_domain::history::{self, EventChanges};
use almanac_domain::{relations, CatalogEvent, DeclaredRelation, EntityState, FoldError};
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("database error reading history: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored event {position} cannot be read: {message}")]
    Corrupt { position: i64, message: String },
}

/// Which point of a stream's past.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointInTime {
    AsOf(DateTime<Utc>),
    Version(i64),
}

/// An entity as it was: `descriptor` is `None` when it had been removed by then.
#[derive(Clone, Debug, PartialEq)]
pub struct PastEntity {
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub descriptor: Option<serde_json::Value>,
}

impl PastEntity {
    /// The relations its descriptor declared then (none if it no longer validates).
    pub fn relations(&self) -> Vec<DeclaredRelation> {
        self.descriptor
            .as_ref()
            .and_then(|d| relations::of_descriptor(d).ok())
            .unwrap_or_default()
    }
}

/// A live entity as it was, in the rows the catalog reads: its entity row built
/// from the old descriptor, and the relations that descriptor declared (outgoing
/// only: inverses other entities declared then are not reconstructed).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub record: EntityRecord,
    pub relations: Vec<RelationRecord>,
}

pub fn decode(event: &StoredEvent) -> Result<CatalogEvent, HistoryError> {
    CatalogEvent::decode(
        &event.event_type,
        event.schema_version,
        event.payload.clone(),
    )
    .map_err(|err| HistoryError::Corrupt {
        position: event.position,
        message: err.to_string(),
    })
}

/// A stream's stored events decoded, in the same order.
pub fn decode_all(events: &[StoredEvent]) -> Result<Vec<CatalogEvent>, HistoryError> {
    events.iter().map(decode).collect()
}

/// A fold error of `events`, placed at the event it names (the last one if absent).
fn corrupt(events: &[StoredEvent], error: &FoldError) -> HistoryError {
    let at = events
        .iter()
        .find(|e| e.version == error.version())
        .or(events.last());
    HistoryError::Corrupt {
        position: at.map_or(0, |e| e.position),
        message: error.to_string(),
    }
}

/// The descriptor after `version` of `events` (one stream from version 1, in
/// order); `None` when it was removed then or not there yet.
pub fn descriptor_at(events: &[StoredEvent], version: i64) -> Result<Option<Value>, HistoryError> {
    let decoded = decode_all(events)?;
    let state = history::state_at(&decoded, version).map_err(|err| corrupt(events, &err))?;
    Ok(state.and_then(|s| s.descriptor))
}

/// What each event of `events` (one stream from version 1, in order) whose
/// version is in `wanted` changed; the stream is folded once.
pub fn changes_by_version(
    events: &[StoredEvent],
    wanted: &HashSet<i64>,
) -> Result<HashMap<i64, EventChanges>, HistoryError> {
    let decoded = decode_all(events)?;
    history::changes_by_version(&decoded, |version| wanted.contains(&version))
        .map_err(|err| corrupt(events, &err))
}

/// A stream's events up to `point`, folded.
struct Folded {
    events: Vec<StoredEvent>,
    decoded: Vec<CatalogEvent>,
    state: EntityState,
    /// When the last of them was recorded.
    recorded_at: DateTime<Utc>,
}

impl EventLog {
    /// The stream folded up to `point`; `None` when it did not exist yet.
    pub async fn entity_at(
        &self,
        stream: &str,
        point: PointInTime,
    ) -> Result<Option<PastEntity>, HistoryError> {
        Ok(self
            .folded_at(stream, point)
            .await?
            .map(|folded| PastEntity {
                version: folded.state.version,
                recorded_at: folded.recorded_at,
                descriptor: folded.state.descriptor,
            }))
    }

    /// The entity `stream` names as it was at `point`, as rows; `None` before it
    /// existed, while it was removed, and for a version past the stream's end.
    pub async fn snapshot(
        &self,
        stream: &str,
        point: PointInTime,
    ) -> Result<Option<Snapshot>, HistoryError> {
        let Some(folded) = self.folded_at(stream, point).await? else {
            return Ok(None);
        };
        let Some(descriptor) = folded.state.descriptor else {
            return Ok(None);
        };
        let version = folded.state.version;
        // A version past the end is not a point of the stream's past.
        if matches!(point, PointInTime::Version(v) if v != version) {
            return Ok(None);
        }
        // The registration that started this life of the entity: its uid and creation.
        let Some(registered) = history::registered_version(&folded.decoded, version)
            .and_then(|v| folded.events.iter().find(|e| e.version == v))
        else {
            return Err(HistoryError::Corrupt {
                position: folded.events.last().map_or(0, |e| e.position),
                message: format!("{stream} is live at version {version} with no registration"),
            });
        };
        let c = columns(&descriptor);
        let relations = declared_rows(&descriptor)
            .into_iter()
            .map(|row| RelationRecord {
                source_ref: row.source_ref,
                relation: row.relation,
                target_ref: row.target_ref,
                declared_by: row.declared_by,
                field: row.field,
            })
            .collect();
        let record = EntityRecord {
            entity_ref: stream.to_string(),
            uid: entity_uid(stream, registered.position),
            kind: c.kind,
            namespace: c.namespace,
            name: c.name,
            title: c.title,
            description: c.description,
            spec_type: c.spec_type,
            lifecycle: c.lifecycle,
            owner_ref: c.owner_ref,
            tags: serde_json::from_value(c.tags).unwrap_or_default(),
            labels: c.labels,
            annotations: c.annotations,
            source: c.source,
            origin: c.origin,
            version,
            created_at: registered.recorded_at,
            updated_at: folded.recorded_at,
            descriptor,
        };
        Ok(Some(Snapshot { record, relations }))
    }

    /// The stream's events up to `point` (by time or by version), folded by
    /// `domain::history`; `None` when there were none.
    async fn folded_at(
        &self,
        stream: &str,
        point: PointInTime,
    ) -> Result<Option<Folded>, HistoryError> {
        let (as_of, version) = match point {
            PointInTime::AsOf(time) => (Some(time), None),
            PointInTime::Version(version) => (None, Some(version)),
        };
        let events: Vec<StoredEvent> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 \
               AND ($2::timestamptz IS NULL OR recorded_at <= $2) \
               AND ($3::int8 IS NULL OR version <= $3) ORDER BY version"
        ))
        .bind(stream)
        .bind(as_of)
        .bind(version)
        .fetch_all(self.pool())
        .await?;
        let Some(recorded_at) = events.last().map(|e| e.recorded_at) else {
            return Ok(None);
        };
        let decoded = decode_all(&events)?;
        let state = match point {
            PointInTime::AsOf(time) => {
                history::state_at_time(events.iter().map(|e| &e.recorded_at).zip(&decoded), &time)
            }
            PointInTime::Version(version) => history::state_at(&decoded, version),
        }
        .map_err(|err| corrupt(&events, &err))?;
        Ok(state.map(|state| Folded {
            events,
            decoded,
            state,
            recorded_at,
        }))
    }

    /// A page of one stream's events, by version: after `after` (exclusive), up
    /// to `limit`, oldest or newest first.
    pub async fn history_page(
        &self,
        stream: &str,
        after: Option<i64>,
        limit: i64,
        newest_first: bool,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (comparison, order) = if newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        Ok(sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 \
               AND ($2::int8 IS NULL OR version {comparison} $2) \
             ORDER BY version {order} LIMIT $3"
        ))
        .bind(stream)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// One stream's events from version 1 through `through` (inclusive), in
    /// version order: what a page of history folds once to know each event's
    /// state before and after.
    pub async fn read_stream_through(
        &self,
        stream: &str,
        through: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version <= $2 \
             ORDER BY version"
        ))
        .bind(stream)
        .bind(through)
        .fetch_all(self.pool())
        .await?)
    }
}
