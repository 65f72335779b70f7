//! The one definition of the entity row (`almanac_store::entity_row`) against the real
//! table: its columns are the table's, and what the projector writes reads back through
//! the catalog exactly as the row derived from the log says.

use almanac_domain::{CatalogEvent, RelationType};
use almanac_store::catalog::{Catalog, EntityRecord};
use almanac_store::entity_row::{EntityRow, LoggedEntity};
use almanac_store::projection::rows::entity_uid;
use almanac_store::projection::Projector;
use almanac_store::testing::test_db;
use almanac_store::{AppendMeta, NewEvent, StreamAppend};
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn the_declared_columns_are_the_tables_and_a_projected_row_reads_back_as_derived() {
    let db = test_db().await;
    let table: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, is_generated::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'entities'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let written: BTreeSet<&str> = table
        .iter()
        .filter(|(_, generated)| generated == "NEVER")
        .map(|(name, _)| name.as_str())
        .collect();
    let declared: BTreeSet<&str> = EntityRow::COLUMNS.iter().copied().collect();
    assert_eq!(
        written, declared,
        "entities' columns and EntityRow::COLUMNS"
    );

    // The JSON columns are `json` (migration 0016: stored as written, nothing queries
    // inside them), with defaults of that type.
    let json_columns: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = 'entities' AND data_type IN ('json', 'jsonb') ORDER BY column_name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let json = |name: &str, default: Option<&str>| {
        (
            name.to_string(),
            "json".to_string(),
            default.map(String::from),
        )
    };
    assert_eq!(
        json_columns,
        [
            json("annotations", Some("'{}'::json")),
            json("descriptor", None),
            json("labels", Some("'{}'::json")),
        ]
    );

    // Every derived column holds a value, so a column written or read in the wrong
    // place shows.
    let stream = "component:default/cart";
    let descriptor = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": "cart",
            "namespace": "default",
            "title": "Cart",
            "description": "Holds what is bought",
            "tags": ["rust", "shop"],
            "labels": {"tier": "1"},
            "annotations": {
                "backstage.io/managed-by-location": "file:/catalog/cart.yaml",
                "backstage.io/managed-by-origin-location": "file:/catalog/all.yaml"
            }
        },
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", "dependsOn": ["resource:db"]}
    });
    let log = db.log();
    let event = CatalogEvent::EntityRegistered {
        descriptor: descriptor.clone(),
    };
    log.append(
        &[StreamAppend {
            stream: stream.into(),
            expected_version: 0,
            events: vec![NewEvent {
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                payload: event.to_payload(),
            }],
            source: None,
        }],
        &AppendMeta {
            actor: "test".into(),
            ..AppendMeta::default()
        },
    )
    .await
    .unwrap();
    Projector::new(db.pool.clone()).catch_up().await.unwrap();
    let stored = log.read_stream(stream, 1).await.unwrap();
    let registered = &stored[0];

    let expected = EntityRow::derive(LoggedEntity {
        entity_ref: stream.into(),
        uid: entity_uid(stream, registered.position),
        descriptor,
        version: 1,
        last_position: registered.position,
        created_at: registered.recorded_at,
        updated_at: registered.recorded_at,
    });
    assert_eq!(expected.owner_ref.as_deref(), Some("group:default/team-a"));
    assert_eq!(expected.origin.as_deref(), Some("file:/catalog/all.yaml"));
    let (last_position,): (i64,) =
        sqlx::query_as("SELECT last_position FROM entities WHERE ref = $1")
            .bind(stream)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(last_position, expected.last_position);
    // Each value in its own column, by the table's names (not through the declaration).
    let (columns,): (serde_json::Value,) = sqlx::query_as(
        "SELECT to_jsonb(e) - 'uid' - 'descriptor' - 'last_position' \
                - 'created_at' - 'updated_at' FROM entities e WHERE ref = $1",
    )
    .bind(stream)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        columns,
        json!({
            "ref": stream,
            "kind": "Component",
            "namespace": "default",
            "name": "cart",
            "title": "Cart",
            "description": "Holds what is bought",
            "spec_type": "service",
            "lifecycle": "production",
            "owner_ref": "group:default/team-a",
            "tags": ["rust", "shop"],
            "labels": {"tier": "1"},
            "annotations": {
                "backstage.io/managed-by-location": "file:/catalog/cart.yaml",
                "backstage.io/managed-by-origin-location": "file:/catalog/all.yaml"
            },
            "source": "file:/catalog/cart.yaml",
            "origin": "file:/catalog/all.yaml",
            "version": 1,
        })
    );
    let read = Catalog::new(db.pool.clone())
        .entities_by_ref(&[stream.to_string()])
        .await
        .unwrap();
    assert_eq!(read, vec![EntityRecord::from(expected)]);

    // The relation rows read back typed.
    let relations = super::support::relation_edges(&db.pool, stream).await;
    let types: Vec<(RelationType, &str)> = relations
        .iter()
        .map(|r| (r.relation, r.target_ref.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            (RelationType::DependsOn, "resource:default/db"),
            (RelationType::OwnedBy, "group:default/team-a"),
        ]
    );
}
