use almanac_store::source_digests::{record, SourceDigest};
use almanac_store::testing::test_db;
use almanac_store::Tx;
use serde_json::json;

fn row(source: &str, streams: &[(&str, i64)]) -> SourceDigest {
    SourceDigest {
        source: source.into(),
        origin: "file:/catalog/catalog-info.yaml".into(),
        digest: vec![source.len() as u8; 32],
        entities: streams.len() as i32,
        streams: streams.iter().map(|(s, v)| (s.to_string(), *v)).collect(),
        targets: (source == "b").then(|| json!(["./x.yaml"])),
    }
}

/// Rows of one chunk carry different numbers of streams (none, one, several): each
/// row gets exactly its own, in order, whatever its neighbours hold.
#[tokio::test]
async fn each_recorded_source_keeps_its_own_streams_in_order() {
    let db = test_db().await;
    let log = db.log();
    let rows = [
        row(
            "a",
            &[("component:default/a1", 1), ("component:default/a2", 3)],
        ),
        row("b", &[]),
        row("c", &[("component:default/c", 2)]),
        row(
            "d",
            &[
                ("group:default/d3", 7),
                ("group:default/d1", 0),
                ("group:default/d2", 5),
            ],
        ),
    ];
    let mut tx = Tx::begin(&log).await.unwrap();
    record(&mut tx, &rows, &[]).await.unwrap();
    tx.commit().await.unwrap();

    type Stored = (String, i32, Vec<String>, Vec<i64>, Option<String>);
    let stored: Vec<Stored> = sqlx::query_as(
        "SELECT source, entities, streams, versions, targets::text FROM source_digests \
         ORDER BY source",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected: Vec<Stored> = rows
        .iter()
        .map(|r| {
            (
                r.source.clone(),
                r.entities,
                r.streams.iter().map(|(s, _)| s.clone()).collect(),
                r.streams.iter().map(|(_, v)| *v).collect(),
                r.targets.as_ref().map(|t| t.to_string()),
            )
        })
        .collect();
    assert_eq!(stored, expected);

    // Recorded again with other streams: replaced, not merged.
    let again = [row("d", &[("group:default/d9", 1)])];
    let mut tx = Tx::begin(&log).await.unwrap();
    record(&mut tx, &again, &["a".to_string()]).await.unwrap();
    tx.commit().await.unwrap();
    let left: Vec<(String, Vec<String>)> =
        sqlx::query_as("SELECT source, streams FROM source_digests ORDER BY source")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        left,
        vec![
            ("b".to_string(), vec![]),
            ("c".to_string(), vec!["component:default/c".to_string()]),
            ("d".to_string(), vec!["group:default/d9".to_string()]),
        ]
    );
}
