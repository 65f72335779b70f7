//! The projector folds the log into entities (relations are the in-memory catalog's), never misses or
//! doubles an event, and always equals a full replay.

use super::support::append_event;
use almanac_domain::{diff, CatalogEvent, RemovalReason};
use almanac_store::catalog::Catalog;
use almanac_store::projection::{lag, replay, Projector, ReplayMode, Step};
use almanac_store::testing::{test_db, TestDb};
use almanac_store::EventLog;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashMap;

fn component(name: &str, owner: &str, depends_on: &[&str]) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "namespace": "default", "tags": ["rust"]},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner, "dependsOn": depends_on},
    })
}

fn group(name: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "team", "children": []},
    })
}

/// Appends one domain event to a stream, tracking stream versions in `versions`.
async fn record(
    log: &EventLog,
    versions: &mut HashMap<String, i64>,
    stream: &str,
    event: CatalogEvent,
) -> i64 {
    let expected = versions.get(stream).copied().unwrap_or(0);
    let position = append_event(log, stream, expected, &event).await;
    versions.insert(stream.into(), expected + 1);
    position
}

/// Edges leaving `entity_ref` as (type, target, whether the target is a live entity).
async fn edges(pool: &PgPool, entity_ref: &str) -> Vec<(String, String, bool)> {
    let catalog = Catalog::new(pool.clone());
    let mut found = Vec::new();
    for edge in super::support::relation_edges(pool, entity_ref).await {
        let live = catalog
            .entities_by_ref(std::slice::from_ref(&edge.target_ref))
            .await
            .unwrap();
        found.push((
            edge.relation.as_str().to_string(),
            edge.target_ref,
            !live.is_empty(),
        ));
    }
    found
}

fn edge(t: &str, target: &str, resolved: bool) -> (String, String, bool) {
    (t.into(), target.into(), resolved)
}

async fn assert_replay_clean(db: &TestDb) {
    let report = replay(&db.pool, ReplayMode::Verify, |_, _| {})
        .await
        .unwrap();
    assert!(report.differences.is_empty(), "{:#?}", report.differences);
}

#[tokio::test]
async fn projects_entities_and_relations_and_resolves_a_dangling_owner() {
    let db = test_db().await;
    let log = db.log();
    let projector = Projector::new(db.pool.clone());
    let mut v = HashMap::new();
    let api = component("api", "team-a", &["component:db-proxy"]);
    record(
        &log,
        &mut v,
        "component:default/api",
        CatalogEvent::EntityRegistered {
            descriptor: api.clone(),
        },
    )
    .await;
    record(
        &log,
        &mut v,
        "component:default/db-proxy",
        CatalogEvent::EntityRegistered {
            descriptor: component("db-proxy", "team-a", &[]),
        },
    )
    .await;
    assert!(matches!(
        projector.catch_up().await.unwrap(),
        Step::Idle { .. }
    ));

    let (kind, owner, version): (String, Option<String>, i64) = sqlx::query_as(
        "SELECT kind, owner_ref, version FROM entities WHERE ref = 'component:default/api'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (kind.as_str(), owner.as_deref(), version),
        ("Component", Some("group:default/team-a"), 1)
    );
    // Tags are stored in no column (migration 0017): the catalog's row reads them from
    // the descriptor.
    let read = Catalog::new(db.pool.clone())
        .entities_by_ref(&["component:default/api".to_string()])
        .await
        .unwrap();
    assert_eq!(read[0].tags, vec!["rust"]);
    // The owner does not exist yet: the edge is kept, dangling.
    assert_eq!(
        edges(&db.pool, "component:default/api").await,
        vec![
            edge("dependsOn", "component:default/db-proxy", true),
            edge("ownedBy", "group:default/team-a", false)
        ]
    );
    assert_eq!(
        edges(&db.pool, "component:default/db-proxy").await,
        vec![
            edge("dependencyOf", "component:default/api", true),
            edge("ownedBy", "group:default/team-a", false)
        ]
    );

    record(
        &log,
        &mut v,
        "group:default/team-a",
        CatalogEvent::EntityRegistered {
            descriptor: group("team-a"),
        },
    )
    .await;
    projector.catch_up().await.unwrap();
    assert_eq!(
        edges(&db.pool, "component:default/api").await,
        vec![
            edge("dependsOn", "component:default/db-proxy", true),
            edge("ownedBy", "group:default/team-a", true)
        ]
    );
    assert_eq!(
        edges(&db.pool, "group:default/team-a").await,
        vec![
            edge("ownerOf", "component:default/api", true),
            edge("ownerOf", "component:default/db-proxy", true)
        ]
    );

    // An update changes only what it says; the uid stays.
    let (uid_before,): (uuid::Uuid,) =
        sqlx::query_as("SELECT uid FROM entities WHERE ref = 'component:default/api'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let edited = component("api", "team-b", &["component:db-proxy"]);
    record(
        &log,
        &mut v,
        "component:default/api",
        CatalogEvent::EntityUpdated {
            changes: diff(&api, &edited),
        },
    )
    .await;
    projector.catch_up().await.unwrap();
    let (uid_after, owner, version): (uuid::Uuid, Option<String>, i64) = sqlx::query_as(
        "SELECT uid, owner_ref, version FROM entities WHERE ref = 'component:default/api'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (uid_after, owner.as_deref(), version),
        (uid_before, Some("group:default/team-b"), 2)
    );

    // Removing the component removes the edges it declared, and nothing else.
    record(
        &log,
        &mut v,
        "component:default/api",
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::GoneFromSource,
        },
    )
    .await;
    projector.catch_up().await.unwrap();
    assert!(edges(&db.pool, "component:default/api").await.is_empty());
    assert_eq!(
        edges(&db.pool, "component:default/db-proxy").await,
        vec![edge("ownedBy", "group:default/team-a", true)]
    );
    assert_eq!(
        edges(&db.pool, "group:default/team-a").await,
        vec![edge("ownerOf", "component:default/db-proxy", true)]
    );
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM entities")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_replay_clean(&db).await;
    let lag = lag(&db.pool).await.unwrap();
    assert_eq!((lag.events, lag.seconds), (0, 0.0));
    assert_eq!(lag.head, lag.checkpoint);
}

