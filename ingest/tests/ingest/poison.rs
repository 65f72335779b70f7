//! Descriptors the read side could not store or index are refused at the door, with an
//! error naming the field and the limit, and the catalog goes on taking ordinary writes.
//! Before the limits, each of these was appended and then failed every projection batch.

use super::support::ingest;
use almanac_ingest::Source;
use almanac_store::testing::test_db;
use serde_json::json;

/// `n` characters that neither compression nor an index could shrink much.
fn noise(n: usize) -> String {
    let mut state = 0x9e37_79b9_u32;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

fn component(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    })
}

fn push(name: &str, document: &serde_json::Value) -> Source {
    Source::Text {
        name: name.into(),
        text: document.to_string(),
    }
}

/// Each poison descriptor is refused with its field and limit; an ordinary push made right
/// after it is visible at once.
#[tokio::test]
async fn poison_descriptors_are_refused_and_ordinary_pushes_keep_landing() {
    let db = test_db().await;
    db.refuse_long_spec_types().await;
    let words: Vec<String> = (0..150_000).map(|i| format!("word{i}")).collect();
    let tags: Vec<String> = (0..200_000).map(|i| format!("t{i}")).collect();
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "/spec/type",
            json!(noise(10_000)),
            "spec.type is 10000 bytes, over the limit of 1024 bytes",
        ),
        (
            "/spec/lifecycle",
            json!(noise(10_000)),
            "spec.lifecycle is 10000 bytes, over the limit of 1024 bytes",
        ),
        (
            "/spec/owner",
            json!(noise(10_000)),
            "spec.owner is 10000 bytes, over the limit of 1024 bytes",
        ),
        (
            "/spec/dependsOn",
            json!([format!("resource:{}", noise(1000))]),
            "its name is 1000 bytes, over the limit of 63 bytes",
        ),
        (
            "/metadata/title",
            json!(words.join(" ")),
            "metadata.title is",
        ),
        (
            "/metadata/description",
            json!(words.join(" ")),
            "over the limit of 65536 bytes",
        ),
        (
            "/metadata/tags",
            json!(tags),
            "metadata.tags holds 200000 tags, over the limit of 1000",
        ),
    ];
    for (i, (pointer, value, expected)) in cases.into_iter().enumerate() {
        let mut poison = component(&format!("poison-{i}"));
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        poison
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.into(), value);
        let report = ingest(&db.pool, push(&format!("bot-{i}"), &poison)).await;
        assert_eq!(report.registered, 0, "{pointer}");
        assert_eq!(report.errors.len(), 1, "{pointer}");
        let error = &report.errors[0];
        assert_eq!(
            error.entity_ref.as_deref(),
            Some(format!("component:default/poison-{i}").as_str())
        );
        assert!(
            error.message.contains(expected),
            "{pointer}: {}",
            error.message
        );

        let ordinary = format!("ordinary-{i}");
        let report = ingest(&db.pool, push(&format!("team-{i}"), &component(&ordinary))).await;
        assert_eq!(report.registered, 1);
        let (name,): (String,) = sqlx::query_as("SELECT name FROM entities WHERE ref = $1")
            .bind(format!("component:default/{ordinary}"))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(name, ordinary);
    }
    // Nothing of the poison reached the log.
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE stream LIKE '%poison%'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(count, 0);
}

/// A descriptor stored before the limits (appended here past validation) cannot be
/// projected; its owner pushes a fixed one, which lands: decide starts from the entity's
/// true state, not from its row, which is behind.
#[tokio::test]
async fn an_entity_stored_before_the_limits_is_fixed_by_its_next_push() {
    use almanac_store::projection::Projector;
    use almanac_store::{AppendMeta, NewEvent, StreamAppend};
    let db = test_db().await;
    db.refuse_long_spec_types().await;
    let mut legacy = component("legacy");
    legacy["metadata"]["namespace"] = json!("default");
    legacy["metadata"]["annotations"] = json!({
        "backstage.io/managed-by-location": "api:team",
        "backstage.io/managed-by-origin-location": "api:team",
    });
    legacy["spec"]["type"] = json!(noise(10_000));
    db.log()
        .append(
            &[StreamAppend {
                stream: "component:default/legacy".into(),
                expected_version: 0,
                events: vec![NewEvent {
                    event_type: "EntityRegistered".into(),
                    schema_version: 1,
                    payload: json!({ "descriptor": legacy }),
                }],
                source: Some("api:team".into()),
            }],
            &AppendMeta {
                actor: "old-version".into(),
                ..AppendMeta::default()
            },
        )
        .await
        .unwrap();
    Projector::new(db.pool.clone()).catch_up().await.unwrap();
    let failed: (i64,) = sqlx::query_as("SELECT count(*) FROM projection_failures")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(failed.0, 1);

    let report = ingest(&db.pool, push("team", &component("legacy"))).await;
    assert_eq!((report.updated, report.errors.len()), (1, 0), "{report:?}");
    let (version, spec_type): (i64, String) = sqlx::query_as(
        "SELECT version, spec_type FROM entities WHERE ref = 'component:default/legacy'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((version, spec_type.as_str()), (2, "service"));
    let failed: (i64,) = sqlx::query_as("SELECT count(*) FROM projection_failures")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(failed.0, 0);
}
