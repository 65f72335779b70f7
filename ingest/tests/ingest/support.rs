//! Shared test helpers: a scratch copy of the demo catalog, and log queries.

use almanac_ingest::{IngestReport, Ingestor, Source};
use almanac_store::testing::test_sealer;
use almanac_store::EventLog;
use sqlx::PgPool;
use std::path::{Path, PathBuf};

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo")
}

/// A private copy of the demo catalog that a test may edit.
pub fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&demo_dir(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub async fn ingest(pool: &PgPool, source: Source) -> IngestReport {
    let ingestor = Ingestor::new(EventLog::new(pool.clone()).with_sealer(test_sealer()));
    let report = ingestor.ingest(&source).await.unwrap();
    ingestor.wait_visible(report.last_position).await.unwrap();
    report
}

/// (stream, type, actor, source, payload) of every event after `position`.
pub async fn events_after(
    pool: &PgPool,
    position: i64,
) -> Vec<(String, String, String, Option<String>, serde_json::Value)> {
    sqlx::query_as(
        "SELECT stream, event_type, actor, source, payload FROM events WHERE position > $1 ORDER BY position",
    )
    .bind(position)
    .fetch_all(pool)
    .await
    .unwrap()
}

pub async fn head(pool: &PgPool) -> i64 {
    let (head,): (Option<i64>,) = sqlx::query_as("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await
        .unwrap();
    head.unwrap_or(0)
}

/// The catalog's relations: no table holds them (store migration 0008), the in-memory
/// model folded from the whole log does.
pub async fn catalog(pool: &PgPool) -> almanac_readmodel::Snapshot {
    almanac_store::follow::fold_whole_log(&EventLog::new(pool.clone()))
        .await
        .unwrap()
}

/// Edges leaving `entity_ref`, as (type, target) pairs, sorted, one per type and target.
pub async fn edges(pool: &PgPool, entity_ref: &str) -> Vec<(String, String)> {
    let mut edges: Vec<(String, String)> = catalog(pool)
        .await
        .relation_rows(entity_ref)
        .map(|row| {
            (
                row.relation.as_str().to_string(),
                row.target_ref.to_string(),
            )
        })
        .collect();
    edges.dedup();
    edges
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

pub fn file_key(path: &Path) -> String {
    format!("file:{}", path.canonicalize().unwrap().display())
}
