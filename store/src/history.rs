//! An entity's past, straight from its stream: what it looked like at a time or
//! a version (the events folded up to there), and the relations it declared
//! then. Projections only know the present; this reads the log.

use crate::log::{EventLog, StoredEvent, EVENT_COLUMNS};
use almanac_domain::{fold, CatalogEvent, DeclaredRelation, Entity, EntityState};
use chrono::{DateTime, Utc};

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
            .clone()
            .and_then(|d| Entity::from_value(d).ok())
            .map(|e| e.relations())
            .unwrap_or_default()
    }
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

impl EventLog {
    /// The stream folded up to `point`; `None` when it did not exist yet.
    pub async fn entity_at(
        &self,
        stream: &str,
        point: PointInTime,
    ) -> Result<Option<PastEntity>, HistoryError> {
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
        let Some(last) = events.last() else {
            return Ok(None);
        };
        let decoded = events.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let state: Option<EntityState> =
            fold(decoded.iter()).map_err(|err| HistoryError::Corrupt {
                position: last.position,
                message: err.to_string(),
            })?;
        Ok(state.map(|state| PastEntity {
            version: state.version,
            recorded_at: last.recorded_at,
            descriptor: state.descriptor,
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
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        let (comparison, order) = if newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 \
               AND ($2::int8 IS NULL OR version {comparison} $2) \
             ORDER BY version {order} LIMIT $3"
        ))
        .bind(stream)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// One stream's events from version 1 through `through` (inclusive), in
    /// version order: what a page of history folds once to know each event's
    /// state before and after.
    pub async fn read_stream_through(
        &self,
        stream: &str,
        through: i64,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version <= $2 \
             ORDER BY version"
        ))
        .bind(stream)
        .bind(through)
        .fetch_all(self.pool())
        .await
    }
}
