use super::support::{append, event, meta, n};
use almanac_store::testing::test_db;
use almanac_store::{AppendError, AppendMeta, StreamAppend};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn appends_and_reads_back_a_stream_and_the_feed() {
    let db = test_db().await;
    let log = db.log();
    let correlation = Uuid::new_v4();
    let mut m = meta("alice");
    m.correlation_id = Some(correlation);
    let first = log
        .append(
            &[
                StreamAppend {
                    stream: "component:default/a".into(),
                    expected_version: 0,
                    events: vec![event(
                        "EntityRegistered",
                        json!({"descriptor": {"kind": "Component"}}),
                    )],
                    source: None,
                },
                append("component:default/b", 0, &[n(1), n(2)]),
            ],
            &m,
        )
        .await
        .unwrap();
    assert_eq!(first.positions.len(), 3);
    assert!(first.positions.windows(2).all(|w| w[0] < w[1]));
    assert!(!first.replayed);

    let second = log
        .append(&[append("component:default/a", 1, &[n(3)])], &meta("bob"))
        .await
        .unwrap();

    let a = log.read_stream("component:default/a", 1).await.unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].version, 1);
    assert_eq!(a[0].event_type, "EntityRegistered");
    assert_eq!(a[0].payload, json!({"descriptor": {"kind": "Component"}}));
    assert_eq!(a[0].actor, "alice");
    assert_eq!(a[0].correlation_id, Some(correlation));
    assert_eq!(a[0].source.as_deref(), Some("file:/tmp/catalog-info.yaml"));
    assert_eq!(a[1].version, 2);
    assert_eq!(a[1].payload, n(3));
    assert_eq!(a[1].actor, "bob");
    assert_eq!(a[1].position, second.positions[0]);
    assert_eq!(
        log.read_stream("component:default/a", 2)
            .await
            .unwrap()
            .len(),
        1
    );

    let feed = log.read_feed(0, 100).await.unwrap();
    let streams: Vec<(&str, i64)> = feed
        .iter()
        .map(|e| (e.stream.as_str(), e.version))
        .collect();
    assert_eq!(
        streams,
        vec![
            ("component:default/a", 1),
            ("component:default/b", 1),
            ("component:default/b", 2),
            ("component:default/a", 2)
        ]
    );
    let after_first = log.read_feed(first.positions[0], 2).await.unwrap();
    assert_eq!(after_first.len(), 2);
    assert_eq!(after_first[0].position, first.positions[1]);
    assert_eq!(log.head_position().await.unwrap(), second.positions[0]);
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing() {
    let db = test_db().await;
    let log = db.log();
    log.append(&[append("s", 0, &[n(1), n(2)])], &meta("a"))
        .await
        .unwrap();

    for stale in [0, 1, 3] {
        let err = log
            .append(
                &[append("other", 0, &[n(9)]), append("s", stale, &[n(3)])],
                &meta("a"),
            )
            .await
            .unwrap_err();
        match err {
            AppendError::Conflict {
                stream,
                expected,
                actual,
            } => {
                assert_eq!(stream, "s");
                assert_eq!(expected, stale);
                assert_eq!(actual, 2);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    // Nothing of the failed batches landed, not even the other stream's event.
    assert_eq!(log.read_feed(0, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_idempotent_retry_writes_nothing_and_returns_the_first_positions() {
    let db = test_db().await;
    let log = db.log();
    let keyed = AppendMeta {
        idempotency_key: Some("push-42".into()),
        ..meta("bot")
    };
    let first = log
        .append(&[append("s", 0, &[n(1), n(2)])], &keyed)
        .await
        .unwrap();
    // The retry even carries a stale version: it is recognised before any check.
    let retry = log
        .append(&[append("s", 0, &[n(1), n(2)])], &keyed)
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.positions, first.positions);
    assert_eq!(log.read_feed(0, 100).await.unwrap().len(), 2);
}

fn registration(stream: &str, expected_version: i64) -> StreamAppend {
    StreamAppend {
        stream: stream.into(),
        expected_version,
        events: vec![event(
            "EntityRegistered",
            json!({"descriptor": {"kind": "Component"}}),
        )],
        source: None,
    }
}

#[tokio::test]
async fn the_log_refuses_a_second_registration_of_a_live_entity() {
    let db = test_db().await;
    let log = db.log();
    let stream = "component:default/twice";
    log.append(&[registration(stream, 0)], &meta("alice"))
        .await
        .unwrap();

    // The append API checks only the expected version; the database refuses.
    let err = log
        .append(&[registration(stream, 1)], &meta("bob"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppendError::AlreadyRegistered { stream: s } if s == stream),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "stream component:default/twice already holds a live entity: it cannot be registered again"
    );

    // Two registrations in one batch of a new stream: refused, nothing written.
    let mut double = registration("component:default/batch", 0);
    double.events.push(double.events[0].clone());
    let err = log.append(&[double], &meta("bob")).await.unwrap_err();
    assert!(
        matches!(err, AppendError::AlreadyRegistered { .. }),
        "{err:?}"
    );
    assert!(log
        .read_stream("component:default/batch", 1)
        .await
        .unwrap()
        .is_empty());

    // A plain INSERT as the server's role, bypassing the store: refused too.
    let raw = sqlx::query(
        "INSERT INTO events (stream, version, event_type, schema_version, payload, actor, \
                             recorded_at, hash) \
         VALUES ($1, 2, 'EntityRegistered', 1, '{}', 'mallory', now(), $2)",
    )
    .bind(stream)
    .bind(vec![0u8; 32])
    .execute(&db.pool)
    .await
    .unwrap_err();
    let code = raw.as_database_error().and_then(|e| e.code());
    assert_eq!(code.as_deref(), Some("AL001"), "{raw}");

    // After a removal the stream may register again.
    log.append(
        &[StreamAppend {
            stream: stream.into(),
            expected_version: 1,
            events: vec![
                event("EntityRemoved", json!({"reason": "DeletedByUser"})),
                event(
                    "EntityRegistered",
                    json!({"descriptor": {"kind": "Component"}}),
                ),
            ],
            source: None,
        }],
        &meta("carol"),
    )
    .await
    .unwrap();
    let types: Vec<String> = log
        .read_stream(stream, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        ["EntityRegistered", "EntityRemoved", "EntityRegistered"]
    );
}
