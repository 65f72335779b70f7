//! The figures the service's `/metrics` and `/readyz` report, read in one
//! place: projection lag, projection failures by stage, live entities by kind.
//! It does not format them (the api does).

use crate::projection::{failures, lag, Lag};
use crate::StoreError;
use sqlx::PgPool;

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
