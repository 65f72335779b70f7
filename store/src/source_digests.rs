//! Source digests: ingest's operational memory of what each source's last
//! decision was made from, so that reading the same bytes again costs a read
//! and a hash instead of a parse and a decision.
//!
//! A row holds the digest (computed by ingest over its reader settings, the
//! origin, the key and the bytes) and the version of every stream the decision
//! depended on, right after it. A skip is valid only while all of those streams
//! are still at those versions: an entity of the source removed or changed
//! through the API, by another source or by a location removal moves a version,
//! and the source is decided again. Every decision of a source rewrites or
//! deletes its row in the decision's own transaction, so a row never outlives
//! the decision it describes.
//!
//! It is not history and not part of the log: losing every row costs one full
//! re-decision. It decides nothing and computes no digest itself.

use crate::{StoreError, Tx};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashMap;

/// What one decision of a source was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceDigest {
    pub source: String,
    pub origin: String,
    /// 32 bytes.
    pub digest: Vec<u8>,
    /// Entities the source held (live, managed by it) right after the decision.
    pub entities: i32,
    /// Every stream the decision depended on, with its version right after it
    /// (0: no event yet).
    pub streams: Vec<(String, i64)>,
    /// What the source leads to besides its own entities (a Location's targets as
    /// written), for a reader that skips it to follow; opaque here. `None`: nothing.
    pub targets: Option<Value>,
}

/// What a source's last decision was recorded with, as a reader needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub digest: Vec<u8>,
    /// [`SourceDigest::targets`] as JSON text: a reader parses it only for a source
    /// whose digest matched (building a value for every row cost more than the rest
    /// of loading them).
    pub targets: Option<String>,
}

/// The digest (and targets) recorded for every source read through `origin` (one
/// statement; no check of the streams: that is [`still_valid`]).
pub async fn recorded(
    pool: &PgPool,
    origin: &str,
) -> Result<HashMap<String, Recorded>, StoreError> {
    let rows: Vec<(String, Vec<u8>, Option<String>)> = sqlx::query_as(
        "SELECT source, digest, targets::text FROM source_digests WHERE origin = $1",
    )
    .bind(origin)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(source, digest, targets)| (source, Recorded { digest, targets }))
        .collect())
}

/// Of `candidates` (source, digest of the bytes just read), those whose
/// recorded digest is that digest and whose streams are all still at the
/// recorded versions, each with the number of candidates it held. One
/// statement, one index probe per stream.
pub async fn still_valid(
    pool: &PgPool,
    candidates: &[(String, Vec<u8>)],
) -> Result<HashMap<String, i32>, StoreError> {
    if candidates.is_empty() {
        return Ok(HashMap::new());
    }
    let sources: Vec<&str> = candidates.iter().map(|(s, _)| s.as_str()).collect();
    let digests: Vec<&[u8]> = candidates.iter().map(|(_, d)| d.as_slice()).collect();
    let mut tx = pool.begin().await?;
    no_jit(&mut tx).await?;
    // The candidates' rows first, found by their keys, then their streams. Left to
    // itself PostgreSQL checked the streams of every row of the table before the join,
    // or hashed the whole table for the join: each batch of candidates cost a pass over
    // all of them (14 batches of 400-900 ms on an unchanged 100k re-read; 60 ms now).
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "WITH d AS MATERIALIZED ( \
           SELECT d.source, d.entities, d.streams, d.versions \
           FROM source_digests d \
           JOIN unnest($1::text[], $2::bytea[]) AS r(source, digest) \
             ON d.source = r.source AND d.digest = r.digest \
           WHERE d.source = ANY($1)) \
         SELECT d.source, d.entities FROM d \
         WHERE NOT EXISTS ( \
           SELECT 1 FROM unnest(d.streams, d.versions) AS s(stream, version) \
           WHERE coalesce((SELECT max(e.version) FROM events e WHERE e.stream = s.stream), 0) \
                 <> s.version)",
    )
    .bind(&sources)
    .bind(&digests)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}

/// For the rest of this transaction: no JIT compilation. The whole-catalog
/// statements of a re-read (this check, ingest's vanished-file query) are
/// estimated costly enough for PostgreSQL to JIT-compile them, which took
/// 110-130 ms per statement on the 100k bench catalog, more than it saved.
pub(crate) async fn no_jit(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query("SET LOCAL jit = off").execute(conn).await?;
    Ok(())
}

/// Records what the sources of one ingest chunk were decided from, in the
/// chunk's transaction: `recorded` rows replace any earlier ones, and the rows
/// of `forgotten` (decided from something that cannot be skipped next time: a
/// Location, a placeholder, a push) are deleted.
pub async fn record(
    tx: &mut Tx,
    recorded: &[SourceDigest],
    forgotten: &[String],
) -> Result<(), StoreError> {
    let conn = tx.conn();
    if !forgotten.is_empty() {
        sqlx::query("DELETE FROM source_digests WHERE source = ANY($1)")
            .bind(forgotten)
            .execute(&mut *conn)
            .await?;
    }
    if recorded.is_empty() {
        return Ok(());
    }
    // Streams and versions travel flattened, each with the (1-based) number of its
    // row, and are gathered back per row by a hash aggregate: PostgreSQL arrays of
    // arrays must be rectangular, and slicing one flat parameter per row walked it
    // from the start each time (quadratic: 1.5 s of a cold 100k ingest).
    let mut streams = Vec::new();
    let mut versions = Vec::new();
    let mut owners = Vec::new();
    for (n, row) in recorded.iter().enumerate() {
        for (stream, version) in &row.streams {
            streams.push(stream.as_str());
            versions.push(*version);
            owners.push(n as i32 + 1);
        }
    }
    sqlx::query(
        "WITH r AS ( \
           SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int[], $8::jsonb[]) \
             WITH ORDINALITY AS r(source, origin, digest, entities, targets, n)), \
         s AS ( \
           SELECT owner, array_agg(stream ORDER BY k) AS streams, \
                  array_agg(version ORDER BY k) AS versions \
           FROM unnest($5::int[], $6::text[], $7::bigint[]) \
             WITH ORDINALITY AS s(owner, stream, version, k) \
           GROUP BY owner) \
         INSERT INTO source_digests \
           (source, origin, digest, entities, streams, versions, targets, decided_at) \
         SELECT r.source, r.origin, r.digest, r.entities, coalesce(s.streams, '{}'), \
                coalesce(s.versions, '{}'), r.targets, now() \
         FROM r LEFT JOIN s ON s.owner = r.n \
         ON CONFLICT (source) DO UPDATE SET origin = EXCLUDED.origin, digest = EXCLUDED.digest, \
           entities = EXCLUDED.entities, streams = EXCLUDED.streams, \
           versions = EXCLUDED.versions, targets = EXCLUDED.targets, \
           decided_at = EXCLUDED.decided_at",
    )
    .bind(
        recorded
            .iter()
            .map(|r| r.source.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        recorded
            .iter()
            .map(|r| r.origin.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        recorded
            .iter()
            .map(|r| r.digest.as_slice())
            .collect::<Vec<_>>(),
    )
    .bind(recorded.iter().map(|r| r.entities).collect::<Vec<_>>())
    .bind(&owners)
    .bind(&streams)
    .bind(&versions)
    .bind(
        recorded
            .iter()
            .map(|r| r.targets.as_ref().map(sqlx::types::Json))
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
