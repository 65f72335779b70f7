//! Appending to the log: a batch of events for one or more streams, in one
//! transaction, each stream checked against the version its writer expected.

use super::hash::{event_hash_with_payload, HashInput};
use super::notify::EVENTS_CHANNEL;
use super::seal::{seal_append, SealError, Sealer};
use super::{EventLog, APPEND_LOCK_KEY};
use almanac_domain::canonical::{canonical, is_canonical};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use sqlx::postgres::PgDatabaseError;
use sqlx::PgConnection;
use std::collections::HashMap;
use tracing::Instrument;
use uuid::Uuid;

/// One event to append, before the log gives it a position and a version.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
}

/// Events for one stream, with the stream version the writer last saw
/// (0 for a stream that does not exist yet).
#[derive(Clone, Debug)]
pub struct StreamAppend {
    pub stream: String,
    pub expected_version: i64,
    pub events: Vec<NewEvent>,
    /// Where these events came from, when it differs from [`AppendMeta::source`]
    /// (one ingest transaction carries many files).
    pub source: Option<String>,
}

/// Who appends, from where, and why. Shared by every event of one append.
#[derive(Clone, Debug, Default)]
pub struct AppendMeta {
    /// A token's subject, or `ingest:<source>` for scheduled reads.
    pub actor: String,
    /// The location, file or URL the change came from.
    pub source: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// A retried append with the same key writes nothing and returns the
    /// positions of the first.
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppendOutcome {
    /// One position per appended event, in the order they were given.
    pub positions: Vec<i64>,
    /// True when the idempotency key had been seen: nothing was written.
    pub replayed: bool,
}

impl AppendOutcome {
    pub fn last_position(&self) -> Option<i64> {
        self.positions.iter().copied().max()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("stream {stream} is at version {actual}, the append expected {expected}")]
    Conflict {
        stream: String,
        expected: i64,
        actual: i64,
    },
    #[error("a concurrent append to the same stream won (SQLSTATE {0})")]
    ConcurrentConflict(String),
    /// The database refused a registration on a stream whose entity is live
    /// (trigger of `migrations/0004_single_registration.sql`).
    #[error("stream {stream} already holds a live entity: it cannot be registered again")]
    AlreadyRegistered { stream: String },
    #[error("database error while appending: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl EventLog {
    /// Appends in a transaction of its own.
    pub async fn append(
        &self,
        batch: &[StreamAppend],
        meta: &AppendMeta,
    ) -> Result<AppendOutcome, AppendError> {
        let mut tx = self.pool.begin().await?;
        let outcome = append_in(&mut tx, batch, meta, self.sealer()).await?;
        tx.commit().await.map_err(map_conflict)?;
        Ok(outcome)
    }
}

/// Takes the append lock for the rest of the caller's transaction: a writer
/// that must read stream heads and decide before it appends takes it first, so
/// nothing moves between its reads and its append ([`append_in`] takes it again,
/// which is free).
pub async fn lock_appends(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stream heads (version, hash of the last event; `(0, [])` for an empty
/// stream) read under the append lock earlier in the same transaction, so the
/// append need not read them again. Kept current by the appends it serves.
pub(crate) type KnownHeads = HashMap<String, (i64, Vec<u8>)>;

/// Appends inside the caller's transaction, sealed with `sealer` (none: refused
/// with [`SealError::NoKey`]); the events become visible (and readers are woken)
/// when the caller commits.
pub async fn append_in(
    conn: &mut PgConnection,
    batch: &[StreamAppend],
    meta: &AppendMeta,
    sealer: Option<&Sealer>,
) -> Result<AppendOutcome, AppendError> {
    append_known(conn, batch, meta, sealer, &mut KnownHeads::new()).await
}

/// [`append_in`], taking the heads of the streams in `known` as read (the
/// caller read them under the append lock in this transaction) and reading only
/// the others; `known` then holds the heads after this append. Timed and
/// counted (`crate::metrics`).
pub(crate) async fn append_known(
    conn: &mut PgConnection,
    batch: &[StreamAppend],
    meta: &AppendMeta,
    sealer: Option<&Sealer>,
    known: &mut KnownHeads,
) -> Result<AppendOutcome, AppendError> {
    let started = std::time::Instant::now();
    let outcome = append_planned(conn, batch, meta, sealer, known)
        .instrument(tracing::debug_span!("append", streams = batch.len()))
        .await;
    crate::metrics::appended(
        started.elapsed(),
        outcome.as_ref().ok().map(|o| o.positions.len()),
    );
    outcome
}

async fn append_planned(
    conn: &mut PgConnection,
    batch: &[StreamAppend],
    meta: &AppendMeta,
    sealer: Option<&Sealer>,
    known: &mut KnownHeads,
) -> Result<AppendOutcome, AppendError> {
    // The lock serialises appends so that position order is commit order; its
    // clock reading is the recorded time of the whole batch.
    let (recorded_at,): (DateTime<Utc>,) =
        sqlx::query_as("SELECT clock_timestamp() FROM pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await?;
    // PostgreSQL keeps microseconds: hash what will be stored.
    let recorded_at = recorded_at
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(recorded_at);

    if let Some(key) = &meta.idempotency_key {
        let seen: Option<(Vec<i64>,)> =
            sqlx::query_as("SELECT positions FROM append_requests WHERE idempotency_key = $1")
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((positions,)) = seen {
            return Ok(AppendOutcome {
                positions,
                replayed: true,
            });
        }
    }

    let rows = plan_rows(conn, batch, meta, recorded_at, known).await?;
    if rows.stream.is_empty() {
        return Ok(AppendOutcome {
            positions: Vec::new(),
            replayed: false,
        });
    }
    let inserted: Vec<(String, i64, i64)> = sqlx::query_as(
        "INSERT INTO events (stream, version, event_type, schema_version, payload, actor, \
             source, correlation_id, causation_id, recorded_at, hash) \
         SELECT s, v, t, sv, p::jsonb, $6, src, $8, $9, $10, h \
         FROM unnest($1::text[], $2::int8[], $3::text[], $4::int4[], $5::text[], $11::bytea[], \
                     $7::text[]) AS u(s, v, t, sv, p, h, src) \
         RETURNING stream, version, position",
    )
    .bind(&rows.stream)
    .bind(&rows.version)
    .bind(&rows.event_type)
    .bind(&rows.schema_version)
    .bind(&rows.payload)
    .bind(&meta.actor)
    .bind(&rows.source)
    .bind(meta.correlation_id)
    .bind(meta.causation_id)
    .bind(recorded_at)
    .bind(&rows.hash)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_conflict)?;

    let by_key: HashMap<(&str, i64), i64> = inserted
        .iter()
        .map(|(stream, version, position)| ((stream.as_str(), *version), *position))
        .collect();
    let positions: Vec<i64> = rows
        .stream
        .iter()
        .zip(&rows.version)
        .filter_map(|(stream, version)| by_key.get(&(*stream, *version)).copied())
        .collect();

    if let Some(key) = &meta.idempotency_key {
        sqlx::query("INSERT INTO append_requests (idempotency_key, positions) VALUES ($1, $2)")
            .bind(key)
            .bind(&positions)
            .execute(&mut *conn)
            .await
            .map_err(map_conflict)?;
    }
    // The signed checkpoint commits with the events, or neither does.
    seal_append(
        conn,
        sealer,
        &positions,
        &rows.stream,
        &rows.version,
        &rows.hash,
    )
    .await?;
    let last = positions.iter().copied().max().unwrap_or_default();
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(last.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(AppendOutcome {
        positions,
        replayed: false,
    })
}

/// Column arrays for one bulk insert: one round trip whatever the batch size.
/// Borrowed from the batch; each payload is printed once, as compact canonical
/// JSON, and that text is both hashed and sent (PostgreSQL parses it to jsonb).
struct Rows<'a> {
    stream: Vec<&'a str>,
    version: Vec<i64>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i32>,
    payload: Vec<String>,
    hash: Vec<Vec<u8>>,
    source: Vec<Option<&'a str>>,
}

/// Checks every stream's expected version against its head (read under the
/// append lock, so nothing moves meanwhile: from `heads` where the caller read
/// it, else here) and chains the hashes; `heads` then holds the new heads.
async fn plan_rows<'a>(
    conn: &mut PgConnection,
    batch: &'a [StreamAppend],
    meta: &'a AppendMeta,
    recorded_at: DateTime<Utc>,
    heads: &mut KnownHeads,
) -> Result<Rows<'a>, AppendError> {
    let unknown: Vec<&str> = batch
        .iter()
        .map(|s| s.stream.as_str())
        .filter(|stream| !heads.contains_key(*stream))
        .collect();
    if !unknown.is_empty() {
        let read: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT DISTINCT ON (stream) stream, version, hash FROM events \
             WHERE stream = ANY($1) ORDER BY stream, version DESC",
        )
        .bind(&unknown)
        .fetch_all(&mut *conn)
        .await?;
        heads.extend(
            read.into_iter()
                .map(|(stream, version, hash)| (stream, (version, hash))),
        );
    }

