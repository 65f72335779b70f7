//! Rebuilding the projections from the log. The rebuild goes into temporary
//! tables shaped like the live ones; `Verify` compares them with the live tables at
//! the same checkpoint (one repeatable-read snapshot, the live projector keeps
//! running), `Swap` makes the live tables equal to them under the projector lock.
//!
//! The log is folded in memory and loaded with `COPY` (`fold`). Only when the
//! database refuses that load (a row a limit refuses, from a descriptor stored
//! before today's limits) is the log projected again batch by batch, as the live
//! projector does, which stores each entity's last state that can be stored.
//!
//! `Swap` writes only the live rows that differ from the rebuild (deleted, and
//! inserted again as rebuilt): after it, the live tables equal the rebuild row for
//! row. The differing `entities` rows are found by fingerprint (`fingerprint`: the
//! server hashes each live row's text while the log is folded, the rebuild hashes
//! its rows the same way), so only they are copied; a row whose text could differ
//! from the server's only counts as different and is rewritten. The other tables,
//! and a swap without fingerprints, are compared in one full join by PostgreSQL's
//! own equality, the one `Verify`'s `EXCEPT` uses (`json` columns compared as `jsonb`:
//! `json` has none). Rewriting every row
//! cost most of a replay (every entity inserted twice, into the rebuild and into the
//! live table, each with its index entries, next to as many dead rows). The rebuild
//! tables of a swap carry no index (nothing reads them by key): the live tables'
//! indexes and constraints refuse what they refuse when the differences are written,
//! and that refusal sends the swap to the batch-by-batch path like a refused load.
//! `Verify`'s rebuild keeps the live indexes, so it stores what live stores.

use super::batch::{execute, project_batch};
use super::failures::is_data_error;
use super::fingerprint::{self, Fingerprint};
use super::fold::{fold_log, Folded};
use super::tables::{columns_of, compared_columns_of, Tables};
use super::{write_checkpoint, ProjectionError, PROJECTOR_LOCK_KEY};
use crate::entity_row::EntityRow;
use sqlx::{Acquire, PgConnection, PgPool};
use std::collections::HashMap;
use std::time::Instant;
use tokio::task::JoinHandle;

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
    let mut phases = Phases::start();
    let mut conn = pool.acquire().await?;
    // Temporary tables live in the session's local buffers, 8 MB by default: a rebuild of
    // 100,000 entities went to disk and back. Settable only before the session's first
    // temporary table; a connection that had one keeps its setting (slower, same rows).
    if let Err(err) = execute(&mut conn, "SET temp_buffers = '256MB'").await {
        tracing::debug!(error = %err, "replay keeps the session's temp_buffers");
    }
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
    // The comparison's joins hold both sides in memory rather than in batches on disk;
    // compiling them (JIT) costs more than running them.
    execute(&mut tx, "SET LOCAL work_mem = '256MB'").await?;
    execute(&mut tx, "SET LOCAL jit = off").await?;
    // A swap's live rows cannot change once it holds the projector lock: their
    // fingerprints are read on another connection while this one reads the log.
    let live = (mode == ReplayMode::Swap).then(|| LiveRows::read(pool));
    phases.done("begin");
    let mut report = ReplayReport {
        up_to,
        ..ReplayReport::default()
    };
    let folded = match fold_log(&mut tx, up_to, |events| progress(events, up_to)).await {
        Ok(folded) => folded,
        Err(err) => {
            if let Some(live) = &live {
                live.0.abort();
            }
            return Err(err);
        }
    };
    report.events = folded.events;
    phases.done("fold");
    let live = match live {
        Some(live) => Some(live.fingerprints().await?),
        None => None,
    };
    phases.done("live fingerprints");
    // Everything from here to the swap's writes is undone together when the database
    // refuses a row, the rebuild tables included.
    execute(&mut tx, "SAVEPOINT replay_load").await?;
    let mut counted = None;
    match load_and_apply(&mut tx, folded, live).await {
        Ok(entities) => {
            counted = entities;
            execute(&mut tx, "RELEASE SAVEPOINT replay_load").await?
        }
        Err(ProjectionError::Database(err)) if is_data_error(&err) => {
            execute(&mut tx, "ROLLBACK TO SAVEPOINT replay_load").await?;
            tracing::warn!(error = %err, "the database refused the folded projections; replaying batch by batch");
            create_rebuild_tables(&mut tx, Indexes::Live).await?;
            let mut after = 0;
            while let Some((_, last)) =
                project_batch(&mut tx, &Tables::REBUILD, after, Some(up_to), BATCH).await?
            {
                after = last;
            }
            if mode == ReplayMode::Swap {
                apply_differences(&mut tx).await?;
            }
        }
        Err(err) => return Err(err),
    }
    phases.done("load");
    report.entities = match counted {
        Some(entities) => entities,
        None => {
            let (entities,) = sqlx::query_as("SELECT count(*) FROM rebuild_entities")
                .fetch_one(&mut *tx)
                .await?;
            entities
        }
    };
    match mode {
        ReplayMode::Verify => {
            report.differences = differences(&mut tx).await?;
            tx.rollback().await?;
            phases.done("compare");
        }
        ReplayMode::Swap => {
            let current = super::read_checkpoint(&mut tx).await?;
            write_checkpoint(&mut tx, current, up_to).await?;
            tx.commit().await?;
            phases.done("swap");
        }
    }
    Ok(report)
}

/// How long each phase of a replay took, logged at debug level (`RUST_LOG=almanac_store=debug`).
struct Phases {
    started: Instant,
    last: Instant,
}

impl Phases {
    fn start() -> Phases {
        let now = Instant::now();
        Phases {
            started: now,
            last: now,
        }
    }

