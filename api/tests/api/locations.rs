//! Locations and operational views: add, refresh and remove a location through
//! the API; processing errors and conflicts as queries.

use super::support::{auth, demo_server, server, ADMIN};
use almanac_api::GraphqlLimits;
use serde_json::json;

const ONE_COMPONENT: &str = "
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: sorting-robot
spec: { type: service, lifecycle: experimental, owner: team-warehouse }
";

#[tokio::test]
async fn locations_are_added_refreshed_and_removed() {
    let server = server(
        auth(true),
        GraphqlLimits {
            allow_file_locations: true,
            ..GraphqlLimits::default()
        },
        false,
    )
    .await;
    let dir = std::env::temp_dir().join(format!("almanac-api-location-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog-info.yaml");
    std::fs::write(&file, ONE_COMPONENT).unwrap();
    let target = file.display().to_string();

    let added = server
        .mutate_as(
            ADMIN,
            r#"mutation($t: String!) { addLocation(type: "file", target: $t) {
                 __typename ... on LocationSuccess { location { id type target addedBy } summary { registered errors { message } } } } }"#,
            json!({ "t": target }),
        )
        .await;
    let success = &added["addLocation"];
    assert_eq!(success["__typename"], "LocationSuccess", "{added:#}");
    assert_eq!(success["summary"]["registered"], 1);
    assert_eq!(success["location"]["target"], target);
    assert_eq!(success["location"]["addedBy"], "platform-team");
    let id = success["location"]["id"].as_str().unwrap().to_string();

    let listed = server.data("{ locations { id type } }", json!({})).await;
    assert_eq!(listed["locations"], json!([{ "id": id, "type": "file" }]));
    let read = server
        .data(
            r#"{ entity(ref: "component:sorting-robot") { source } }"#,
            json!({}),
        )
        .await;
    assert_eq!(read["entity"]["source"], format!("file:{target}"));

    let refreshed = server
        .mutate(
            r#"mutation($id: String!) { refreshLocation(id: $id) { ... on LocationSuccess { summary { unchanged } } } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(refreshed["refreshLocation"]["summary"]["unchanged"], 1);

    let removed = server
        .mutate_as(
            ADMIN,
            r#"mutation($id: String!) { removeLocation(id: $id) { __typename ... on RemoveLocationSuccess { removedEntities } } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(removed["removeLocation"]["removedEntities"], 1);
    let read = server
        .data(
            r#"{ locations { id } entity(ref: "component:sorting-robot") { ref } }"#,
            json!({}),
        )
        .await;
    assert_eq!(read["locations"], json!([]));
    assert!(read["entity"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn processing_errors_conflicts_and_nodes_are_queries() {
    let server = demo_server().await;
    let data = server
        .data(
            "{ processingErrors { source entityRef message } conflicts { entityRef } }",
            json!({}),
        )
        .await;
    let errors = data["processingErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        errors[0]["entityRef"],
        "component:default/legacy-invoice-exporter"
    );
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("spec.owner"));
    assert!(errors[0]["source"]
        .as_str()
        .unwrap()
        .ends_with("invoice-renderer/catalog-info.yaml"));
    assert_eq!(data["conflicts"], json!([]));

    let ids = server
        .data(
            r#"{ a: entity(ref: "api:cart-api") { id } b: entity(ref: "group:team-sre") { id } }"#,
            json!({}),
        )
        .await;
    let nodes = server
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on Entity { ref } } }",
            json!({ "ids": [ids["a"]["id"], ids["b"]["id"], "QXBpOmFwaTpkZWZhdWx0L25vbmU"] }),
        )
        .await;
    assert_eq!(
        nodes["nodes"],
        json!([
            { "__typename": "Api", "ref": "api:default/cart-api" },
            { "__typename": "Group", "ref": "group:default/team-sre" },
            null
        ])
    );
}
