//! Source digests: an unchanged file is read and hashed, not parsed or decided
//! again, and only while everything its last decision depended on still holds.
//! Each case that must NOT skip is read with the recorded digests (what was
//! skipped shows in `ReadOutcome::unchanged`) and then ingested for real.

use super::support::{events_after, file_key, head, ingest};
use almanac_domain::EntityRef;
use almanac_ingest::operations::delete_entity;
use almanac_ingest::{
    read_sources_with, Digests, ReadLimits, ReadOutcome, ReadPolicy, ReadWith, Source,
};
use almanac_store::testing::{test_db, test_sealer};
use almanac_store::EventLog;
use sqlx::PgPool;
use std::path::Path;

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn yaml_files(root: &Path) -> Source {
    Source::Directory {
        root: root.to_path_buf(),
        glob: "**/*.yaml".to_string(),
    }
}

/// What a read with the recorded digests would skip (keys), and what it would parse.
async fn skips(pool: &PgPool, source: &Source, limits: &ReadLimits) -> (Vec<String>, Vec<String>) {
    let rules = almanac_domain::KindRules::builtin();
    let digests = Digests::load(pool, &source.origin(), limits, &rules)
        .await
        .unwrap();
    let outcome: ReadOutcome = read_sources_with(
        std::slice::from_ref(source),
        limits,
        &ReadPolicy::default(),
        ReadWith {
            digests: Some(&digests),
            progress: None,
            rules: None,
            sink: None,
        },
    )
    .await;
    (
        outcome.unchanged.iter().map(|u| u.key.clone()).collect(),
        outcome.files.iter().map(|f| f.key.clone()).collect(),
    )
}

#[tokio::test]
async fn an_unchanged_reread_skips_clean_files_and_still_reports_errors() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.yaml",
        &[component("a1"), component("a2")].join("---\n"),
    );
    let b = write(dir.path(), "b.yaml", &component("b1"));
    let bad = write(
        dir.path(),
        "bad.yaml",
        &format!(
            "{}---\nkind: Component\nmetadata:\n  name: broken\n",
            component("c1")
        ),
    );
    let source = yaml_files(dir.path());
    let cold = ingest(&db.pool, source.clone()).await;
    assert_eq!(cold.registered, 4);
    assert_eq!(cold.errors.len(), 1);

    let (skipped, parsed) = skips(&db.pool, &source, &ReadLimits::default()).await;
    assert_eq!(skipped, vec![file_key(&a), file_key(&b)]);
    // A file with an error is decided on every read, so its error is reported each time.
    assert_eq!(parsed, vec![file_key(&bad)]);

    let before = head(&db.pool).await;
    let again = ingest(&db.pool, source).await;
    assert_eq!((again.registered, again.updated, again.removed), (0, 0, 0));
    assert_eq!(again.sources_read, 3);
    assert_eq!(again.unchanged, 4);
    assert_eq!(again.errors.len(), 1);
    assert_eq!(again.errors[0].source, file_key(&bad));
    assert!(events_after(&db.pool, before).await.is_empty());
}

#[tokio::test]
async fn an_entity_deleted_through_the_api_is_registered_again() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", &component("a1"));
    let b = write(dir.path(), "b.yaml", &component("b1"));
    let source = yaml_files(dir.path());
    ingest(&db.pool, source.clone()).await;

    let log = EventLog::new(db.pool.clone()).with_sealer(test_sealer());
    let b1 = EntityRef::parse("component:default/b1", None, "default").unwrap();
    delete_entity(&log, &b1, None, "user:test").await.unwrap();

    let (skipped, parsed) = skips(&db.pool, &source, &ReadLimits::default()).await;
    assert_eq!(skipped, vec![file_key(&a)]);
    assert_eq!(parsed, vec![file_key(&b)]);
    let before = head(&db.pool).await;
    let again = ingest(&db.pool, source).await;
    assert_eq!((again.registered, again.unchanged), (1, 1));
    let events = events_after(&db.pool, before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("component:default/b1", "EntityRegistered")
    );
}

