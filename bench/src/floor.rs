//! What PostgreSQL alone needs, measured in the same run so every Almanac
//! figure has a ratio: COPY of the very event rows the cold ingest appended into
//! a scratch table of the same shape and indexes (three times, each into a fresh
//! table: the median is the floor), and the plain SQL lookup of one entity by ref.
//!
//! The COPY runs right after the cold ingest, once no autovacuum worker runs: the
//! speed of a shared machine drifts within minutes (the same COPY took 1.9 s in one
//! run and 3.4 s in another of the same afternoon), so the two sides of the ratio
//! are timed as close together as they can be, and neither beside PostgreSQL's own
//! clean-up of the ingest.
//!
//! The scratch table lives in a scratch database (embedded) or in the run's own
//! database (`DATABASE_URL`), and is dropped afterwards.

use crate::database::BenchDb;
use crate::load::{self, Bounds, Measured};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::{ConnectOptions, Connection};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCRATCH_DATABASE: &str = "almanac_bench_floor";
const COLUMNS: &str = "position, transaction_id, stream, version, event_type, schema_version, \
                       payload, actor, source, correlation_id, causation_id, recorded_at, hash";
const TABLE: &str = "CREATE TABLE bench_floor_events ( \
    position bigint PRIMARY KEY, transaction_id xid8 NOT NULL, stream text NOT NULL, \
    version bigint NOT NULL, event_type text NOT NULL, schema_version integer NOT NULL, \
    payload jsonb NOT NULL, actor text NOT NULL, source text, correlation_id uuid, \
    causation_id uuid, recorded_at timestamptz NOT NULL, hash bytea NOT NULL, \
    UNIQUE (stream, version))";
const INDEXES: [&str; 2] = [
    "CREATE INDEX ON bench_floor_events (recorded_at)",
    "CREATE INDEX ON bench_floor_events (actor, position)",
];

#[derive(Clone, Debug, Default, Serialize)]
pub struct CopyFloor {
    pub rows: i64,
    pub bytes: usize,
    /// The median of [`CopyFloor::samples`]: one COPY of a few seconds on a shared
    /// 2-core machine varied from 2.7 to 4.2 s between runs of the same day.
    pub seconds: f64,
    pub rows_per_second: f64,
    /// Each COPY's seconds, in the order run.
    pub samples: Vec<f64>,
    /// How long the floor waited for autovacuum workers to finish first.
    pub waited_for_autovacuum_seconds: f64,
}

/// The longest the floor waits for autovacuum to finish; it is timed anyway after.
const QUIET_WAIT: Duration = Duration::from_secs(60);

/// Waits until no autovacuum worker runs (at most [`QUIET_WAIT`]); the seconds waited.
async fn autovacuum_quiet(db: &BenchDb) -> anyhow::Result<f64> {
    let start = Instant::now();
    while start.elapsed() < QUIET_WAIT {
        let (running,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .fetch_one(&db.pool)
        .await?;
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// COPYs timed per run; the median is the floor.
const SAMPLES: usize = 3;

/// COPYs events `1..=up_to` (as text) into a fresh table like `events`, [`SAMPLES`] times.
pub async fn copy_events(db: &BenchDb, up_to: i64) -> anyhow::Result<CopyFloor> {
    let waited_for_autovacuum_seconds = autovacuum_quiet(db).await?;
    let mut source = db.pool.acquire().await?;
    let data: Vec<u8> = source
        .copy_out_raw(&format!(
            "COPY (SELECT {COLUMNS} FROM events WHERE position <= {up_to} ORDER BY position) \
             TO STDOUT"
        ))
        .await?
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await?;
    drop(source);
    let mut admin = db.admin.connect().await?;
    let mut scratch = if db.may_create_database {
        let drop_it = format!("DROP DATABASE IF EXISTS {SCRATCH_DATABASE}");
        sqlx::query(&drop_it).execute(&mut admin).await?;
        sqlx::query(&format!("CREATE DATABASE {SCRATCH_DATABASE}"))
            .execute(&mut admin)
            .await?;
        db.admin
            .clone()
            .database(SCRATCH_DATABASE)
            .connect()
            .await?
    } else {
        db.admin.connect().await?
    };
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut rows = 0;
    for _ in 0..SAMPLES {
        let (copied, seconds) = copy_once(&mut scratch, &data).await?;
        rows = copied;
        samples.push(seconds);
    }
    scratch.close().await?;
    if db.may_create_database {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {SCRATCH_DATABASE}"))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let seconds = sorted[sorted.len() / 2];
    Ok(CopyFloor {
        rows,
        bytes: data.len(),
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        samples,
        waited_for_autovacuum_seconds,
    })
}

/// One timed COPY of `data` into a fresh scratch table (dropped after): rows, seconds.
async fn copy_once(scratch: &mut sqlx::PgConnection, data: &[u8]) -> anyhow::Result<(i64, f64)> {
    sqlx::query("DROP TABLE IF EXISTS bench_floor_events")
        .execute(&mut *scratch)
        .await?;
    sqlx::query(TABLE).execute(&mut *scratch).await?;
    for index in INDEXES {
        sqlx::query(index).execute(&mut *scratch).await?;
    }
    let start = Instant::now();
    let mut copy = scratch
        .copy_in_raw(&format!("COPY bench_floor_events ({COLUMNS}) FROM STDIN"))
        .await?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    let rows = copy.finish().await? as i64;
    let seconds = start.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_floor_events")
        .execute(&mut *scratch)
        .await?;
    Ok((rows, seconds))
}

/// `SELECT descriptor FROM entities WHERE ref = $1` over the given refs, in turn.
pub async fn lookup_by_ref(
    db: &BenchDb,
    refs: Arc<Vec<String>>,
    concurrency: usize,
    bounds: Bounds,
) -> Measured {
    let pool = db.pool.clone();
    load::run(concurrency, bounds, move |i| {
        let (pool, refs) = (pool.clone(), refs.clone());
        async move {
            let found: Option<(serde_json::Value,)> =
                sqlx::query_as("SELECT descriptor FROM entities WHERE ref = $1")
                    .bind(&refs[i % refs.len()])
                    .fetch_optional(&pool)
                    .await
                    .map_err(|err| err.to_string())?;
            found
                .map(|_| ())
                .ok_or_else(|| "no such entity".to_string())
        }
    })
    .await
}
