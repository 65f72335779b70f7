//! An event the projector cannot project does not halt the catalog: it is recorded
//! against its entity, the checkpoint moves past it, every other event is projected, and a
//! replay (with other batch boundaries) rebuilds exactly the same state.
//!
//! The events are appended straight to the log, past validation, as a descriptor stored
//! before today's limits would be.

use super::support::{append_one, event};
use almanac_domain::{diff, CatalogEvent};
use almanac_store::catalog::Catalog;
use almanac_store::projection::{replay, Projector, ReplayMode, Step};
use almanac_store::testing::{test_db, TestDb};
use serde_json::{json, Value};

/// `n` characters that neither compression nor an index could shrink much.
fn noise(n: usize) -> String {
    let mut state = 0x1234_5678_u32;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

fn component(name: &str, spec_type: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": spec_type, "lifecycle": "production", "owner": "team-a"},
    })
}

fn stream(name: &str) -> String {
    format!("component:default/{name}")
}

async fn append_raw(db: &TestDb, stream: &str, expected: i64, event_type: &str, payload: Value) {
    append_one(&db.log(), stream, expected, event(event_type, payload)).await;
}

async fn append(db: &TestDb, stream: &str, expected: i64, event: CatalogEvent) {
    append_raw(db, stream, expected, event.event_type(), event.to_payload()).await;
}

fn registered(descriptor: Value) -> CatalogEvent {
    CatalogEvent::EntityRegistered { descriptor }
}

async fn spec_type(db: &TestDb, name: &str) -> Option<(i64, String)> {
    sqlx::query_as("SELECT version, spec_type FROM entities WHERE ref = $1")
        .bind(stream(name))
        .fetch_optional(&db.pool)
        .await
        .unwrap()
}

/// (stage, stream, version) of every recorded failure.
async fn failures(db: &TestDb) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT stage, stream, version FROM projection_failures ORDER BY position, stage",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn assert_replay_clean(db: &TestDb) {
    let report = replay(&db.pool, ReplayMode::Verify, |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.differences, Vec::<String>::new());
}

#[tokio::test]
async fn an_unprojectable_event_is_recorded_and_every_other_event_is_projected() {
    let db = test_db().await;
    db.refuse_long_spec_types().await;
    append(
        &db,
        &stream("poison"),
        0,
        registered(component("poison", &noise(10_000))),
    )
    .await;
    append(
        &db,
        &stream("ordinary"),
        0,
        registered(component("ordinary", "service")),
    )
    .await;

    let projector = Projector::new(db.pool.clone());
    let head = db.log().head_position().await.unwrap();
    assert_eq!(
        projector.catch_up().await.unwrap(),
        Step::Idle { checkpoint: head }
    );
    assert_eq!(
        spec_type(&db, "ordinary").await,
        Some((1, "service".to_string()))
    );
    assert_eq!(spec_type(&db, "poison").await, None);
    assert_eq!(
        failures(&db).await,
        [("write".to_string(), stream("poison"), 1)]
    );

    // Shown where processing errors are, for the catalog and for the entity.
    let catalog = Catalog::new(db.pool.clone());
    let errors = catalog
        .processing_errors(Some("projector"), 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].entity_ref.as_deref(),
        Some(stream("poison").as_str())
    );
    let message = &errors[0].message;
    assert!(
        message.starts_with("event at position 1 (version 1 of component:default/poison, EntityRegistered) could not be stored in the catalog")
            && message.contains("index row requires")
            && message.ends_with("(SQLSTATE 54000)"),
        "{message}"
    );
    assert_eq!(
        catalog
            .processing_errors_of(&[stream("poison")])
            .await
            .unwrap(),
        errors
    );

    // Later writes keep landing, and the rebuild equals the live state.
    append(
        &db,
        &stream("later"),
        0,
        registered(component("later", "website")),
    )
    .await;
    projector.catch_up().await.unwrap();
    assert_eq!(
        spec_type(&db, "later").await,
        Some((1, "website".to_string()))
    );
    assert_replay_clean(&db).await;
    let report = replay(&db.pool, ReplayMode::Swap, |_, _| {}).await.unwrap();
    assert_eq!(report.entities, 2);
    assert_eq!(failures(&db).await.len(), 1);
}

