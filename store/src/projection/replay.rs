//! Rebuilding the projections from the log. The rebuild goes into temporary
//! tables shaped like the live ones (their indexes too, so the database refuses
//! what it refuses live); `Verify` compares them with the live tables at the same
//! checkpoint (one repeatable-read snapshot, the live projector keeps running),
//! `Swap` replaces the live rows with them under the projector lock.
//!
//! The log is folded in memory and loaded with `COPY` (`fold`). Only when the
//! database refuses that load (a row a limit refuses, from a descriptor stored
//! before today's limits) is the log projected again batch by batch, as the live
//! projector does, which stores each entity's last state that can be stored.

use super::batch::{execute, project_batch};
use super::failures::is_data_error;
use super::fold::fold_log;
use super::tables::{columns_of, Tables};
use super::{write_checkpoint, ProjectionError, PROJECTOR_LOCK_KEY};
use sqlx::{Acquire, PgConnection, PgPool};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayMode {
    Verify,
    Swap,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayReport {
    pub events: u64,
    pub up_to: i64,
    pub entities: i64,
    /// Rows that differ between the rebuild and the live tables (Verify only),
    /// as `table: row` lines, at most a few per table.
    pub differences: Vec<String>,
}

const BATCH: i64 = 5_000;
const SHOWN_DIFFERENCES: i64 = 10;

pub async fn replay(
    pool: &PgPool,
    mode: ReplayMode,
    mut progress: impl FnMut(u64, i64),
) -> Result<ReplayReport, ProjectionError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let up_to = match mode {
        ReplayMode::Verify => {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE")
                .execute(&mut *tx)
                .await?;
            super::read_checkpoint(&mut tx).await?
        }
        ReplayMode::Swap => {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PROJECTOR_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            let (head,): (Option<i64>,) = sqlx::query_as("SELECT max(position) FROM events")
                .fetch_one(&mut *tx)
                .await?;
            head.unwrap_or(0)
        }
    };
    create_rebuild_tables(&mut tx).await?;
    let mut report = ReplayReport {
        up_to,
        ..ReplayReport::default()
    };
    let folded = fold_log(&mut tx, up_to, |events| progress(events, up_to)).await?;
    report.events = folded.events;
    execute(&mut tx, "SAVEPOINT replay_load").await?;
    match folded.load(&mut tx, &Tables::REBUILD).await {
        Ok(()) => execute(&mut tx, "RELEASE SAVEPOINT replay_load").await?,
        Err(ProjectionError::Database(err)) if is_data_error(&err) => {
            execute(&mut tx, "ROLLBACK TO SAVEPOINT replay_load").await?;
            tracing::warn!(error = %err, "the database refused the folded projections; replaying batch by batch");
            let mut after = 0;
            while let Some((_, last)) =
                project_batch(&mut tx, &Tables::REBUILD, after, Some(up_to), BATCH).await?
            {
                after = last;
            }
        }
        Err(err) => return Err(err),
    }
    (report.entities,) = sqlx::query_as("SELECT count(*) FROM rebuild_entities")
        .fetch_one(&mut *tx)
        .await?;
    match mode {
        ReplayMode::Verify => {
            report.differences = differences(&mut tx).await?;
            tx.rollback().await?;
        }
        ReplayMode::Swap => {
            for (live, rebuilt) in Tables::REBUILD.pairs() {
                let columns = columns_of(live);
                sqlx::query(&format!("DELETE FROM {live}"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&format!(
                    "INSERT INTO {live} ({columns}) SELECT {columns} FROM {rebuilt}"
                ))
                .execute(&mut *tx)
                .await?;
            }
            let current = super::read_checkpoint(&mut tx).await?;
            write_checkpoint(&mut tx, current, up_to).await?;
            tx.commit().await?;
        }
    }
    Ok(report)
}

async fn create_rebuild_tables(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for (live, rebuilt) in Tables::REBUILD.pairs() {
        sqlx::query(&format!(
            "CREATE TEMP TABLE {rebuilt} (LIKE {live} INCLUDING DEFAULTS INCLUDING GENERATED \
             INCLUDING INDEXES) ON COMMIT DROP"
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Rows in one side and not the other, both ways, for every projection table.
async fn differences(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let mut found = Vec::new();
    for (live, rebuilt) in Tables::REBUILD.pairs() {
        let columns = columns_of(live);
        for (label, left, right) in [
            ("only in live", live, rebuilt),
            ("only in rebuild", rebuilt, live),
        ] {
            let rows: Vec<(String,)> = sqlx::query_as(&format!(
                "SELECT row_to_json(d)::text FROM (SELECT {columns} FROM {left} \
                 EXCEPT SELECT {columns} FROM {right}) d LIMIT $1"
            ))
            .bind(SHOWN_DIFFERENCES)
            .fetch_all(&mut *conn)
            .await?;
            found.extend(
                rows.into_iter()
                    .map(|(row,)| format!("{live} {label}: {row}")),
            );
        }
    }
    Ok(found)
}
