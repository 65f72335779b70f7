//! Every change to a source becomes exactly the events it should, with actor
//! and source; re-reading an unchanged source appends nothing.

use super::support::{demo_copy, events_after, file_key, head, ingest};
use almanac_ingest::progress::Progress;
use almanac_ingest::{Ingestor, Source};
use almanac_store::testing::{test_db, test_sealer};
use almanac_store::EventLog;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn edits_removals_and_unchanged_rereads_become_exactly_their_events() {
    let db = test_db().await;
    let demo = demo_copy();
    let root = Source::File(demo.path().join("catalog-info.yaml"));
    ingest(&db.pool, root.clone()).await;
    let origin = format!("ingest:{}", root.origin());

    // Unchanged: no event at all.
    let before = head(&db.pool).await;
    let again = ingest(&db.pool, root.clone()).await;
    assert_eq!((again.registered, again.updated, again.removed), (0, 0, 0));
    assert_eq!(again.unchanged, 175);
    assert!(events_after(&db.pool, before).await.is_empty());

    // Edit one field in one file: exactly one EntityUpdated with that change.
    let file = demo
        .path()
        .join("systems/storefront/checkout-service/catalog-info.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("lifecycle: production"));
    std::fs::write(
        &file,
        text.replacen("lifecycle: production", "lifecycle: deprecated", 1),
    )
    .unwrap();
    let before = head(&db.pool).await;
    let edited = ingest(&db.pool, root.clone()).await;
    assert_eq!(
        (edited.registered, edited.updated, edited.removed),
        (0, 1, 0)
    );
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    let (stream, event_type, actor, source, payload) = &events[0];
    assert_eq!(stream, "component:default/checkout-service");
    assert_eq!(event_type, "EntityUpdated");
    assert_eq!(actor, &origin);
    assert_eq!(source.as_deref(), Some(file_key(&file).as_str()));
    assert_eq!(
        payload,
        &json!({"changes": [{"path": "/spec/lifecycle", "op": "replace", "old": "production", "new": "deprecated"}]})
    );
    let (lifecycle,): (String,) = sqlx::query_as(
        "SELECT lifecycle FROM entities WHERE ref = 'component:default/checkout-service'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(lifecycle, "deprecated");

    // Remove an entity from a multi-document file: EntityRemoved, gone from source.
    let file = demo
        .path()
        .join("systems/orders/order-service/catalog-info.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let docs: Vec<&str> = text.split("\n---").collect();
    assert!(
        docs.len() >= 2,
        "order-service's file holds several documents"
    );
    let (kept, dropped) = docs.split_at(docs.len() - 1);
    let dropped_name = dropped[0]
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: "))
        .unwrap()
        .to_string();
    // Keep the newline that ends the last kept block scalar.
    std::fs::write(&file, format!("{}\n", kept.join("\n---"))).unwrap();
    let before = head(&db.pool).await;
    let removed = ingest(&db.pool, root.clone()).await;
    assert_eq!(
        (removed.registered, removed.updated, removed.removed),
        (0, 0, 1)
    );
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0].0.ends_with(&format!("/{dropped_name}")),
        "{:?}",
        events[0].0
    );
    assert_eq!(events[0].1, "EntityRemoved");
    assert_eq!(events[0].4, json!({"reason": "gone_from_source"}));
}

#[tokio::test]
async fn an_invalid_entity_keeps_its_last_good_version_and_an_unreadable_file_removes_nothing() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog-info.yaml");
    let good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: alpha\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: beta\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
    std::fs::write(&file, good).unwrap();
    let source = Source::File(file.clone());
    assert_eq!(ingest(&db.pool, source.clone()).await.registered, 2);

    // beta breaks (no owner), alpha changes: alpha's change lands, beta stays as it was.
    let broken = good
        .replacen("lifecycle: production", "lifecycle: experimental", 1)
        .replace(
            "  lifecycle: production\n  owner: team-a\n",
            "  lifecycle: production\n",
        );
    std::fs::write(&file, &broken).unwrap();
    let report = ingest(&db.pool, source.clone()).await;
    assert_eq!((report.updated, report.removed), (1, 0));
    assert_eq!(report.errors.len(), 1);
    assert_eq!(
        report.errors[0].entity_ref.as_deref(),
        Some("component:default/beta")
    );
    assert!(report.errors[0].message.contains("spec.owner"));
    let rows: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT name, lifecycle, owner_ref FROM entities ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "alpha".into(),
                Some("experimental".into()),
                Some("group:default/team-a".into())
            ),
            (
                "beta".into(),
                Some("production".into()),
                Some("group:default/team-a".into())
            ),
        ]
    );

    // A file that no longer parses: an error, and nothing removed (the broken
    // document might have been either entity).
    std::fs::write(&file, "kind: [unclosed").unwrap();
    let before = head(&db.pool).await;
    let report = ingest(&db.pool, source.clone()).await;
    assert_eq!(report.events(), 0);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].source, file_key(&file));
    assert!(events_after(&db.pool, before).await.is_empty());
    let (entity_ref, message): (Option<String>, String) =
        sqlx::query_as("SELECT entity_ref, message FROM processing_errors WHERE source = $1")
            .bind(file_key(&file))
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(entity_ref, None);
    assert!(message.contains("line 1"), "{message}");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM entities")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn two_sources_claiming_one_entity_the_first_keeps_it_and_the_conflict_is_recorded() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = |lifecycle: &str| {
        format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shared\nspec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: team-a\n"
    )
    };
    let first = dir.path().join("first.yaml");
    let second = dir.path().join("second.yaml");
    std::fs::write(&first, doc("production")).unwrap();
    std::fs::write(&second, doc("experimental")).unwrap();
    assert_eq!(
        ingest(&db.pool, Source::File(first.clone()))
            .await
            .registered,
        1
    );
    let report = ingest(&db.pool, Source::File(second.clone())).await;
    assert_eq!(report.events(), 0);
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].entity_ref, "component:default/shared");
    assert_eq!(report.conflicts[0].existing_source, file_key(&first));
    assert_eq!(report.conflicts[0].new_source, file_key(&second));

    let (existing, new_source, since): (String, String, String) = sqlx::query_as(
        "SELECT existing_source, new_source, first_seen::text FROM conflicts WHERE entity_ref = 'component:default/shared'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (existing, new_source),
        (file_key(&first), file_key(&second))
    );
    assert!(!since.is_empty());
    let (lifecycle, source): (String, String) = sqlx::query_as(
        "SELECT lifecycle, source FROM entities WHERE ref = 'component:default/shared'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (lifecycle.as_str(), source),
        ("production", file_key(&first))
    );
}