#[tokio::test]
async fn an_entity_another_source_releases_is_claimed_again() {
    let db = test_db().await;
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let owner = write(first.path(), "owner.yaml", &component("shared"));
    let late = write(
        second.path(),
        "late.yaml",
        &[component("shared"), component("own")].join("---\n"),
    );
    ingest(&db.pool, yaml_files(first.path())).await;
    let claimed = ingest(&db.pool, yaml_files(second.path())).await;
    assert_eq!((claimed.registered, claimed.conflicts.len()), (1, 1));

    // The owner lets go of the entity; the late file's bytes are unchanged.
    std::fs::write(&owner, component("other")).unwrap();
    ingest(&db.pool, yaml_files(first.path())).await;

    let (skipped, parsed) =
        skips(&db.pool, &yaml_files(second.path()), &ReadLimits::default()).await;
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(parsed, vec![file_key(&late)]);
    let again = ingest(&db.pool, yaml_files(second.path())).await;
    assert_eq!((again.registered, again.unchanged), (1, 1));
    assert!(again.conflicts.is_empty());
}

#[tokio::test]
async fn other_reader_settings_or_another_root_read_everything_again() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", &component("a1"));
    let source = yaml_files(dir.path());
    ingest(&db.pool, source.clone()).await;
    let defaults = ReadLimits::default();
    assert_eq!(
        skips(&db.pool, &source, &defaults).await.0,
        vec![file_key(&a)]
    );

    let fewer = ReadLimits {
        max_documents: 5,
        ..ReadLimits::default()
    };
    let (skipped, parsed) = skips(&db.pool, &source, &fewer).await;
    assert!(skipped.is_empty());
    assert_eq!(parsed, vec![file_key(&a)]);

    // The same file read as a root of its own: another origin, other candidates.
    let alone = Source::File(a.clone());
    let (skipped, parsed) = skips(&db.pool, &alone, &defaults).await;
    assert!(skipped.is_empty());
    assert_eq!(parsed, vec![file_key(&a)]);
    let moved = ingest(&db.pool, alone).await;
    assert_eq!(moved.updated, 1, "the origin annotation changes");
}

#[tokio::test]
async fn a_placeholder_target_edit_is_seen() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = write(dir.path(), "doc.txt", "first");
    let with = write(
        dir.path(),
        "api.yaml",
        &format!(
            "{}  description:\n    $text: ./doc.txt\n",
            component("documented")
        ),
    );
    let source = yaml_files(dir.path());
    ingest(&db.pool, source.clone()).await;
    let (skipped, parsed) = skips(&db.pool, &source, &ReadLimits::default()).await;
    assert!(skipped.is_empty());
    assert_eq!(parsed, vec![file_key(&with)]);

    std::fs::write(&doc, "second").unwrap();
    let again = ingest(&db.pool, source).await;
    assert_eq!(again.updated, 1);
    let (description,): (serde_json::Value,) = sqlx::query_as(
        "SELECT descriptor->'spec'->'description' FROM entities WHERE ref = 'component:default/documented'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(description, serde_json::json!("second"));
}

#[tokio::test]
async fn unchanged_location_targets_are_kept_and_dropped_ones_removed() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let location = |targets: &[&str]| {
        let list: String = targets.iter().map(|t| format!("    - ./{t}\n")).collect();
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\n\
             spec:\n  targets:\n{list}"
        )
    };
    let root = write(dir.path(), "root.yaml", &location(&["t1.yaml", "t2.yaml"]));
    let t1 = write(dir.path(), "t1.yaml", &component("t1"));
    let t2 = write(dir.path(), "t2.yaml", &component("t2"));
    let source = Source::File(root.clone());
    assert_eq!(ingest(&db.pool, source.clone()).await.registered, 3);

    // The Location is skipped too: its targets are followed from its record.
    let (skipped, parsed) = skips(&db.pool, &source, &ReadLimits::default()).await;
    assert_eq!(skipped, vec![file_key(&root), file_key(&t1), file_key(&t2)]);
    assert!(parsed.is_empty(), "{parsed:?}");
    let again = ingest(&db.pool, source.clone()).await;
    assert_eq!(
        (again.registered, again.removed, again.unchanged),
        (0, 0, 3)
    );

    std::fs::write(&root, location(&["t1.yaml"])).unwrap();
    let dropped = ingest(&db.pool, source).await;
    assert_eq!((dropped.updated, dropped.removed), (1, 1));
    let (live,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM entities WHERE ref = 'component:default/t2'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(live, 0);
}

