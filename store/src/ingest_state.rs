//! The current state `decide` needs for a chunk of sources, read under the
//! append lock so that nothing moves between the decision and its append: the
//! live entities those sources claim or their candidates name (from the
//! projection), checked against the stream heads of the log itself. A stream
//! the projection has not caught up with is folded from its events, so a
//! lagging projector can neither hide a registration nor revive a removal.
//! It does not wait for the projector, and does not take the lock itself. The
//! heads it reads are left with the transaction for the chunk's append.
//! Read by ingest's reconciler; it decides nothing (that is `domain::decide`).

use crate::history::{decode, HistoryError};
use crate::log::{StoredEvent, EVENT_COLUMNS};
use crate::{StoreError, Tx};
use almanac_domain::{fold, EntityState};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap};

/// Canonical ref -> stream state, for every stream a chunk touches.
pub type StateMap = HashMap<String, EntityState>;

/// The state of the streams `sources` claim and `refs` name, as of the log's
/// head. The caller holds the append lock in the same transaction.
pub async fn load_for_chunk(
    tx: &mut Tx,
    sources: &[String],
    refs: &[String],
) -> Result<StateMap, HistoryError> {
    let conn = tx.conn();
    let live: Vec<(String, i64, Value)> = sqlx::query_as(
        "SELECT ref, version, descriptor FROM entities WHERE source = ANY($1) OR ref = ANY($2)",
    )
    .bind(sources)
    .bind(refs)
    .fetch_all(&mut *conn)
    .await?;
    let mut map: StateMap = live
        .into_iter()
        .map(|(entity_ref, version, descriptor)| {
            (
                entity_ref,
                EntityState {
                    version,
                    descriptor: Some(descriptor),
                },
            )
        })
        .collect();
    let heads = settle(conn, &mut map, refs).await?;
    // The append of this chunk chains onto these heads without reading them again.
    tx.know_heads(heads);
    Ok(map)
}

/// Makes `map` agree with the log's stream heads: one query for the heads, and
/// one more (rare: only when the projection lags) for the lagging streams.
/// Returns the head (version, hash; `(0, [])` when empty) of every stream it
/// looked at.
async fn settle(
    conn: &mut PgConnection,
    map: &mut StateMap,
    refs: &[String],
) -> Result<HashMap<String, (i64, Vec<u8>)>, HistoryError> {
    let streams: BTreeSet<&str> = map
        .keys()
        .map(String::as_str)
        .chain(refs.iter().map(String::as_str))
        .collect();
    let streams: Vec<&str> = streams.into_iter().collect();
    let rows: Vec<(String, i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT DISTINCT ON (stream) stream, version, event_type, hash FROM events \
         WHERE stream = ANY($1) ORDER BY stream, version DESC",
    )
    .bind(&streams)
    .fetch_all(&mut *conn)
    .await?;
    let mut heads: HashMap<String, (i64, Vec<u8>)> = streams
        .iter()
        .map(|stream| (stream.to_string(), (0, Vec::new())))
        .collect();
    let mut lagging = Vec::new();
    for (stream, version, event_type, hash) in rows {
        heads.insert(stream.clone(), (version, hash));
        match map.get(&stream) {
            Some(state) if state.version == version => {}
            // Removed, and the projection agrees that nothing is live.
            None if event_type == "EntityRemoved" => {
                map.insert(
                    stream,
                    EntityState {
                        version,
                        descriptor: None,
                    },
                );
            }
            _ => lagging.push(stream),
        }
    }
    if lagging.is_empty() {
        return Ok(heads);
    }
    tracing::debug!(
        streams = lagging.len(),
        "projection lags: folding streams from the log"
    );
    let events: Vec<StoredEvent> = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ANY($1) ORDER BY stream, version"
    ))
    .bind(&lagging)
    .fetch_all(&mut *conn)
    .await?;
    for stream in events.chunk_by(|a, b| a.stream == b.stream) {
        let decoded = stream.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let Some(last) = stream.last() else {
            continue;
        };
        let state = fold(decoded.iter()).map_err(|err| HistoryError::Corrupt {
            position: last.position,
            message: err.to_string(),
        })?;
        match state {
            Some(state) => map.insert(last.stream.clone(), state),
            None => map.remove(&last.stream),
        };
    }
    Ok(heads)
}

/// Whether any live entity was read through one of `origins` (one index probe).
/// Asked before a run appends, with the projection at the log's head: an origin that
/// held nothing then can lose nothing to the run's own appends (every one of them is
/// from a source the run read), so its [`vanished`] query, a pass over every entity
/// of the catalog after the last append, can be left out.
pub async fn origins_hold_entities(
    pool: &sqlx::PgPool,
    origins: &[String],
) -> Result<bool, StoreError> {
    let (held,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM entities WHERE origin = ANY($1))")
            .bind(origins)
            .fetch_one(pool)
            .await?;
    Ok(held)
}

/// A live entity read through an origin: (ref, version, descriptor, source;
/// empty when it has none).
pub type OriginEntity = (String, i64, Value, String);

/// The live entities read through one of `origins` from a source not in `seen`:
/// what vanished from a fully read origin.
pub async fn vanished(
    tx: &mut Tx,
    origins: &[&str],
    seen: &[&str],
) -> Result<Vec<OriginEntity>, StoreError> {
    crate::source_digests::no_jit(tx.conn()).await?;
    // The seen keys are hashed in memory, not sorted on disk.
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(tx.conn())
        .await?;
    Ok(sqlx::query_as(
        // The sources no key read names, from the source index alone (an
        // index-only scan and one hashed look-up per entity), then only their
        // entities from the heap. Reading every entity of the origin and
        // filtering it read the whole table (its descriptors: 160 MB at 100k)
        // on every re-read, after the last append. One statement: one snapshot.
        // `OFFSET 0` keeps the per-source look-up an index scan.
        "WITH gone AS MATERIALIZED ( \
           SELECT DISTINCT x.source FROM entities x \
           WHERE x.source IS NOT NULL \
             AND x.source NOT IN (SELECT s.key FROM unnest($2::text[]) AS s(key))) \
         SELECT e.ref, e.version, e.descriptor, '' FROM entities e \
         WHERE e.source IS NULL AND e.origin = ANY($1) \
         UNION ALL \
         SELECT e.ref, e.version, e.descriptor, e.source FROM gone g \
         CROSS JOIN LATERAL ( \
           SELECT * FROM entities e WHERE e.source = g.source AND e.origin = ANY($1) \
           OFFSET 0) e \
         ORDER BY 1",
    )
    .bind(origins)
    .bind(seen)
    .fetch_all(tx.conn())
    .await?)
}
