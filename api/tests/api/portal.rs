//! What a portal's catalog screens need in one request: entities by a list of refs
//! (in order, null for unknown ones), and the table columns on the `Entity` interface.

use super::support::{auth, first_code, server};
use almanac_api::GraphqlLimits;
use serde_json::json;

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: tabled
spec:
  type: service
  lifecycle: production
  owner: group:team-a
  system: payments
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: payments
spec:
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: pay-api
spec:
  type: openapi
  lifecycle: experimental
  owner: team-a
  system: payments
  definition: openapi
";

#[tokio::test]
async fn entities_by_refs_come_in_the_order_asked_with_null_for_unknown_refs() {
    let limits = GraphqlLimits {
        max_page_size: 4,
        ..GraphqlLimits::default()
    };
    let server = server(auth(true), limits, false).await;
    server.push_to("ci-bot", CATALOG).await;
    let query = r#"query($refs: [String!]!) { entitiesByRefs(refs: $refs) { ref name } }"#;
    let data = server
        .data(
            query,
            json!({ "refs": ["System:payments", "component:nope", "group:default/team-a", "component:tabled"] }),
        )
        .await;
    assert_eq!(
        data["entitiesByRefs"],
        json!([
            { "ref": "system:default/payments", "name": "payments" },
            null,
            { "ref": "group:default/team-a", "name": "team-a" },
            { "ref": "component:default/tabled", "name": "tabled" },
        ])
    );

    let too_many = server
        .call(
            query,
            json!({ "refs": ["system:a", "system:b", "system:c", "system:d", "system:e"] }),
            None,
        )
        .await;
    assert_eq!(first_code(&too_many), "PAGE_SIZE_EXCEEDED", "{too_many:#}");
    let message = too_many["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("at most 4 refs") && message.contains("graphql.max_page_size"),
        "{message}"
    );

    let no_kind = server
        .call(query, json!({ "refs": ["tabled"] }), None)
        .await;
    assert_eq!(first_code(&no_kind), "INVALID_REF", "{no_kind:#}");
}

#[tokio::test]
async fn a_mixed_kind_table_reads_its_columns_from_the_entity_interface() {
    let server = server(auth(true), GraphqlLimits::default(), false).await;
    server.push_to("ci-bot", CATALOG).await;
    // No `... on X`: every column is a field of `Entity`, null where a kind has none.
    let data = server
        .data(
            r#"{ entitiesByRefs(refs: ["component:tabled", "api:pay-api", "system:payments", "group:team-a"]) {
                 kind type lifecycle ownerRef owner { ref } system { ref } } }"#,
            json!({}),
        )
        .await;
    let team = json!({ "ref": "group:default/team-a" });
    let payments = json!({ "ref": "system:default/payments" });
    assert_eq!(
        data["entitiesByRefs"],
        json!([
            { "kind": "Component", "type": "service", "lifecycle": "production",
              "ownerRef": "group:default/team-a", "owner": team, "system": payments },
            { "kind": "API", "type": "openapi", "lifecycle": "experimental",
              "ownerRef": "group:default/team-a", "owner": team, "system": payments },
            { "kind": "System", "type": null, "lifecycle": null,
              "ownerRef": "group:default/team-a", "owner": team, "system": null },
            { "kind": "Group", "type": "team", "lifecycle": null,
              "ownerRef": null, "owner": null, "system": null },
        ])
    );
}