/// Many registrations, edits and removals, chosen at random (seeded).
async fn random_history(log: &EventLog, prefix: &str, operations: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = HashMap::new();
    let mut live: HashMap<String, Value> = HashMap::new();
    for _ in 0..operations {
        let n = rng.gen_range(0..60);
        let name = format!("{prefix}-{n}");
        let stream = format!("component:default/{name}");
        let dep = format!("component:{prefix}-{}", rng.gen_range(0..60));
        let owner = format!("team-{}", rng.gen_range(0..5));
        let event = match live.get(&stream) {
            None => {
                let d = component(&name, &owner, &[&dep]);
                live.insert(stream.clone(), d.clone());
                CatalogEvent::EntityRegistered { descriptor: d }
            }
            Some(_) if rng.gen_bool(0.2) => {
                live.remove(&stream);
                CatalogEvent::EntityRemoved {
                    reason: RemovalReason::GoneFromSource,
                }
            }
            Some(old) => {
                let new = component(&name, &owner, &[&dep]);
                let changes = diff(old, &new);
                live.insert(stream.clone(), new);
                CatalogEvent::EntityUpdated { changes }
            }
        };
        record(log, &mut v, &stream, event).await;
    }
}

#[tokio::test]
async fn a_random_history_then_replay_verify_reports_no_difference() {
    let db = test_db().await;
    let log = db.log();
    let projector = Projector::new(db.pool.clone()).with_batch_size(37);
    random_history(&log, "svc", 300, 7).await;
    projector.catch_up().await.unwrap();
    random_history(&log, "web", 250, 8).await;
    projector.catch_up().await.unwrap();
    assert_replay_clean(&db).await;

    // The check can fail: tamper with a projected row and it is reported.
    let differences = differences_after(
        &db,
        "UPDATE entities SET lifecycle = 'tampered' WHERE ref = (SELECT min(ref) FROM entities)",
    )
    .await;
    assert_eq!(differences.len(), 2, "{differences:#?}");
    assert!(differences[0].contains("tampered"));

    // A swap rebuilds the live tables from the log.
    let swapped = replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert!(swapped.events >= 550);
    assert_replay_clean(&db).await;
}

/// What `replay --verify` reports after `update` tampered with the live rows.
async fn differences_after(db: &TestDb, update: &str) -> Vec<String> {
    sqlx::query(update).execute(&db.pool).await.unwrap();
    replay(&db.pool, ReplayMode::Verify, |_, _| {})
        .await
        .unwrap()
        .differences
}

