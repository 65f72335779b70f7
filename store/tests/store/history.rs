//! Time travel over one stream, and the log's export/import round trip.

use almanac_domain::{diff, CatalogEvent, RelationType, RemovalReason};
use almanac_store::catalog::{Catalog, RelationRecord};
use almanac_store::history::{changes_by_version, descriptor_at, HistoryError, PointInTime};
use almanac_store::log::{StoredEvent, TransferError};
use almanac_store::projection::rows::entity_uid;
use almanac_store::projection::Projector;
use almanac_store::testing::test_db;
use almanac_store::testing::test_sealer;
use almanac_store::{AppendMeta, EventLog, NewEvent, StreamAppend};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::HashSet;

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
async fn a_snapshot_is_the_projected_row_of_its_version_with_the_relations_it_declared() {
    let db = test_db().await;
    let log = db.log();
    let stream = "component:default/clock";
    let (v1, v2) = (component("experimental"), component("production"));
    let registered = CatalogEvent::EntityRegistered {
        descriptor: v1.clone(),
    };
    let t1 = record(&log, 0, registered.clone(), "alice").await;
    let update = CatalogEvent::EntityUpdated {
        changes: diff(&v1, &v2),
    };
    let t2 = record(&log, 1, update, "bob").await;
    let removal = CatalogEvent::EntityRemoved {
        reason: RemovalReason::DeletedByUser,
    };
    record(&log, 2, removal, "carol").await;
    let t4 = record(&log, 3, registered, "dave").await;
    let positions: Vec<i64> = log
        .read_stream(stream, 1)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();

    let second = log
        .snapshot(stream, PointInTime::Version(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.record.version, 2);
    assert_eq!(second.record.lifecycle.as_deref(), Some("production"));
    assert_eq!(second.record.uid, entity_uid(stream, positions[0]));
    assert_eq!(
        (second.record.created_at, second.record.updated_at),
        (t1, t2)
    );
    assert_eq!(
        second.relations,
        vec![RelationRecord {
            source_ref: stream.into(),
            relation: RelationType::OwnedBy,
            target_ref: "group:default/team-a".into(),
            declared_by: stream.into(),
            field: "spec.owner".into(),
        }]
    );
    // Removed then: no snapshot; nor past the stream's end.
    for version in [3, 5] {
        let gone = log.snapshot(stream, PointInTime::Version(version)).await;
        assert!(gone.unwrap().is_none(), "version {version}");
    }

    // The newest snapshot is exactly the row and the edges the projector wrote.
    Projector::new(db.pool.clone()).catch_up().await.unwrap();
    let catalog = Catalog::new(db.pool.clone());
    let projected = catalog.entities_by_ref(&[stream.into()]).await.unwrap();
    let newest = log
        .snapshot(stream, PointInTime::AsOf(t4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.record.uid, entity_uid(stream, positions[3]));
    assert_eq!(newest.record.created_at, t4);
    assert_eq!(projected, vec![newest.record]);
    let edges = super::support::relation_edges(&db.pool, stream).await;
    assert_eq!(edges, newest.relations);
}

/// An event that does not fold is named by its own position, not the stream's last.
#[tokio::test]
async fn an_event_that_does_not_fold_is_reported_at_its_position() {
    let db = test_db().await;
    let log = db.log();
    let stream = "component:default/clock";
    let v1 = component("experimental");
    let registered = CatalogEvent::EntityRegistered {
        descriptor: v1.clone(),
    };
    record(&log, 0, registered, "alice").await;
    let stale = CatalogEvent::EntityUpdated {
        changes: diff(&component("retired"), &v1),
    };
    record(&log, 1, stale, "bob").await;
    let orphaned = CatalogEvent::EntityOrphaned {
        location: "file:/srv/clock.yaml".into(),
    };
    record(&log, 2, orphaned, "carol").await;
    let events = log.read_stream(stream, 1).await.unwrap();

    let error = log
        .entity_at(stream, PointInTime::Version(3))
        .await
        .unwrap_err();
    match error {
        HistoryError::Corrupt { position, message } => {
            assert_eq!(position, events[1].position);
            assert!(message.starts_with("event 2 does not apply"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let wanted = HashSet::from([1]);
    assert!(matches!(
        changes_by_version(&events, &wanted),
        Err(HistoryError::Corrupt { position, .. }) if position == events[1].position
    ));
    // Before the bad event the past is still readable.
    assert_eq!(descriptor_at(&events, 1).unwrap(), Some(v1));
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
    let next = super::support::append_one(
        &copy,
        "component:default/other",
        0,
        super::support::event("EntityRemoved", json!({})),
    )
    .await;
    assert!(next > 2);

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
