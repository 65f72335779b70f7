//! The demo catalog ingested whole: counts, the deliberate error, and the
//! relation edges of named entities (each relation and its inverse).

use super::support::{catalog, demo_dir, edges, ingest, pairs};
use almanac_ingest::Source;
use almanac_store::projection::{replay, ReplayMode};
use almanac_store::testing::test_db;

#[tokio::test]
async fn the_demo_lands_with_its_relations_and_its_one_error() {
    let db = test_db().await;
    let report = ingest(&db.pool, Source::File(demo_dir().join("catalog-info.yaml"))).await;
    assert_eq!(report.registered, 175);
    assert_eq!(
        (report.updated, report.removed, report.unchanged),
        (0, 0, 0)
    );
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let error = &report.errors[0];
    assert_eq!(
        error.entity_ref.as_deref(),
        Some("component:default/legacy-invoice-exporter")
    );
    assert!(error
        .source
        .ends_with("systems/orders/invoice-renderer/catalog-info.yaml"));
    assert!(error.message.contains("spec.owner"), "{}", error.message);

    // One ingest run, one correlation id on every event it wrote.
    let (runs, missing): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT correlation_id), count(*) FILTER (WHERE correlation_id IS NULL) FROM events",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((runs, missing), (1, 0));

    let kinds: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, count(*) FROM entities GROUP BY kind ORDER BY kind")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let kinds: Vec<(&str, i64)> = kinds.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        kinds,
        vec![
            ("API", 23),
            ("Component", 61),
            ("Domain", 4),
            ("Group", 18),
            ("Location", 2),
            ("Resource", 16),
            ("System", 10),
            ("Template", 1),
            ("User", 40)
        ]
    );
    // The error is queryable with its source and ref.
    let (stored,): (String,) = sqlx::query_as(
        "SELECT message FROM processing_errors WHERE entity_ref = 'component:default/legacy-invoice-exporter'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(stored.contains("spec.owner"));

    assert_eq!(
        edges(&db.pool, "component:default/checkout-service").await,
        pairs(&[
            ("consumesApi", "api:default/cart-api"),
            ("consumesApi", "api:default/payments-api"),
            ("consumesApi", "api:default/shipping-quote-api"),
            ("dependencyOf", "component:default/storefront-bff"),
            ("dependsOn", "component:default/cart-service"),
            ("dependsOn", "component:default/payments-gateway"),
            ("dependsOn", "resource:default/events-bus"),
            ("ownedBy", "group:default/team-storefront"),
            ("partOf", "system:default/storefront"),
        ])
    );
    // What payments-gateway declares itself, and one inverse that others gave it.
    let gateway = edges(&db.pool, "component:default/payments-gateway").await;
    for expected in pairs(&[
        ("consumesApi", "api:default/fx-rates-api"),
        ("consumesApi", "api:default/ledger-grpc"),
        ("dependencyOf", "component:default/checkout-service"),
        ("dependsOn", "component:default/card-tokenizer"),
        ("dependsOn", "component:default/payments-ledger"),
        ("dependsOn", "resource:default/payments-queue"),
        ("ownedBy", "group:default/team-payments"),
        ("partOf", "system:default/payments"),
        ("providesApi", "api:default/payments-api"),
    ]) {
        assert!(
            gateway.contains(&expected),
            "{expected:?} missing from {gateway:?}"
        );
    }
    // Declared from both sides (the user's memberOf and the group's members): one edge each way.
    let ines = edges(&db.pool, "user:default/ines.carvalho").await;
    assert_eq!(
        ines,
        pairs(&[
            ("memberOf", "group:default/commerce"),
            ("memberOf", "group:default/team-payments")
        ])
    );
    let declarations = catalog(&db.pool)
        .await
        .relation_rows("user:default/ines.carvalho")
        .filter(|row| {
            row.relation.as_str() == "memberOf"
                && &**row.target_ref == "group:default/team-payments"
        })
        .count();
    assert_eq!(declarations, 2, "both declarations are kept as provenance");
    // Inverses land on the target, including the other namespace.
    let partners_api = edges(&db.pool, "api:partners/carrier-rates-api").await;
    assert!(partners_api.contains(&(
        "apiConsumedBy".into(),
        "component:default/shipping-quote-service".into()
    )));
    assert!(partners_api.contains(&(
        "apiProvidedBy".into(),
        "component:partners/carrier-gateway".into()
    )));
    // The one dangling reference is kept, with no entity behind it.
    let snapshot = catalog(&db.pool).await;
    let mut dangling: Vec<(&str, &str, &str)> = snapshot
        .entities()
        .filter(|entity| entity.entity_ref.starts_with("component:"))
        .flat_map(|entity| snapshot.relation_rows(&entity.entity_ref))
        .filter(|row| snapshot.entity(row.target_ref).is_none())
        .map(|row| (&**row.source_ref, row.relation.as_str(), &**row.target_ref))
        .collect();
    dangling.dedup();
    let dangling = dangling.len();
    assert_eq!(dangling, 1);
    assert!(edges(&db.pool, "component:default/label-printer-service")
        .await
        .contains(&(
            "consumesApi".into(),
            "api:default/shipping-labels-v1-api".into()
        )));

    let verify = replay(&db.pool, ReplayMode::Verify, |_, _| {})
        .await
        .unwrap();
    assert!(verify.differences.is_empty(), "{:?}", verify.differences);
    assert_eq!(verify.entities, 175);
}
