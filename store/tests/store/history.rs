//! Time travel over one stream, and the log's export/import round trip.

use almanac_domain::{diff, CatalogEvent, RemovalReason};
use almanac_store::history::PointInTime;
use almanac_store::log::{StoredEvent, TransferError};
use almanac_store::testing::test_db;
use almanac_store::testing::test_sealer;
use almanac_store::{AppendMeta, EventLog, NewEvent, StreamAppend};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

fn component(lifecycle: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "clock", "namespace": "default"},
        "spec": {"type": "service", "lifecycle": lifecycle, "owner": "team-a"},
    })
}

async fn record(log: &EventLog, version: i64, event: CatalogEvent, actor: &str) -> DateTime<Utc> {
    log.append(
        &[StreamAppend {
            stream: "component:default/clock".into(),
            expected_version: version,
            events: vec![NewEvent {
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                payload: event.to_payload(),
            }],
            source: Some("file:/srv/clock.yaml".into()),
        }],
        &AppendMeta {
            actor: actor.into(),
            ..AppendMeta::default()
        },
    )
    .await
    .unwrap();
    let events = log
        .read_stream("component:default/clock", version + 1)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    events[0].recorded_at
}

fn lifecycle(entity: &Option<almanac_store::history::PastEntity>) -> Option<String> {
    entity
        .as_ref()
        .and_then(|e| e.descriptor.as_ref())
        .map(|d| d["spec"]["lifecycle"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn as_of_and_version_return_the_entity_as_it_was_then() {
    let db = test_db().await;
    let log = db.log();
    let (v1, v2) = (component("experimental"), component("production"));
    let t1 = record(
        &log,
        0,
        CatalogEvent::EntityRegistered {
            descriptor: v1.clone(),
        },
        "alice",
    )
    .await;
    let t2 = record(
        &log,
        1,
        CatalogEvent::EntityUpdated {
            changes: diff(&v1, &v2),
        },
        "bob",
    )
    .await;
    let t3 = record(
        &log,
        2,
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::DeletedByUser,
        },
        "carol",
    )
    .await;
    let stream = "component:default/clock";
    let at = |t: DateTime<Utc>| PointInTime::AsOf(t);

    assert_eq!(
        log.entity_at(stream, at(t1 - Duration::milliseconds(5)))
            .await
            .unwrap(),
        None
    );
    let first = log.entity_at(stream, at(t1 + (t2 - t1) / 2)).await.unwrap();
    assert_eq!(lifecycle(&first), Some("experimental".into()));
    assert_eq!(first.as_ref().unwrap().version, 1);
    let second = log.entity_at(stream, at(t2 + (t3 - t2) / 2)).await.unwrap();
    assert_eq!(lifecycle(&second), Some("production".into()));
    let relations = second.as_ref().unwrap().relations();
    assert_eq!(relations.len(), 1);
    assert_eq!(relations[0].target.canonical(), "group:default/team-a");
    // Removed since: it still travels; after the removal it is gone.
    let after = log
        .entity_at(stream, at(t3 + Duration::seconds(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.version, after.descriptor), (3, None));
    assert_eq!(
        lifecycle(
            &log.entity_at(stream, PointInTime::Version(1))
                .await
                .unwrap()
        ),
        Some("experimental".into())
    );
    assert_eq!(
        log.entity_at("component:default/never", at(t3))
            .await
            .unwrap(),
        None
    );

    let newest = log.history_page(stream, None, 2, true).await.unwrap();
    assert_eq!(
        newest
            .iter()
            .map(|e| (e.version, e.actor.as_str()))
            .collect::<Vec<_>>(),
        vec![(3, "carol"), (2, "bob")]
    );
    let rest = log.history_page(stream, Some(2), 2, true).await.unwrap();
    assert_eq!(rest.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1]);
}

#[tokio::test]
async fn an_export_imports_into_an_empty_database_with_identical_history() {
    let source = test_db().await;
    let log = source.log();
    let v1 = component("experimental");
    record(
        &log,
        0,
        CatalogEvent::EntityRegistered {
            descriptor: v1.clone(),
        },
        "alice",
    )
    .await;
    record(
        &log,
        1,
        CatalogEvent::EntityUpdated {
            changes: diff(&v1, &component("production")),
        },
        "bob",
    )
    .await;
    let mut lines = Vec::new();
    let count = log
        .export(None, None, |e| {
            lines.push(serde_json::to_string(e).unwrap());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(count, 2);

    let target = test_db().await;
    let imported = EventLog::new(target.owner.clone())
        .with_sealer(test_sealer())
        .import(lines.iter().cloned().enumerate())
        .await
        .unwrap();
    assert_eq!(imported, 2);
    let copy = target.log();
    assert_eq!(
        copy.read_feed(0, 10).await.unwrap(),
        log.read_feed(0, 10).await.unwrap()
    );
    assert!(copy.verify(None).await.unwrap().is_intact());
    // New appends continue after the imported positions.
    let next = copy
        .append(
            &[StreamAppend {
                stream: "component:default/other".into(),
                expected_version: 0,
                events: vec![NewEvent {
                    event_type: "EntityRemoved".into(),
                    schema_version: 1,
                    payload: json!({}),
                }],
                source: None,
            }],
            &AppendMeta {
                actor: "x".into(),
                ..AppendMeta::default()
            },
        )
        .await
        .unwrap();
    assert!(next.positions[0] > 2);

    // A file altered after export is refused, naming the line.
    let mut altered: StoredEvent = serde_json::from_str(&lines[1]).unwrap();
    altered.actor = "mallory".into();
    let tampered = vec![
        (1, lines[0].clone()),
        (2, serde_json::to_string(&altered).unwrap()),
    ];
    let empty = test_db().await;
    match EventLog::new(empty.owner.clone())
        .with_sealer(test_sealer())
        .import(tampered)
        .await
    {
        Err(TransferError::Invalid { line, message }) => {
            assert_eq!(line, 2);
            assert!(message.contains("hash does not match"), "{message}");
        }
        other => panic!("expected the tampered line to be refused, got {other:?}"),
    }
    assert_eq!(
        empty.log().head_position().await.unwrap(),
        0,
        "nothing imported"
    );
    // And an import never lands on a log that already holds events.
    assert!(matches!(
        EventLog::new(target.owner.clone())
            .with_sealer(test_sealer())
            .import(lines.iter().cloned().enumerate())
            .await,
        Err(TransferError::NotEmpty(3))
    ));
}
