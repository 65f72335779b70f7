//! Read-your-writes and lag: a write returns its log position, and a reader
//! waits (briefly, with a timeout) until the projector has passed it.
//!
//! The wait is woken by the projector: every checkpoint it commits notifies
//! [`PROJECTED_CHANNEL`] with the position (in the batch's transaction, so the
//! notification arrives only once the rows are visible). The checkpoint row stays
//! the truth: the waiter reads it before listening ends and again every
//! [`RECHECK`], so a lost notification (or a listener that cannot connect) costs
//! a little time, never correctness. This module does not wait for the in-memory
//! catalog (`follow::Followed::reach` does that, on the follower's own channel).

use super::{ProjectionError, CATALOG_PROJECTOR};
use crate::StoreError;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// The channel a committed projection checkpoint notifies, with its position.
pub const PROJECTED_CHANNEL: &str = "almanac_projected";
/// How often a waiter reads the checkpoint again when no notification came.
const RECHECK: Duration = Duration::from_millis(500);

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
    if reached(pool).await? >= position {
        return Ok(());
    }
    let mut listener = listen(pool).await;
    loop {
        // Read after listening began: a checkpoint committed before is seen here, one
        // committed after notifies.
        let reached = reached(pool).await?;
        if reached >= position {
            return Ok(());
        }
        let Some(left) = timeout
            .checked_sub(start.elapsed())
            .filter(|d| !d.is_zero())
        else {
            return Err(ProjectionError::WaitTimeout {
                position,
                reached,
                waited_ms: start.elapsed().as_millis(),
            });
        };
        let pause = left.min(RECHECK);
        let Some(active) = listener.as_mut() else {
            tokio::time::sleep(pause.min(Duration::from_millis(50))).await;
            continue;
        };
        match tokio::time::timeout(pause, notified_at_least(active, position)).await {
            Ok(Ok(true)) => return Ok(()),
            Ok(Ok(false)) | Err(_) => {}
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "projection listener failed; reading the checkpoint instead");
                listener = None;
            }
        }
    }
}

/// Waits for a notification of a checkpoint at or past `position`: true, or false when a
/// notification's payload did not parse (the caller reads the checkpoint).
async fn notified_at_least(listener: &mut PgListener, position: i64) -> Result<bool, sqlx::Error> {
    loop {
        let notification = listener.recv().await?;
        match notification.payload().parse::<i64>() {
            Ok(reached) if reached >= position => return Ok(true),
            Ok(_) => continue,
            Err(_) => return Ok(false),
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(PROJECTED_CHANNEL).await.ok()?;
    Some(listener)
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
