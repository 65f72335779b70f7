//! The freshness of each registered location (`location_reads`, operational
//! state): the one writer, called after every read of a location, and the one
//! reader, `/metrics`. It does not read locations (ingest does) or decide what
//! a failed read is (ingest's `read_location` does).

use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Longest reason kept for a failed read.
const MAX_ERROR_CHARS: usize = 500;

/// Records a read of the location whose origin is `origin`: `failure` is why it
/// failed, `None` for a success.
pub async fn record(pool: &PgPool, origin: &str, failure: Option<&str>) -> Result<(), StoreError> {
    let failure: Option<String> = failure.map(|f| f.chars().take(MAX_ERROR_CHARS).collect());
    sqlx::query(
        "INSERT INTO location_reads AS r (origin, attempted_at, succeeded_at, failures_in_a_row, last_error) \
         VALUES ($1, now(), CASE WHEN $2::text IS NULL THEN now() END, \
                 CASE WHEN $2::text IS NULL THEN 0 ELSE 1 END, $2) \
         ON CONFLICT (origin) DO UPDATE SET attempted_at = now(), \
           succeeded_at = CASE WHEN $2::text IS NULL THEN now() ELSE r.succeeded_at END, \
           failures_in_a_row = CASE WHEN $2::text IS NULL THEN 0 ELSE r.failures_in_a_row + 1 END, \
           last_error = $2",
    )
    .bind(origin)
    .bind(failure)
    .execute(pool)
    .await?;
    Ok(())
}

/// A location's freshness figures.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Freshness {
    pub origin: String,
    pub attempted_at: Option<DateTime<Utc>>,
    pub succeeded_at: Option<DateTime<Utc>>,
    /// Reads that failed since the last success (0 for a location never read).
    pub failures_in_a_row: i32,
    /// Live entities read through it.
    pub entities: i64,
}

/// The figures of the locations whose origins are `origins` (one per origin,
/// in that order; a location never read has no times).
pub async fn freshness(pool: &PgPool, origins: &[String]) -> Result<Vec<Freshness>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT o.origin, r.attempted_at, r.succeeded_at, \
                coalesce(r.failures_in_a_row, 0) AS failures_in_a_row, \
                (SELECT count(*) FROM entities e WHERE e.origin = o.origin) AS entities \
         FROM unnest($1::text[]) WITH ORDINALITY AS o(origin, n) \
         LEFT JOIN location_reads r ON r.origin = o.origin ORDER BY o.n",
    )
    .bind(origins)
    .fetch_all(pool)
    .await?)
}
