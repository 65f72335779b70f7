//! Read-your-writes and lag: a write returns its log position, and a reader
//! waits (briefly, with a timeout) until the projector has passed it.

use super::{ProjectionError, CATALOG_PROJECTOR};
use crate::StoreError;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// The position the catalog projection has reached (0 before its first batch).
pub async fn checkpoint(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(reached(pool).await?)
}

async fn reached(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT position FROM projection_checkpoints WHERE projector = $1")
            .bind(CATALOG_PROJECTOR)
            .fetch_optional(pool)
            .await?;
    Ok(row.map_or(0, |(p,)| p))
}

/// Returns once the catalog projection includes `position`.
pub async fn wait_for_position(
    pool: &PgPool,
    position: i64,
    timeout: Duration,
) -> Result<(), ProjectionError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let reached = reached(pool).await?;
        if reached >= position {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(ProjectionError::WaitTimeout {
                position,
                reached,
                waited_ms: start.elapsed().as_millis(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// How far the catalog projection trails the log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lag {
    pub head: i64,
    pub checkpoint: i64,
    pub events: i64,
    /// Age of the oldest event not yet projected (0 when caught up).
    pub seconds: f64,
}

pub async fn lag(pool: &PgPool) -> Result<Lag, StoreError> {
    let (head, checkpoint, seconds): (i64, i64, f64) = sqlx::query_as(
        "WITH c AS (SELECT coalesce((SELECT position FROM projection_checkpoints \
                                     WHERE projector = $1), 0) AS position) \
         SELECT coalesce((SELECT max(position) FROM events), 0), c.position, \
                coalesce((SELECT extract(epoch FROM clock_timestamp() - recorded_at)::float8 \
                          FROM events WHERE position > c.position ORDER BY position LIMIT 1), 0) \
         FROM c",
    )
    .bind(CATALOG_PROJECTOR)
    .fetch_one(pool)
    .await?;
    Ok(Lag {
        head,
        checkpoint,
        events: (head - checkpoint).max(0),
        seconds,
    })
}
