//! Reading the log: one stream by version, or the global feed after a cursor.
//!
//! The feed is skip-free because appends commit in position order (see
//! `append.rs`): a plain `position > cursor` never passes over an event that
//! commits later with a smaller position.

use super::EventLog;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// An event as stored; also the line format of `almanac export` (NDJSON, the
/// hash in hex).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
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
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
}

impl StoredEvent {
    /// The fields its hash covers, as stored: what `verify` recomputes.
    pub fn hash_input(&self) -> super::HashInput<'_> {
        super::HashInput {
            stream: &self.stream,
            version: self.version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: &self.payload,
            actor: &self.actor,
            source: self.source.as_deref(),
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            recorded_at: self.recorded_at,
        }
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

pub const EVENT_COLUMNS: &str = "position, stream, version, event_type, schema_version, \
     payload, actor, source, correlation_id, causation_id, recorded_at, hash";

/// Narrows the global feed (the audit view).
#[derive(Clone, Debug, Default)]
pub struct FeedFilter {
    pub actor: Option<String>,
    /// Entity kinds, matched case-insensitively on the stream's `kind:` prefix.
    pub kinds: Option<Vec<String>>,
    pub streams: Option<Vec<String>>,
    pub event_types: Option<Vec<String>>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl EventLog {
    /// Events of one stream with a version at or above `from_version`.
    pub async fn read_stream(
        &self,
        stream: &str,
        from_version: i64,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version >= $2 ORDER BY version"
        ))
        .bind(stream)
        .bind(from_version)
        .fetch_all(&self.pool)
        .await
    }

    /// Up to `limit` events after `after` (a position; 0 reads from the start).
    pub async fn read_feed(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, sqlx::Error> {
        self.read_feed_filtered(after, limit, &FeedFilter::default())
            .await
    }

    /// The feed narrowed by a filter; the cursor stays a plain position.
    pub async fn read_feed_filtered(
        &self,
        after: i64,
        limit: i64,
        filter: &FeedFilter,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 \
               AND ($3::text IS NULL OR actor = $3) \
               AND ($4::text[] IS NULL OR stream = ANY($4)) \
               AND ($5::text[] IS NULL OR event_type = ANY($5)) \
               AND ($6::timestamptz IS NULL OR recorded_at >= $6) \
               AND ($7::timestamptz IS NULL OR recorded_at < $7) \
               AND ($8::text[] IS NULL OR split_part(stream, ':', 1) = ANY($8)) \
             ORDER BY position LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .bind(&filter.actor)
        .bind(&filter.streams)
        .bind(&filter.event_types)
        .bind(filter.since)
        .bind(filter.until)
        .bind(
            filter
                .kinds
                .as_ref()
                .map(|kinds| kinds.iter().map(|k| k.to_lowercase()).collect::<Vec<_>>()),
        )
        .fetch_all(&self.pool)
        .await
    }

    /// The newest position in the log (0 when empty).
    pub async fn head_position(&self) -> Result<i64, sqlx::Error> {
        let (head,): (Option<i64>,) = sqlx::query_as("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(head.unwrap_or(0))
    }
}

/// The version of a stream's last event and its type, from the log itself, in the
/// caller's transaction (which holds the append lock when it decides on it).
pub(crate) async fn stream_head(
    conn: &mut sqlx::PgConnection,
    stream: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, event_type FROM events WHERE stream = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(stream)
    .fetch_optional(conn)
    .await
}