/// Two sources of one read naming one new ref: the one read first keeps it, whatever
/// their keys (a Location's targets are read in the order it names them), because
/// chunks are decided and appended as the files arrive.
#[tokio::test]
async fn of_two_targets_naming_one_new_ref_the_one_named_first_keeps_it() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = |lifecycle: &str| {
        format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shared\nspec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: team-a\n"
    )
    };
    let (z, a) = (dir.path().join("z.yaml"), dir.path().join("a.yaml"));
    std::fs::write(&z, doc("production")).unwrap();
    std::fs::write(&a, doc("experimental")).unwrap();
    let root = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets:\n    - ./z.yaml\n    - ./a.yaml\n",
    )
    .unwrap();
    let report = ingest(&db.pool, Source::File(root)).await;
    assert_eq!(
        report.registered, 2,
        "the Location and the shared component"
    );
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].entity_ref, "component:default/shared");
    assert_eq!(report.conflicts[0].existing_source, file_key(&z));
    assert_eq!(report.conflicts[0].new_source, file_key(&a));
    let (lifecycle, source): (String, String) = sqlx::query_as(
        "SELECT lifecycle, source FROM entities WHERE ref = 'component:default/shared'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((lifecycle.as_str(), source), ("production", file_key(&z)));
}

/// The same across chunks: the first target and the last one are decided in two
/// transactions (a file of 1,999 entities between them fills the first chunk), and
/// the first still keeps the ref; the progress counters add up to the report.
#[tokio::test]
async fn across_chunks_the_target_read_first_keeps_a_ref_and_progress_counts_every_source() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = |name: &str| {
        format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
    };
    let (z, many, a) = (
        dir.path().join("z.yaml"),
        dir.path().join("many.yaml"),
        dir.path().join("a.yaml"),
    );
    std::fs::write(&z, doc("shared")).unwrap();
    let docs: Vec<String> = (0..1_999).map(|i| doc(&format!("c-{i:04}"))).collect();
    std::fs::write(&many, docs.join("---\n")).unwrap();
    std::fs::write(&a, format!("{}---\n{}", doc("shared"), doc("only-a"))).unwrap();
    let root = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets:\n    - ./z.yaml\n    - ./many.yaml\n    - ./a.yaml\n",
    )
    .unwrap();
    let progress = Arc::new(Progress::default());
    let ingestor = Ingestor::new(EventLog::new(db.pool.clone()).with_sealer(test_sealer()))
        .with_progress(progress.clone());
    let report = ingestor.ingest(&Source::File(root)).await.unwrap();
    assert_eq!((report.sources_read, report.registered), (4, 2_002));
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].existing_source, file_key(&z));
    assert_eq!(report.conflicts[0].new_source, file_key(&a));
    let figures = progress.figures();
    assert_eq!(
        (
            figures.files_read,
            figures.sources_to_decide,
            figures.sources_decided,
            figures.events_appended
        ),
        (4, 4, 4, 2_002)
    );
    // Two chunks, two transactions: the root's, z's and many's events in the first,
    // only-a's in the second.
    let (transactions,): (i64,) = sqlx::query_as("SELECT count(DISTINCT xmin::text) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(transactions, 2);
}

#[tokio::test]
async fn a_file_deleted_from_a_directory_removes_its_entities_as_source_deleted() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join("catalog-info.yaml"),
            format!("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{name}\nspec:\n  type: team\n  children: []\n"),
        )
        .unwrap();
    }
    let source = Source::directory(dir.path());
    assert_eq!(ingest(&db.pool, source.clone()).await.registered, 2);
    std::fs::remove_file(dir.path().join("b/catalog-info.yaml")).unwrap();
    let before = head(&db.pool).await;
    let report = ingest(&db.pool, source).await;
    assert_eq!(
        (report.registered, report.removed, report.unchanged),
        (0, 1, 1)
    );
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "group:default/team-b");
    assert_eq!(events[0].4, json!({"reason": "source_deleted"}));

    // Emptied altogether: the last entity goes too.
    std::fs::remove_file(dir.path().join("a/catalog-info.yaml")).unwrap();
    let report = ingest(&db.pool, Source::directory(dir.path())).await;
    assert_eq!((report.removed, report.sources_read), (1, 0));
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM entities")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