/// good v1, poison v2, fixed v3, projected one event per batch or all in one: the same
/// rows either way, and the same as a replay at every step.
#[tokio::test]
async fn a_poisoned_entity_keeps_its_last_good_version_and_recovers_whatever_the_batches() {
    for batch_size in [1, 100] {
        let db = test_db().await;
        db.refuse_long_spec_types().await;
        let projector = Projector::new(db.pool.clone()).with_batch_size(batch_size);
        let s = stream("svc");
        let good = component("svc", "service");
        let poison = component("svc", &noise(10_000));
        let fixed = component("svc", "website");
        append(&db, &s, 0, registered(good.clone())).await;
        append(
            &db,
            &s,
            1,
            CatalogEvent::EntityUpdated {
                changes: diff(&good, &poison),
            },
        )
        .await;
        projector.catch_up().await.unwrap();
        assert_eq!(
            spec_type(&db, "svc").await,
            Some((1, "service".into())),
            "{batch_size}"
        );
        assert_eq!(failures(&db).await, [("write".to_string(), s.clone(), 2)]);
        assert_replay_clean(&db).await;

        // An orphaning keeps the poison descriptor: still not storable, the failure moves on.
        let orphaned = CatalogEvent::EntityOrphaned {
            location: "url:x".into(),
        };
        append(&db, &s, 2, orphaned).await;
        projector.catch_up().await.unwrap();
        assert_eq!(spec_type(&db, "svc").await, Some((1, "service".into())));
        assert_eq!(failures(&db).await, [("write".to_string(), s.clone(), 3)]);
        assert_replay_clean(&db).await;

        // The fix applies to the true state (the poison one), and clears the failure.
        append(
            &db,
            &s,
            3,
            CatalogEvent::EntityUpdated {
                changes: diff(&poison, &fixed),
            },
        )
        .await;
        projector.catch_up().await.unwrap();
        assert_eq!(spec_type(&db, "svc").await, Some((4, "website".into())));
        assert_eq!(failures(&db).await, []);
        assert_replay_clean(&db).await;
    }
}

#[tokio::test]
async fn events_that_do_not_decode_or_fold_are_recorded_not_skipped_silently() {
    let db = test_db().await;
    db.refuse_long_spec_types().await;
    append_raw(&db, &stream("future"), 0, "EntityTeleported", json!({})).await;
    let update = CatalogEvent::EntityUpdated {
        changes: diff(&component("ghost", "a"), &component("ghost", "b")),
    };
    append(&db, &stream("ghost"), 0, update).await;
    append(
        &db,
        &stream("fine"),
        0,
        registered(component("fine", "service")),
    )
    .await;
    Projector::new(db.pool.clone()).catch_up().await.unwrap();
    assert_eq!(
        failures(&db).await,
        [
            ("decode".to_string(), stream("future"), 1),
            ("fold".to_string(), stream("ghost"), 1),
        ]
    );
    assert_eq!(spec_type(&db, "fine").await, Some((1, "service".into())));
    let errors = Catalog::new(db.pool.clone())
        .processing_errors_of(&[stream("ghost")])
        .await
        .unwrap();
    assert!(
        errors[0]
            .message
            .contains("does not apply to the entity's state"),
        "{:?}",
        errors[0]
    );
    assert_replay_clean(&db).await;
}

/// A description of 1.2 MB of distinct words or 200,000 tags (stored before the limits)
/// overflowed the SQL search's tsvector; with search in memory (migration 0006 dropped
/// the column), such an entity projects whole.
#[tokio::test]
async fn an_entity_with_a_long_description_projects() {
    let db = test_db().await;
    db.refuse_long_spec_types().await;
    let words: Vec<String> = (0..150_000).map(|i| format!("word{i}")).collect();
    let mut long = component("long", "service");
    long["metadata"]["description"] = json!(words.join(" "));
    append(&db, &stream("long"), 0, registered(long)).await;
    Projector::new(db.pool.clone()).catch_up().await.unwrap();
    assert_eq!(failures(&db).await, []);
    let (length,): (i32,) = sqlx::query_as(
        "SELECT octet_length(descriptor->'metadata'->>'description') FROM entities \
         WHERE name = 'long'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(length as usize, words.join(" ").len());
}

#[tokio::test]
async fn an_entity_with_very_many_tags_projects() {
    let db = test_db().await;
    db.refuse_long_spec_types().await;
    let mut tagged = component("tagged", "service");
    // 1.3 MB of distinct tags: more lexemes than a tsvector held.
    let tags: Vec<String> = (0..60_000)
        .map(|i| format!("t{i:06}-overflowing"))
        .collect();
    tagged["metadata"]["tags"] = json!(tags);
    append(&db, &stream("tagged"), 0, registered(tagged)).await;
    Projector::new(db.pool.clone()).catch_up().await.unwrap();
    assert_eq!(failures(&db).await, []);
    let (count,): (i32,) = sqlx::query_as(
        "SELECT json_array_length(descriptor->'metadata'->'tags') FROM entities \
         WHERE name = 'tagged'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(count, 60_000);
}
