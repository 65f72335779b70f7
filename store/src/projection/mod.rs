//! The projector: folds the event log into the read models, in log order.
//!
//! Each batch runs in one transaction that takes the projector's advisory lock
//! (so one process projects at a time, and a dead one is replaced at the next
//! batch), reads the checkpoint, folds the events after it, and writes rows and
//! checkpoint together. The checkpoint update is also guarded by its old value,
//! so even two projectors that both believed they held the lock could not apply
//! an event twice. It never writes to the event log.
//!
//! An event it cannot project does not stop it: the event is recorded in
//! `projection_failures` and the checkpoint moves past it (see `batch`).

mod batch;
pub mod failures;
pub(crate) mod fingerprint;
mod fold;
mod replay;
pub mod rows;
mod tables;
pub mod tap;
mod wait;

pub use replay::{replay, ReplayMode, ReplayReport};
pub use tables::Tables;
pub use wait::{checkpoint, lag, wait_for_position, Lag, PROJECTED_CHANNEL};

use crate::log::FeedWaker;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tap::PageTap;
use tokio::sync::watch;
use tracing::Instrument;

/// The name of the catalog projector's checkpoint row.
pub const CATALOG_PROJECTOR: &str = "catalog";
/// Advisory lock key of the catalog projector (the log's append lock is 7006001).
pub const PROJECTOR_LOCK_KEY: i64 = 7_006_002;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("projection query failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the checkpoint moved under this projector (expected {expected}); batch rolled back")]
    CheckpointMoved { expected: i64 },
    #[error("the catalog has not reached log position {position} after {waited_ms} ms (projected up to {reached})")]
    WaitTimeout {
        position: i64,
        reached: i64,
        waited_ms: u128,
    },
}

/// What one attempt at a batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Another process holds the projector lock.
    Busy,
    /// Nothing after the checkpoint.
    Idle {
        checkpoint: i64,
    },
    Applied {
        events: usize,
        checkpoint: i64,
    },
}

#[derive(Clone, Debug)]
pub struct Projector {
    pool: PgPool,
    batch_size: i64,
    poll: Duration,
    /// Pages the follower of the same process read (see [`tap`]).
    tap: Option<Arc<PageTap>>,
}

/// Longest the projector waits for the follower's page before reading it itself.
const TAP_WAIT: Duration = Duration::from_millis(100);

impl Projector {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            batch_size: 2_000,
            poll: Duration::from_secs(1),
            tap: None,
        }
    }

    /// Takes batches from `tap` when its pages cover them (see [`tap`]).
    pub fn with_tap(mut self, tap: Arc<PageTap>) -> Self {
        self.tap = Some(tap);
        self
    }

    pub fn with_batch_size(mut self, batch_size: i64) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// One batch, if the lock is free.
    pub async fn step(&self) -> Result<Step, ProjectionError> {
        let started = std::time::Instant::now();
        let span = tracing::debug_span!("projector.batch", events = tracing::field::Empty);
        let mut tx = self.pool.begin().await?;
        let result = self.step_in(&mut tx).instrument(span.clone()).await;
        if let Ok(Step::Applied { events, .. }) = &result {
            span.record("events", *events);
            crate::metrics::projected(started.elapsed(), *events);
        }
        // Ended explicitly: a dropped transaction's rollback is only queued, and until it
        // runs its connection would keep holding the projector lock.
        match &result {
            Ok(Step::Applied { .. }) => tx.commit().await?,
            Ok(_) => tx.rollback().await?,
            Err(_) => {
                let _ = tx.rollback().await; // the batch's own error is the one to report
            }
        }
        result
    }

    async fn step_in(&self, tx: &mut sqlx::PgConnection) -> Result<Step, ProjectionError> {
        let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
            .bind(PROJECTOR_LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(Step::Busy);
        }
        // A batch lost in a crash before its commit reached the disk is projected again
        // from the log (its checkpoint is lost with it): no need to wait for the flush.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let current = read_checkpoint(tx).await?;
        let tapped = self
            .tap
            .as_ref()
            .and_then(|tap| tap.take(current, self.batch_size as usize));
        let projected = match tapped {
            Some(events) => {
                batch::project_page(tx, &Tables::LIVE, current, events, self.batch_size).await?
            }
            None => batch::project_batch(tx, &Tables::LIVE, current, None, self.batch_size).await?,
        };
        let Some((events, last)) = projected else {
            return Ok(Step::Idle {
                checkpoint: current,
            });
        };
        write_checkpoint(tx, current, last).await?;
        Ok(Step::Applied {
            events,
            checkpoint: last,
        })
    }

    /// Projects until nothing is left (or another process holds the lock).
    pub async fn catch_up(&self) -> Result<Step, ProjectionError> {
        loop {
            match self.step().await? {
                Step::Applied { .. } => continue,
                other => return Ok(other),
            }
        }
    }

    /// Runs until `shutdown` turns true: batches while there is work, then waits
    /// for a notification (or the poll interval). Errors are logged and retried.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut waker = FeedWaker::new(self.pool.clone(), self.poll).await;
        tracing::info!("projector running");
        let mut checkpoint = None;
        while !*shutdown.borrow() {
            // The follower reads the same events at about the same time: its page,
            // when it comes soon, saves reading them again.
            if let (Some(tap), Some(at)) = (&self.tap, checkpoint) {
                tap.wait_covering(at, TAP_WAIT).await;
            }
            let idle = match self.step().await {
                Ok(Step::Applied {
                    events,
                    checkpoint: at,
                }) => {
                    tracing::debug!(events, checkpoint = at, "projected");
                    checkpoint = Some(at);
                    false
                }
                Ok(Step::Idle { checkpoint: at }) => {
                    checkpoint = Some(at);
                    true
                }
                Ok(Step::Busy) => true,
                Err(err) => {
                    tracing::error!(error = %err, "projection batch failed; retrying");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = waker.wait() => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!("projector stopped");
    }
}

async fn read_checkpoint(conn: &mut sqlx::PgConnection) -> Result<i64, ProjectionError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT position FROM projection_checkpoints WHERE projector = $1")
            .bind(CATALOG_PROJECTOR)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map_or(0, |(p,)| p))
}

/// Moves the checkpoint from `expected` to `position`, or fails if it moved.
async fn write_checkpoint(
    conn: &mut sqlx::PgConnection,
    expected: i64,
    position: i64,
) -> Result<(), ProjectionError> {
    let written = sqlx::query(
        "INSERT INTO projection_checkpoints (projector, position) VALUES ($1, $2) \
         ON CONFLICT (projector) DO UPDATE SET position = EXCLUDED.position, updated_at = now() \
         WHERE projection_checkpoints.position = $3",
    )
    .bind(CATALOG_PROJECTOR)
    .bind(position)
    .bind(expected)
    .execute(&mut *conn)
    .await?;
    if written.rows_affected() != 1 {
        return Err(ProjectionError::CheckpointMoved { expected });
    }
    // Delivered at commit, once the rows are visible: wakes `wait_for_position`.
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(PROJECTED_CHANNEL)
        .bind(position.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