#[tokio::test]
async fn a_deleted_file_loses_its_entities_while_the_rest_is_skipped() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &component("a1"));
    let b = write(dir.path(), "b.yaml", &component("b1"));
    let source = yaml_files(dir.path());
    ingest(&db.pool, source.clone()).await;
    std::fs::remove_file(&b).unwrap();
    let again = ingest(&db.pool, source).await;
    assert_eq!(
        (again.removed, again.unchanged, again.sources_read),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_file_edited_and_reverted_is_decided_against_its_latest_decision() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", &component("kept"));
    let source = yaml_files(dir.path());
    ingest(&db.pool, source.clone()).await;
    // The edit adds an entity; going back to the first bytes must remove it again,
    // though those bytes were once recorded with a digest whose streams still hold.
    std::fs::write(&a, [component("kept"), component("added")].join("---\n")).unwrap();
    assert_eq!(ingest(&db.pool, source.clone()).await.registered, 1);
    std::fs::write(&a, component("kept")).unwrap();
    let reverted = ingest(&db.pool, source).await;
    assert_eq!((reverted.removed, reverted.unchanged), (1, 1));
}

#[tokio::test]
async fn a_skipped_location_still_leads_to_its_targets_and_their_errors() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let location = |name: &str, targets: &[&str]| {
        let list: String = targets.iter().map(|t| format!("    - ./{t}\n")).collect();
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\n\
             spec:\n  targets:\n{list}"
        )
    };
    let root = write(
        dir.path(),
        "root.yaml",
        &location("root", &["sub/sub.yaml", "gone.yaml"]),
    );
    let sub = write(dir.path(), "sub/sub.yaml", &location("sub", &["t1.yaml"]));
    let t1 = write(dir.path(), "sub/t1.yaml", &component("t1"));
    let source = Source::File(root.clone());
    let first = ingest(&db.pool, source.clone()).await;
    assert_eq!((first.registered, first.errors.len()), (3, 1));

    // Nothing parsed; the nested Location's target reached through two skips, and the
    // missing target reported as before.
    let limits = ReadLimits::default();
    let rules = almanac_domain::KindRules::builtin();
    let digests = Digests::load(&db.pool, &source.origin(), &limits, &rules)
        .await
        .unwrap();
    let outcome = read_sources_with(
        std::slice::from_ref(&source),
        &limits,
        &ReadPolicy::default(),
        ReadWith {
            digests: Some(&digests),
            progress: None,
            rules: None,
            sink: None,
        },
    )
    .await;
    let skipped: Vec<String> = outcome.unchanged.iter().map(|u| u.key.clone()).collect();
    assert_eq!(
        skipped,
        vec![file_key(&root), file_key(&sub), file_key(&t1)]
    );
    assert!(outcome.files.is_empty());
    let gone = dir.path().canonicalize().unwrap().join("gone.yaml");
    let failed: Vec<String> = outcome.errors.iter().map(|e| e.key.clone()).collect();
    assert_eq!(failed, vec![format!("file:{}", gone.display())]);
    let via = format!("in {})", file_key(&root));
    assert!(
        outcome.errors[0].message.contains(&via),
        "{}",
        outcome.errors[0].message
    );

    // An edit below two skipped Locations is seen.
    std::fs::write(&t1, component("t1").replace("team-a", "team-b")).unwrap();
    let edited = ingest(&db.pool, source.clone()).await;
    assert_eq!((edited.updated, edited.unchanged), (1, 2));

    // The Location's own entity deleted through the API: the Location is parsed and
    // registered again, its target (already followed from the record) read once.
    let log = EventLog::new(db.pool.clone()).with_sealer(test_sealer());
    let sub_ref = EntityRef::parse("location:default/sub", None, "default").unwrap();
    delete_entity(&log, &sub_ref, None, "user:test")
        .await
        .unwrap();
    let (skipped, parsed) = skips(&db.pool, &source, &limits).await;
    assert_eq!(skipped, vec![file_key(&root), file_key(&t1)]);
    assert_eq!(parsed, vec![file_key(&sub)]);
    let again = ingest(&db.pool, source).await;
    assert_eq!((again.registered, again.unchanged), (1, 2));
}
