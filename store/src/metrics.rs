//! The figures the service's `/metrics` and `/readyz` report, read in one
//! place: projection lag, projection failures by stage, live entities by kind,
//! the freshness of each location; and the names of the figures the store records
//! as it works (appends, projector batches, statement timeouts, waits for a pooled
//! connection) through the `metrics` facade. It does not format them (the api does).

use crate::projection::{failures, lag, Lag};
use crate::StoreError;
use sqlx::PgPool;
use std::time::Duration;

pub const APPEND_DURATION: &str = "almanac_append_duration_seconds";
pub const APPEND_EVENTS: &str = "almanac_append_batch_events";
pub const PROJECTOR_BATCH_DURATION: &str = "almanac_projector_batch_duration_seconds";
pub const PROJECTOR_BATCH_EVENTS: &str = "almanac_projector_batch_events";
pub const STATEMENT_TIMEOUTS: &str = "almanac_statement_timeouts_total";
/// Acquires of a pooled connection in flight (sqlx counts no waiters itself).
pub const POOL_WAITING: &str = "almanac_db_pool_waiting";
/// Time from asking the pool for a connection to holding one.
pub const POOL_ACQUIRE: &str = "almanac_db_pool_acquire_seconds";

/// One append: its time, and the events it wrote (`None`: it failed).
pub(crate) fn appended(took: Duration, events: Option<usize>) {
    let outcome = if events.is_some() { "ok" } else { "failed" };
    metrics::histogram!(APPEND_DURATION, "outcome" => outcome).record(took.as_secs_f64());
    if let Some(events) = events {
        metrics::histogram!(APPEND_EVENTS).record(events as f64);
    }
}

/// One projector batch that folded `events`.
pub(crate) fn projected(took: Duration, events: usize) {
    metrics::histogram!(PROJECTOR_BATCH_DURATION).record(took.as_secs_f64());
    metrics::histogram!(PROJECTOR_BATCH_EVENTS).record(events as f64);
}

/// One acquire from the pool named `pool` in flight: counted in [`POOL_WAITING`]
/// until dropped, and its wait recorded in [`POOL_ACQUIRE`] once it holds a
/// connection ([`Waiting::acquired`]). A wait abandoned (the request's deadline,
/// the pool's own timeout) leaves the gauge on drop and records no time.
pub(crate) struct Waiting {
    pool: &'static str,
    started: std::time::Instant,
}

impl Waiting {
    pub(crate) fn start(pool: &'static str) -> Waiting {
        metrics::gauge!(POOL_WAITING, "pool" => pool).increment(1.0);
        Waiting {
            pool,
            started: std::time::Instant::now(),
        }
    }

    pub(crate) fn acquired(self) {
        metrics::histogram!(POOL_ACQUIRE, "pool" => self.pool)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        metrics::gauge!(POOL_WAITING, "pool" => self.pool).decrement(1.0);
    }
}

pub struct Gauges {
    pub lag: Lag,
    /// (stage, count), only the stages with failures.
    pub failures_by_stage: Vec<(String, i64)>,
    /// (kind, count) of live entities, by kind.
    pub entities_by_kind: Vec<(String, i64)>,
}

pub async fn gauges(pool: &PgPool) -> Result<Gauges, StoreError> {
    let lag = lag(pool).await?;
    let failures_by_stage = failures::count_by_stage(pool).await?;
    let entities_by_kind =
        sqlx::query_as("SELECT kind, count(*) FROM entities GROUP BY kind ORDER BY kind")
            .fetch_all(pool)
            .await?;
    Ok(Gauges {
        lag,
        failures_by_stage,
        entities_by_kind,
    })
}

/// The projection's lag and its total of failures, for readiness.
pub async fn projection_health(pool: &PgPool) -> Result<(Lag, i64), StoreError> {
    let lag = lag(pool).await?;
    let failed = failures::count_by_stage(pool).await?;
    Ok((lag, failed.iter().map(|(_, n)| n).sum::<i64>()))
}

/// How far the log's head is past `position` (a server's in-memory snapshot):
/// events, and the age in seconds of the oldest event not in it (0 when caught up).
pub async fn lag_after(pool: &PgPool, position: i64) -> Result<(i64, f64), StoreError> {
    let (head, seconds): (i64, f64) = sqlx::query_as(
        "SELECT coalesce((SELECT max(position) FROM events), 0), \
                coalesce((SELECT extract(epoch FROM clock_timestamp() - recorded_at)::float8 \
                          FROM events WHERE position > $1 ORDER BY position LIMIT 1), 0)",
    )
    .bind(position)
    .fetch_one(pool)
    .await?;
    Ok(((head - position).max(0), seconds))
}
