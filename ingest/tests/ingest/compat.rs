//! Backstage's reading rules through the whole ingest: the last of a ref's documents
//! wins, and `orphanStrategy` keeps or removes what a source no longer holds.

use super::support::{events_after, head};
use almanac_ingest::{IngestReport, Ingestor, OrphanStrategy, Source};
use almanac_store::testing::{test_db, test_sealer};
use almanac_store::EventLog;
use serde_json::json;
use sqlx::PgPool;

fn component(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

async fn ingest_with(pool: &PgPool, source: &Source, orphans: OrphanStrategy) -> IngestReport {
    let ingestor =
        Ingestor::new(EventLog::new(pool.clone()).with_sealer(test_sealer())).with_orphans(orphans);
    let report = ingestor.ingest(source).await.unwrap();
    ingestor.wait_visible(report.last_position).await.unwrap();
    report
}

#[tokio::test]
async fn the_last_of_two_documents_for_one_entity_wins_with_a_warning() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog-info.yaml");
    let text = [component("pay", "first"), component("pay", "second")].join("---\n");
    std::fs::write(&path, text).unwrap();
    let source = Source::File(path.clone());

    let report = ingest_with(&db.pool, &source, OrphanStrategy::Delete).await;

    assert_eq!(report.registered, 1);
    let events = events_after(&db.pool, 0).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].4["descriptor"]["spec"]["owner"], json!("second"));
    let key = format!("file:{}", path.display());
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].source, key);
    assert_eq!(
        report.errors[0].message,
        format!(
            "duplicate entity Component:default/pay in source {key}: document 2 replaces \
             document 1 (the last one wins, as in Backstage)"
        )
    );
}

#[tokio::test]
async fn orphan_strategy_keep_orphans_and_delete_removes_with_the_reason() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog-info.yaml");
    let both = [component("a", "t"), component("b", "t")].join("---\n");
    std::fs::write(&path, &both).unwrap();
    let source = Source::File(path.clone());
    let key = format!("file:{}", path.display());
    ingest_with(&db.pool, &source, OrphanStrategy::Keep).await;

    // b leaves the file: kept, as an orphan, once.
    std::fs::write(&path, component("a", "t")).unwrap();
    let before = head(&db.pool).await;
    let kept = ingest_with(&db.pool, &source, OrphanStrategy::Keep).await;
    assert_eq!((kept.orphaned, kept.removed), (1, 0));
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "component:default/b");
    assert_eq!(events[0].1, "EntityOrphaned");
    assert_eq!(events[0].4, json!({ "location": key }));
    let (annotation,): (Option<String>,) = sqlx::query_as(
        "SELECT descriptor->'metadata'->'annotations'->>'backstage.io/orphan' FROM entities \
         WHERE ref = 'component:default/b'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(annotation.as_deref(), Some("true"));
    let before = head(&db.pool).await;
    ingest_with(&db.pool, &source, OrphanStrategy::Keep).await;
    assert!(events_after(&db.pool, before).await.is_empty());

    // Back in the file: adopted.
    std::fs::write(&path, &both).unwrap();
    let before = head(&db.pool).await;
    ingest_with(&db.pool, &source, OrphanStrategy::Keep).await;
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, "EntityAdopted");

    // With delete, gone from the file is removed, with the reason.
    std::fs::write(&path, component("a", "t")).unwrap();
    let before = head(&db.pool).await;
    let removed = ingest_with(&db.pool, &source, OrphanStrategy::Delete).await;
    assert_eq!((removed.orphaned, removed.removed), (0, 1));
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, "EntityRemoved");
    assert_eq!(events[0].4, json!({ "reason": "gone_from_source" }));
}