    let events: usize = batch.iter().map(|s| s.events.len()).sum();
    let mut rows = Rows {
        stream: Vec::with_capacity(events),
        version: Vec::with_capacity(events),
        event_type: Vec::with_capacity(events),
        schema_version: Vec::with_capacity(events),
        payload: Vec::with_capacity(events),
        hash: Vec::with_capacity(events),
        source: Vec::with_capacity(events),
    };
    for append in batch {
        let head = heads.entry(append.stream.clone()).or_default();
        if head.0 != append.expected_version {
            return Err(AppendError::Conflict {
                stream: append.stream.clone(),
                expected: append.expected_version,
                actual: head.0,
            });
        }
        let source = append.source.as_deref().or(meta.source.as_deref());
        for event in &append.events {
            // Hash what jsonb will give back (no -0.0, no 1e18 as a float): see
            // `almanac_domain::canonical`. Done here so that every writer's payload
            // is; copied only when a number must change.
            let payload = if is_canonical(&event.payload) {
                event.payload.to_string()
            } else {
                canonical(event.payload.clone()).to_string()
            };
            let version = head.0 + 1;
            let previous = (!head.1.is_empty()).then_some(head.1.as_slice());
            let hash = event_hash_with_payload(
                previous,
                &HashInput {
                    stream: &append.stream,
                    version,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    payload: &event.payload,
                    actor: &meta.actor,
                    source,
                    correlation_id: meta.correlation_id,
                    causation_id: meta.causation_id,
                    recorded_at,
                },
                payload.as_bytes(),
            );
            *head = (version, hash.to_vec());
            rows.stream.push(&append.stream);
            rows.version.push(version);
            rows.event_type.push(&event.event_type);
            rows.schema_version.push(event.schema_version);
            rows.payload.push(payload);
            rows.hash.push(hash.to_vec());
            rows.source.push(source);
        }
    }
    Ok(rows)
}

/// SQLSTATE the log's insert trigger raises for a second live registration.
const ALREADY_REGISTERED: &str = "AL001";

/// A unique violation or a serialisation failure means another writer got there
/// first; `AL001` that the stream's entity is live already. Decided by SQLSTATE,
/// never by message text (the trigger puts the stream in DETAIL).
fn map_conflict(err: sqlx::Error) -> AppendError {
    if let sqlx::Error::Database(db) = &err {
        if let Some(code) = db.code() {
            if code == "23505" || code == "40001" {
                return AppendError::ConcurrentConflict(code.into_owned());
            }
            if code == ALREADY_REGISTERED {
                let stream = db
                    .try_downcast_ref::<PgDatabaseError>()
                    .and_then(PgDatabaseError::detail)
                    .unwrap_or_default()
                    .to_string();
                return AppendError::AlreadyRegistered { stream };
            }
        }
    }
    AppendError::Database(err)
}
