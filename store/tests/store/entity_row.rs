//! The one definition of the entity row (`almanac_store::entity_row`) against the real
//! table: its columns are the table's, and what the projector writes reads back through
//! the catalog exactly as the row derived from the log says.

use super::support::append_event;
use almanac_domain::{diff, CatalogEvent, RelationType};
use almanac_store::catalog::{Catalog, EntityRecord};
use almanac_store::entity_row::{EntityRow, LoggedEntity};
use almanac_store::projection::rows::entity_uid;
use almanac_store::projection::Projector;
use almanac_store::testing::test_db;
use serde_json::{json, Value};
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

    // The JSON column is `json` (migration 0016: stored as written, nothing queries
    // inside it); the copies of descriptor fields went in migration 0017.
    let json_columns: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = 'entities' AND data_type IN ('json', 'jsonb') ORDER BY column_name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        json_columns,
        [("descriptor".to_string(), "json".to_string(), None)]
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
    append_event(&log, stream, 0, &event).await;
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
            "spec_type": "service",
            "lifecycle": "production",
            "owner_ref": "group:default/team-a",
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

/// A component with every field the catalog's row reads from the descriptor.
fn described(name: &str, tier: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name,
            "title": format!("{name} ({tier})"),
            "description": format!("Tier {tier}, \"quoted\""),
            "tags": ["rust", tier],
            "labels": {"zz": "2", "tier": tier},
            "annotations": {"backstage.io/managed-by-location": "file:/c.yaml", "note": tier}
        },
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    })
}

/// `(title, description, tags, labels, annotations)` of a record.
fn fields(record: &EntityRecord) -> (Option<&str>, Option<&str>, &[String], &Value, &Value) {
    (
        record.title.as_deref(),
        record.description.as_deref(),
        &record.tags,
        &record.labels,
        &record.annotations,
    )
}

/// No column stores title, description, tags, labels or annotations (migration 0017): the
/// catalog's row reads them from the descriptor, with the values the projector stored
/// before, for a row written by `COPY` (a new entity), one written by the bulk upsert (an
/// update of a held entity), and one whose descriptor has none of them.
#[tokio::test]
async fn the_catalog_reads_descriptor_fields_of_copied_and_upserted_rows() {
    let db = test_db().await;
    let log = db.log();
    let bare = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "bare", "labels": "not an object", "tags": [1, "kept"]},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    });
    let bare = CatalogEvent::EntityRegistered { descriptor: bare };
    append_event(&log, "component:default/bare", 0, &bare).await;
    for name in ["copied", "upserted"] {
        let descriptor = described(name, "1");
        let stream = format!("component:default/{name}");
        append_event(
            &log,
            &stream,
            0,
            &CatalogEvent::EntityRegistered { descriptor },
        )
        .await;
    }
    let projector = Projector::new(db.pool.clone());
    projector.catch_up().await.unwrap();
    let changes = diff(&described("upserted", "1"), &described("upserted", "2"));
    let updated = CatalogEvent::EntityUpdated { changes };
    append_event(&log, "component:default/upserted", 1, &updated).await;
    projector.catch_up().await.unwrap();

    let refs = ["bare", "copied", "upserted"].map(|n| format!("component:default/{n}"));
    let mut read = Catalog::new(db.pool.clone())
        .entities_by_ref(&refs)
        .await
        .unwrap();
    read.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    let versions: Vec<i64> = read.iter().map(|r| r.version).collect();
    assert_eq!(versions, [1, 1, 2]);
    let empty = json!({});
    assert_eq!(
        fields(&read[0]),
        (None, None, &["kept".to_string()][..], &empty, &empty)
    );
    for (record, name, tier) in [(&read[1], "copied", "1"), (&read[2], "upserted", "2")] {
        let title = format!("{name} ({tier})");
        let description = format!("Tier {tier}, \"quoted\"");
        let tags = ["rust".to_string(), tier.to_string()];
        let labels = json!({"zz": "2", "tier": tier});
        let annotations = json!({"backstage.io/managed-by-location": "file:/c.yaml", "note": tier});
        assert_eq!(
            fields(record),
            (
                Some(title.as_str()),
                Some(description.as_str()),
                &tags[..],
                &labels,
                &annotations
            ),
            "{name}"
        );
        assert_eq!(record.descriptor, described(name, tier), "{name}");
    }
}