    fn done(&mut self, phase: &'static str) {
        let now = Instant::now();
        tracing::debug!(
            phase,
            seconds = (now - self.last).as_secs_f64(),
            since_start = (now - self.started).as_secs_f64(),
            "replay phase done"
        );
        self.last = now;
    }
}

/// The live rows' fingerprints being read on a connection of their own.
struct LiveRows(JoinHandle<Result<HashMap<String, Fingerprint>, sqlx::Error>>);

impl LiveRows {
    fn read(pool: &PgPool) -> LiveRows {
        let pool = pool.clone();
        LiveRows(tokio::spawn(async move {
            fingerprint::of_table(&pool, Tables::LIVE.entities).await
        }))
    }

    async fn fingerprints(self) -> Result<HashMap<String, Fingerprint>, sqlx::Error> {
        match self.0.await {
            Ok(read) => read,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
}

/// The folded log into the rebuild tables, and for a swap (`live` given: the live rows'
/// fingerprints) only the rows that differ, then written into the live tables; returns
/// the entities the log holds when it counted them. A refusal of the database fails it
/// whole (the caller rolls it back).
async fn load_and_apply(
    conn: &mut PgConnection,
    folded: Folded,
    live: Option<HashMap<String, Fingerprint>>,
) -> Result<Option<i64>, ProjectionError> {
    match live {
        None => {
            create_rebuild_tables(conn, Indexes::Live).await?;
            folded.load(conn, &Tables::REBUILD).await?;
            Ok(None)
        }
        Some(live) => {
            create_rebuild_tables(conn, Indexes::None).await?;
            let differing = folded.load_differing(conn, &Tables::REBUILD, live).await?;
            tracing::debug!(
                changed = differing.changed,
                stale = differing.stale.len(),
                "replay: entity rows that differ from the log"
            );
            let (live, rebuilt) = (Tables::LIVE.entities, Tables::REBUILD.entities);
            let key = EntityRow::COLUMNS[0];
            if !differing.stale.is_empty() {
                sqlx::query(&format!("DELETE FROM {live} WHERE {key} = ANY($1)"))
                    .bind(&differing.stale)
                    .execute(&mut *conn)
                    .await?;
            }
            if differing.changed > 0 {
                let all = EntityRow::COLUMNS.join(", ");
                execute(
                    conn,
                    &format!("INSERT INTO {live} ({all}) SELECT {all} FROM {rebuilt}"),
                )
                .await?;
            }
            replace_small_tables(conn).await?;
            Ok(Some(differing.entities))
        }
    }
}

/// Whether the rebuild tables get the live tables' indexes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexes {
    /// So the rebuild refuses exactly what live refuses (a verify, the batch-by-batch path).
    Live,
    /// A swap's fold: the live tables refuse when the differences are written.
    None,
}

async fn create_rebuild_tables(
    conn: &mut PgConnection,
    indexes: Indexes,
) -> Result<(), sqlx::Error> {
    let including = match indexes {
        Indexes::Live => " INCLUDING INDEXES",
        Indexes::None => "",
    };
    for (live, rebuilt) in Tables::REBUILD.pairs() {
        sqlx::query(&format!(
            "CREATE TEMP TABLE {rebuilt} (LIKE {live} INCLUDING DEFAULTS INCLUDING GENERATED\
             {including}) ON COMMIT DROP"
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Makes the live tables equal to the rebuild: in `entities` only the rows that differ
/// (found in one pass, a full join on `ref` comparing every column with
/// `IS DISTINCT FROM`, `json` ones as `jsonb`) are deleted and their rebuilt rows inserted; the small
/// `locations` and `projection_failures` are replaced whole.
async fn apply_differences(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let (live, rebuilt) = (Tables::LIVE.entities, Tables::REBUILD.entities);
    let columns = EntityRow::COLUMNS;
    let key = columns[0];
    // Every column but the key, as the server compares it (`json` as `jsonb`).
    let of = |table: &str| EntityRow::compared_sql(&format!("{table}."))[1..].join(", ");
    let changed = sqlx::query(&format!(
        "CREATE TEMP TABLE rebuild_changes ON COMMIT DROP AS \
         SELECT l.{key} AS live_key, r.{key} AS rebuilt_key \
         FROM {live} l FULL JOIN {rebuilt} r ON r.{key} = l.{key} \
         WHERE l.{key} IS NULL OR r.{key} IS NULL OR ({}) IS DISTINCT FROM ({})",
        of("l"),
        of("r")
    ))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    tracing::debug!(changed, "replay: entity rows that differ from the log");
    if changed > 0 {
        let all = columns.join(", ");
        execute(
            conn,
            &format!("DELETE FROM {live} l USING rebuild_changes c WHERE l.{key} = c.live_key"),
        )
        .await?;
        execute(
            conn,
            &format!(
                "INSERT INTO {live} ({all}) SELECT {all} FROM {rebuilt} \
                 WHERE {key} IN (SELECT rebuilt_key FROM rebuild_changes)"
            ),
        )
        .await?;
    }
    replace_small_tables(conn).await
}

/// `locations` and `projection_failures` replaced whole by their rebuilds.
async fn replace_small_tables(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for (live, rebuilt) in Tables::REBUILD.pairs() {
        if live == Tables::LIVE.entities {
            continue;
        }
        let columns = columns_of(live);
        execute(conn, &format!("DELETE FROM {live}")).await?;
        execute(
            conn,
            &format!("INSERT INTO {live} ({columns}) SELECT {columns} FROM {rebuilt}"),
        )
        .await?;
    }
    Ok(())
}

/// Rows in one side and not the other, both ways, for every projection table.
async fn differences(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let mut found = Vec::new();
    for (live, rebuilt) in Tables::REBUILD.pairs() {
        let columns = compared_columns_of(live);
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