/// Every live entity row's ref and row version (`xmin`): a rewritten row gets a new one.
async fn row_versions(pool: &PgPool) -> Vec<(String, String)> {
    refs_with(pool, "xmin::text").await
}

/// Every live entity row's ref with the text of `expression`, by ref.
async fn refs_with(pool: &PgPool, expression: &str) -> Vec<(String, String)> {
    sqlx::query_as(&format!(
        "SELECT ref, {expression} FROM entities ORDER BY ref"
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A swap writes only the live rows that differ from the log: a tampered row is
/// rewritten, a row the log does not hold is deleted, a missing one inserted, and every
/// row that already equals the rebuild is left as it was (same row version, `xmin`).
#[tokio::test]
async fn a_swap_rewrites_only_the_rows_that_differ_from_the_log() {
    let db = test_db().await;
    let log = db.log();
    random_history(&log, "svc", 120, 21).await;
    let projector = Projector::new(db.pool.clone());
    projector.catch_up().await.unwrap();
    let before = live_state(&db.pool).await;
    let untouched = row_versions(&db.pool).await;
    let (tampered, removed): (String, String) =
        sqlx::query_as("SELECT min(ref), max(ref) FROM entities")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE entities SET lifecycle = 'tampered' WHERE ref = $1")
        .bind(&tampered)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM entities WHERE ref = $1")
        .bind(&removed)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO entities (ref, uid, kind, namespace, name, descriptor, version, \
         last_position, created_at, updated_at) \
         SELECT 'component:default/not-in-the-log', gen_random_uuid(), kind, namespace, \
         'not-in-the-log', descriptor, version, last_position, created_at, updated_at \
         FROM entities WHERE ref = $1",
    )
    .bind(&tampered)
    .execute(&db.pool)
    .await
    .unwrap();
    assert_ne!(live_state(&db.pool).await, before);

    let swapped = replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(swapped.up_to, log.head_position().await.unwrap());
    assert_eq!(live_state(&db.pool).await, before);
    assert_replay_clean(&db).await;
    let after = row_versions(&db.pool).await;
    assert_eq!(after.len(), untouched.len());
    for ((entity_ref, was), (same_ref, now)) in untouched.iter().zip(&after) {
        assert_eq!(entity_ref, same_ref);
        if *entity_ref == tampered || *entity_ref == removed {
            assert_ne!(was, now, "{entity_ref} was rewritten");
        } else {
            assert_eq!(was, now, "{entity_ref} equals the log and was left alone");
        }
    }
}

/// A swap finds the rows that equal the log by fingerprint (the server hashes each live
/// row's text, the replay the text of its rebuild): text that needs quoting or escaping,
/// keys of every length, numbers, NULL and empty values hash alike on both sides (nothing
/// is rewritten), and a row changed in any one column, of any type, is rewritten.
#[tokio::test]
async fn a_swap_compares_every_column_of_every_type_by_fingerprint() {
    let db = test_db().await;
    let log = db.log();
    let mut versions = HashMap::new();
    // Text to quote, empty or NULL in `lifecycle` and `source`; the rest in the `json`
    // descriptor.
    let tricky = |name: &str, lifecycle: Option<&str>| {
        let mut descriptor = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": name,
                "namespace": "default",
                "description": "naïve — ✓ \"quoted\" it's a \\ back\nslash\ttab\u{1}\u{8}\u{c}\r\u{7f}",
                "tags": ["a b", "c\"d", "e\\f", "null", "{x,y}"],
                "labels": {"a": "1", "bb": "it's", "c": "x\\y", "zzzz": "", "ä": "ü"},
                "annotations": {
                    "backstage.io/orphan-ish": "E'\\'", "k": "v",
                    "backstage.io/managed-by-location": "url:https://x/it's a \\ \"path\"",
                },
            },
            "spec": {
                "type": "service", "owner": "team-a",
                "numbers": [0, -3, 42, 1.5, 0.1, 100.0, 12345678901234_i64, -0.25],
                "nested": {"deep": [[], {}, [null, true, false]], "": "empty key"},
            },
        });
        if let Some(lifecycle) = lifecycle {
            descriptor["spec"]["lifecycle"] = json!(lifecycle);
        }
        descriptor
    };
    let names = [
        "plain",
        "lifecycle",
        "empty-lifecycle",
        "age",
        "source",
        "labels",
        "uid",
        "version",
    ];
    for name in names {
        let lifecycle = match name {
            "plain" | "uid" => None,
            "empty-lifecycle" => Some(""),
            _ => Some("A 'lifecycle' with \\ and \""),
        };
        let stream = format!("component:default/{name}");
        let event = CatalogEvent::EntityRegistered {
            descriptor: tricky(name, lifecycle),
        };
        record(&log, &mut versions, &stream, event).await;
    }
    let projector = Projector::new(db.pool.clone());
    projector.catch_up().await.unwrap();
    let before = live_state(&db.pool).await;

    // The projector's rows equal the log: a swap rewrites none of them.
    let projected = row_versions(&db.pool).await;
    replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(row_versions(&db.pool).await, projected);
    assert_eq!(live_state(&db.pool).await, before);

    let tampering = [
        ("lifecycle", "lifecycle = NULL"),
        ("empty-lifecycle", "lifecycle = NULL"),
        ("plain", "lifecycle = ''"),
        ("age", "created_at = created_at + interval '1 microsecond'"),
        ("source", "source = source || 'x'"),
        (
            "labels",
            "descriptor = jsonb_set(descriptor::jsonb, '{metadata,labels,bb}', '\"its\"')::json",
        ),
        ("uid", "uid = gen_random_uuid()"),
        ("version", "version = version + 1"),
    ];
    for (name, set) in tampering {
        sqlx::query(&format!(
            "UPDATE entities SET {set} WHERE ref = 'component:default/{name}'"
        ))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    assert_ne!(live_state(&db.pool).await, before);
    let tampered = row_versions(&db.pool).await;
    let swapped = replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(swapped.entities, names.len() as i64);
    assert_eq!(live_state(&db.pool).await, before);
    for ((entity_ref, was), (_, now)) in tampered.iter().zip(&row_versions(&db.pool).await) {
        assert_ne!(
            was, now,
            "{entity_ref} differed in one column and was rewritten"
        );
    }
    assert_replay_clean(&db).await;
}

