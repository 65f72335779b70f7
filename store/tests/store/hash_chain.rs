use super::support::{append, meta, n};
use almanac_store::testing::test_db;
use serde_json::json;
use sqlx::{ConnectOptions, Connection};

#[tokio::test]
async fn verify_is_clean_then_names_the_tampered_stream_and_version() {
    let db = test_db().await;
    let log = db.log();
    // Payloads that stress canonical bytes: floats, unicode, nesting, big ints.
    let odd = json!({"f": 0.1, "big": 9007199254740993u64, "u": "Zürich ☃ \"q\"", "nested": {"b": [1, 2.5e-8], "a": null}});
    log.append(
        &[
            append("a", 0, &[n(1), odd.clone(), n(3)]),
            append("b", 0, &[n(1)]),
        ],
        &meta("a"),
    )
    .await
    .unwrap();
    log.append(&[append("a", 3, &[n(4)])], &meta("b"))
        .await
        .unwrap();

    let clean = log.verify(None).await.unwrap();
    assert!(clean.is_intact(), "{clean:?}");
    assert_eq!((clean.streams, clean.events), (2, 5));

    let mut su = db.superuser.connect().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET payload = '{\"n\": 99}' WHERE stream = 'a' AND version = 2")
        .execute(&mut su)
        .await
        .unwrap();
    su.close().await.unwrap();

    let report = log.verify(None).await.unwrap();
    assert_eq!(report.breaks.len(), 1, "{report:?}");
    assert_eq!(report.breaks[0].stream, "a");
    assert_eq!(report.breaks[0].version, 2);
    assert!(report.breaks[0].reason.contains("hash"));
    // One stream alone.
    assert!(log.verify(Some("b")).await.unwrap().is_intact());
    assert_eq!(log.verify(Some("a")).await.unwrap().breaks[0].version, 2);
}

#[tokio::test]
async fn verify_reports_a_removed_event_as_a_missing_link() {
    let db = test_db().await;
    let log = db.log();
    log.append(&[append("a", 0, &[n(1), n(2), n(3)])], &meta("a"))
        .await
        .unwrap();
    let mut su = db.superuser.connect().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query("DELETE FROM events WHERE stream = 'a' AND version = 2")
        .execute(&mut su)
        .await
        .unwrap();
    let report = log.verify(None).await.unwrap();
    assert_eq!(report.breaks.len(), 1);
    assert_eq!(report.breaks[0].version, 3);
    assert!(
        report.breaks[0].reason.contains("missing"),
        "{}",
        report.breaks[0].reason
    );
}
