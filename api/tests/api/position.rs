//! Every operation reads one snapshot of the in-memory catalog and says which log
//! position it reflects (`extensions.position`); a push is in the next query's snapshot.

use super::support::{auth, server};
use almanac_api::GraphqlLimits;
use serde_json::json;

const READ: &str = r#"{ entity(ref: "component:default/follow-me") { ref } }"#;

async fn head(pool: &sqlx::PgPool) -> i64 {
    let (head,): (Option<i64>,) = sqlx::query_as("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await
        .unwrap();
    head.unwrap_or(0)
}

#[tokio::test]
async fn a_query_after_a_push_reflects_a_position_at_or_past_the_push() {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["alpha".into()];
    let server = server(config, GraphqlLimits::default(), true).await;

    let demo_head = head(&server.db.pool).await;
    let before = server.call(READ, json!({}), None).await;
    assert_eq!(before["data"]["entity"], json!(null));
    assert_eq!(before["extensions"]["position"], json!(demo_head));

    let documents =
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: follow-me\n\
                     spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
    let pushed = server.push_to_alpha(documents).await;
    // The mutation read the snapshot pinned at its start, before its own append.
    assert_eq!(pushed["extensions"]["position"], json!(demo_head));
    let push_position = head(&server.db.pool).await;
    assert!(push_position > demo_head);

    let after = server.call(READ, json!({}), None).await;
    assert_eq!(
        after["data"]["entity"]["ref"],
        json!("component:default/follow-me")
    );
    let position = after["extensions"]["position"].as_i64().unwrap();
    assert!(
        position >= push_position,
        "query at {position}, push at {push_position}"
    );
}

const SUMMARY: &str = r#"query ($ref: String!) { entity(ref: $ref) {
    id ref kind namespace name title description tags labels annotations
    annotation(key: "backstage.io/techdocs-ref") links { url title } spec uid version
    createdAt updatedAt source
    ... on Component { lifecycle ownerRef } } }"#;

#[tokio::test]
async fn an_entity_by_ref_is_answered_from_the_pinned_snapshot_as_sql_would() {
    let server = super::support::demo_server().await;
    let refs = [
        "component:default/cart-service",
        "component:default/checkout-service",
        "api:default/cart-api",
        "group:default/engineering",
        "component:default/nowhere",
    ];
    let mut from_memory = Vec::new();
    for entity_ref in refs {
        let before = server.state.statements.get();
        let body = server
            .call(SUMMARY, json!({ "ref": entity_ref }), None)
            .await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(
            server.state.statements.get() - before,
            0,
            "no SQL for {entity_ref}"
        );
        from_memory.push(body["data"].clone());
    }
    assert_eq!(
        from_memory[0]["entity"]["ref"],
        json!("component:default/cart-service")
    );
    assert_eq!(from_memory[3]["entity"]["kind"], json!("Group"));
    assert_eq!(from_memory[4]["entity"], json!(null));

    // Field by field, what the projector wrote in SQL.
    let catalog = almanac_store::catalog::Catalog::new(server.db.pool.clone());
    for (entity_ref, memory) in refs.iter().zip(&from_memory) {
        let rows = catalog
            .entities_by_ref(&[entity_ref.to_string()])
            .await
            .unwrap();
        let Some(row) = rows.first() else {
            assert_eq!(memory["entity"], json!(null), "{entity_ref}");
            continue;
        };
        let entity = &memory["entity"];
        let time = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(entity[field].as_str().unwrap()).unwrap()
        };
        assert_eq!(
            (
                &entity["ref"],
                &entity["kind"],
                &entity["namespace"],
                &entity["name"]
            ),
            (
                &json!(row.entity_ref),
                &json!(row.kind),
                &json!(row.namespace),
                &json!(row.name)
            )
        );
        assert_eq!(entity["title"], json!(row.title), "{entity_ref}");
        assert_eq!(
            entity["description"],
            json!(row.description),
            "{entity_ref}"
        );
        assert_eq!(entity["tags"], json!(row.tags), "{entity_ref}");
        assert_eq!(entity["labels"], row.labels, "{entity_ref}");
        assert_eq!(entity["annotations"], row.annotations, "{entity_ref}");
        assert_eq!(
            entity["annotation"], row.annotations["backstage.io/techdocs-ref"],
            "{entity_ref}"
        );
        assert_eq!(entity["spec"], row.descriptor["spec"], "{entity_ref}");
        assert_eq!(entity["uid"], json!(row.uid.to_string()), "{entity_ref}");
        assert_eq!(entity["version"], json!(row.version), "{entity_ref}");
        assert_eq!(time("createdAt"), row.created_at, "{entity_ref}");
        assert_eq!(time("updatedAt"), row.updated_at, "{entity_ref}");
        assert_eq!(entity["source"], json!(row.source), "{entity_ref}");
        if row.kind == "Component" {
            assert_eq!(entity["lifecycle"], json!(row.lifecycle), "{entity_ref}");
            assert_eq!(entity["ownerRef"], json!(row.owner_ref), "{entity_ref}");
        }
    }
}

#[tokio::test]
async fn an_entity_held_elided_in_memory_is_read_whole_from_sql_or_the_descriptor_cache() {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["alpha".into()];
    let server = server(config, GraphqlLimits::default(), false).await;
    let long = "x".repeat(almanac_readmodel::ELIDE_BYTES + 1);
    let documents = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: long-notes\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  notes: {long}\n"
    );
    server.push_to_alpha(&documents).await;
    let before = server.state.statements.get();
    let cache = server.state.descriptors.stats();
    let body = server
        .call(
            r#"{ entity(ref: "component:default/long-notes") { spec } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["entity"]["spec"]["notes"],
        json!(long),
        "{body:#}"
    );
    // The push's own answer read the row into the descriptor cache (held per ref and
    // version), so the query finds it there; otherwise it reads it from SQL.
    let hits = server.state.descriptors.stats().hits - cache.hits;
    let statements = server.state.statements.get() - before;
    assert!(hits + statements > 0, "read whole from the cache or SQL");
}