/// A component whose labels' keys sort otherwise by bytes (serde_json) than shorter first
/// (`jsonb`), so the two texts of its descriptor differ.
fn labelled(name: &str, tier: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name, "namespace": "default",
            "labels": {"zz": "2", "a": "1", "bbb": tier},
            "annotations": {"k": "v", "backstage.io/x": "y"},
        },
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    })
}

/// A database holding `labelled(name, "3")` as `component:default/<name>` for each name,
/// projected: the database, its log, the projector, the streams' versions.
async fn labelled_catalog(names: &[&str]) -> (TestDb, EventLog, Projector, HashMap<String, i64>) {
    let db = test_db().await;
    let log = db.log();
    let mut versions = HashMap::new();
    for name in names {
        let descriptor = labelled(name, "3");
        let stream = format!("component:default/{name}");
        let registered = CatalogEvent::EntityRegistered { descriptor };
        record(&log, &mut versions, &stream, registered).await;
    }
    let projector = Projector::new(db.pool.clone());
    projector.catch_up().await.unwrap();
    (db, log, projector, versions)
}

/// `(ref, descriptor)` of every live entity, as the column's text.
async fn json_texts(pool: &PgPool) -> Vec<(String, String)> {
    refs_with(pool, "descriptor::text").await
}

/// The JSON columns are `json` (migration 0016), stored as the projector writes them: its
/// two write paths, `COPY` for a new row and the bulk upsert for a row it holds, both
/// store serde_json's compact text, so a swap's fingerprints find every row they wrote
/// equal to the log and rewrite none.
#[tokio::test]
async fn both_write_paths_store_serde_jsons_text_and_a_swap_rewrites_none_of_their_rows() {
    let (db, log, projector, mut versions) = labelled_catalog(&["copied", "upserted"]).await;
    let changes = diff(&labelled("upserted", "3"), &labelled("upserted", "4"));
    let stream = "component:default/upserted";
    record(
        &log,
        &mut versions,
        stream,
        CatalogEvent::EntityUpdated { changes },
    )
    .await;
    projector.catch_up().await.unwrap();

    let texts = json_texts(&db.pool).await;
    let expected: Vec<(String, String)> = [("copied", "3"), ("upserted", "4")]
        .into_iter()
        .map(|(name, tier)| {
            let descriptor = labelled(name, tier);
            (format!("component:default/{name}"), descriptor.to_string())
        })
        .collect();
    assert_eq!(texts, expected);
    assert!(texts[0]
        .1
        .contains(r#""labels":{"a":"1","bbb":"3","zz":"2"}"#));

    let projected = row_versions(&db.pool).await;
    replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(row_versions(&db.pool).await, projected);
    assert_eq!(json_texts(&db.pool).await, expected);
    assert_replay_clean(&db).await;
}

/// `replay --verify` compares the `json` column by value (as `jsonb`: `json` has no
/// equality): a row converted from `jsonb` by migration 0016 (same value, `jsonb`'s text)
/// is no difference, while a changed descriptor is reported. A swap
/// rewrites the converted row once (its text differs from the fingerprint's), to
/// serde_json's text, then no more.
#[tokio::test]
async fn verify_compares_the_json_column_by_value_and_a_swap_rewrites_jsonb_text_once() {
    let (db, ..) = labelled_catalog(&["converted", "kept"]).await;
    let projected = json_texts(&db.pool).await;
    let converted = "component:default/converted";
    sqlx::query("UPDATE entities SET descriptor = descriptor::jsonb::json WHERE ref = $1")
        .bind(converted)
        .execute(&db.pool)
        .await
        .unwrap();
    let texts = json_texts(&db.pool).await;
    assert!(texts[0]
        .1
        .contains(r#""labels": {"a": "1", "zz": "2", "bbb": "3"}"#));
    assert_replay_clean(&db).await;

    let before = row_versions(&db.pool).await;
    replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    let after = row_versions(&db.pool).await;
    assert_ne!(after[0], before[0], "the converted row is rewritten");
    assert_eq!(after[1], before[1], "the projector's row is left alone");
    assert_eq!(json_texts(&db.pool).await, projected);
    replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(row_versions(&db.pool).await, after);

    // The check can fail: a changed value is reported, both ways.
    for set in [
        "descriptor = (descriptor::jsonb || '{\"tampered\": 1}')::json",
        "descriptor = jsonb_set(descriptor::jsonb, '{metadata,labels,tampered}', '\"1\"')::json",
    ] {
        let update = format!("UPDATE entities SET {set} WHERE ref = '{converted}'");
        let differences = differences_after(&db, &update).await;
        assert_eq!(differences.len(), 2, "{set}: {differences:#?}");
        assert!(
            differences[0].starts_with("entities only in live: ")
                && differences[0].contains("tampered"),
            "{set}: {differences:#?}"
        );
        assert!(!differences[1].contains("tampered"), "{set}");
        replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
        assert_eq!(json_texts(&db.pool).await, projected);
    }
}

/// Every row of the live projection tables and the checkpoint, as text.
async fn live_state(pool: &PgPool) -> Vec<String> {
    let (rows,): (Vec<String>,) = sqlx::query_as(
        "SELECT ARRAY(SELECT row_to_json(e)::text FROM entities e ORDER BY ref) \
         || ARRAY(SELECT row_to_json(l)::text FROM locations l ORDER BY id) \
         || ARRAY(SELECT row_to_json(f)::text FROM projection_failures f ORDER BY position) \
         || ARRAY(SELECT position::text FROM projection_checkpoints)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    rows
}

/// A swap whose database session dies after the log was folded, before anything was
/// written (the process killed, the connection cut): nothing of it remains, the
/// projector lock is free again, and the next replay swaps cleanly.
#[tokio::test]
async fn a_replay_killed_after_folding_changes_nothing_and_the_next_one_swaps() {
    let db = test_db().await;
    let log = db.log();
    random_history(&log, "svc", 200, 11).await;
    let projector = Projector::new(db.pool.clone());
    projector.catch_up().await.unwrap();
    let before = live_state(&db.pool).await;
    assert!(before.len() > 10);
    // Some events after the checkpoint: a swap would move it.
    random_history(&log, "web", 50, 12).await;

    // Once the log is folded, before anything is written, another session ends the
    // replay's (its one transaction is idle then). Done on a thread of its own, since
    // the progress callback is synchronous.
    let options = db.pool.connect_options().as_ref().clone();
    let killed = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let counted = killed.clone();
    let failed = replay(&db.pool, ReplayMode::Swap, move |_, _| {
        let options = options.clone();
        let ended = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
                let (ended,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) \
                     FROM pg_stat_activity WHERE datname = current_database() \
                     AND state = 'idle in transaction' AND pid <> pg_backend_pid()) t",
                )
                .fetch_one(&mut conn)
                .await
                .unwrap();
                ended
            })
        })
        .join()
        .unwrap();
        counted.fetch_add(ended, std::sync::atomic::Ordering::SeqCst);
    })
    .await;
    assert_eq!(killed.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(failed.is_err(), "{failed:?}");

    assert_eq!(live_state(&db.pool).await, before);
    // The lock went with the session: the projector moves on, and a replay agrees.
    assert!(matches!(
        projector.catch_up().await.unwrap(),
        Step::Idle { .. }
    ));
    assert_replay_clean(&db).await;
    let swapped = replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(swapped.up_to, log.head_position().await.unwrap());
    assert_replay_clean(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_projectors_on_one_database_apply_each_event_once() {
    let db = test_db().await;
    let log = db.log();
    let a = Projector::new(db.pool.clone()).with_batch_size(25);
    let b = Projector::new(db.second_pool().await).with_batch_size(25);
    let writer = {
        let log = log.clone();
        tokio::spawn(async move { random_history(&log, "svc", 500, 11).await })
    };
    // Each projector counts the events it applied; the first is told to stop (not aborted,
    // so its count is not lost).
    let stop_a = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run = |p: Projector, stop: std::sync::Arc<std::sync::atomic::AtomicBool>| {
        tokio::spawn(async move {
            let mut applied = 0;
            for _ in 0..4_000 {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                match p.step().await.unwrap() {
                    Step::Applied { events, .. } => applied += events,
                    _ => tokio::task::yield_now().await,
                }
            }
            applied
        })
    };
    let never = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ha, hb) = (run(a.clone(), stop_a.clone()), run(b.clone(), never));
    // Stop the first mid-stream: the second finishes the job.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop_a.store(true, std::sync::atomic::Ordering::SeqCst);
    let applied_a = ha.await.unwrap();
    writer.await.unwrap();
    let mut applied_b = hb.await.unwrap();
    while let Step::Applied { events, .. } = b.step().await.unwrap() {
        applied_b += events;
    }
    let (head, checkpoint) = (
        log.head_position().await.unwrap(),
        almanac_store::projection::checkpoint(&db.pool)
            .await
            .unwrap(),
    );
    assert_eq!(checkpoint, head);
    assert!(applied_b > 0, "the second projector did work");
    // Once: together they applied exactly the events of the log, none twice.
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(i64::try_from(applied_a + applied_b).unwrap(), events);
    assert_replay_clean(&db).await;
}

#[tokio::test]
async fn a_failed_batch_leaves_no_trace_and_the_next_run_matches_a_replay() {
    use sqlx::{ConnectOptions, Connection};
    let db = test_db().await;
    let log = db.log();
    random_history(&log, "svc", 300, 3).await;
    // Make one entity impossible to project, as a failing disk or bug would.
    let mut su = db.superuser.connect().await.unwrap();
    sqlx::query(
        "CREATE FUNCTION fail_svc_13() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.name = 'svc-13' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$",
    )
    .execute(&mut su).await.unwrap();
    sqlx::query("CREATE TRIGGER fail_svc_13 BEFORE INSERT OR UPDATE ON entities FOR EACH ROW EXECUTE FUNCTION fail_svc_13()")
        .execute(&mut su).await.unwrap();

    let projector = Projector::new(db.pool.clone()).with_batch_size(40);
    let err = projector.catch_up().await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    let stuck_at = almanac_store::projection::checkpoint(&db.pool)
        .await
        .unwrap();
    let (max_projected,): (Option<i64>,) =
        sqlx::query_as("SELECT max(last_position) FROM entities")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(
        max_projected.unwrap_or(0) <= stuck_at,
        "no row of the failed batch was kept"
    );
    assert!(stuck_at < log.head_position().await.unwrap());

    sqlx::query("DROP TRIGGER fail_svc_13 ON entities")
        .execute(&mut su)
        .await
        .unwrap();
    su.close().await.unwrap();
    projector.catch_up().await.unwrap();
    assert_eq!(
        almanac_store::projection::checkpoint(&db.pool)
            .await
            .unwrap(),
        log.head_position().await.unwrap()
    );
    assert_replay_clean(&db).await;
}
