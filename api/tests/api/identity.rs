//! Global ids that clients can normalise on: a snapshot of the past has an id of its
//! own, every field named `id` is a global id `node(id:)` resolves, and removals name
//! the removed node's id.

use super::support::{auth, server};
use almanac_api::GraphqlLimits;
use serde_json::json;

fn component(description: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: travelled\n  \
         description: {description}\nspec:\n  type: service\n  lifecycle: production\n  \
         owner: team-a\n"
    )
}

#[tokio::test]
async fn a_snapshot_has_its_own_id_which_node_resolves() {
    let server = server(auth(true), GraphqlLimits::default(), false).await;
    server.push_to("ci-bot", &component("first")).await;
    server.push_to("ci-bot", &component("second")).await;
    let data = server
        .data(
            r#"{ live: entity(ref: "component:travelled") { id version description }
                 then: entity(ref: "component:travelled", version: 1) { id version description }
                 same: entity(ref: "component:travelled", version: 1) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["live"]["version"], 2);
    assert_eq!(data["then"]["version"], 1);
    assert_eq!(data["then"]["description"], "first");
    let (live, then) = (&data["live"]["id"], &data["then"]["id"]);
    assert_ne!(live, then, "a snapshot must not share the live entity's id");
    assert_eq!(data["same"]["id"], *then, "a snapshot's id is stable");

    let nodes = server
        .data(
            r#"query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Component { version description } } }"#,
            json!({ "ids": [live, then] }),
        )
        .await;
    assert_eq!(
        nodes["nodes"],
        json!([
            { "id": live, "version": 2, "description": "second" },
            { "id": then, "version": 1, "description": "first" },
        ])
    );
}

const GRAPHS: &str = r#"{ entity(ref: "component:route-planner") {
  deep: dependencyGraph(depth: 3) { nodes { id ref depth } }
  near: dependencyGraph(depth: 1) { nodes { id ref depth } }
} }"#;

#[tokio::test]
async fn dependency_nodes_have_global_ids_per_graph() {
    let server = super::support::demo_server().await;
    let data = server.data(GRAPHS, json!({})).await;
    let deep = data["entity"]["deep"]["nodes"].as_array().unwrap().clone();
    let near = data["entity"]["near"]["nodes"].as_array().unwrap().clone();
    assert!(deep.len() > near.len() && near.len() > 1, "{data:#}");
    assert_eq!(deep[0]["ref"], "component:default/route-planner");
    assert_eq!(deep[0]["depth"], 0);
    // The same entity in two graphs: two nodes, two ids (a normalising cache must not
    // merge them).
    let near_one = &near[1];
    let deep_one = deep.iter().find(|n| n["ref"] == near_one["ref"]).unwrap();
    assert_ne!(deep_one["id"], near_one["id"]);
    let ids: std::collections::HashSet<&str> = deep
        .iter()
        .chain(near.iter())
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), deep.len() + near.len(), "ids are unique");

    let resolved = server
        .data(
            r#"query($ids: [ID!]!) { nodes(ids: $ids) { id ... on DependencyNode { ref depth entity { name } } } }"#,
            json!({ "ids": [&deep[0]["id"], &near_one["id"]] }),
        )
        .await;
    assert_eq!(
        resolved["nodes"][0]["ref"],
        "component:default/route-planner"
    );
    assert_eq!(resolved["nodes"][0]["depth"], 0);
    assert_eq!(resolved["nodes"][0]["entity"]["name"], "route-planner");
    assert_eq!(resolved["nodes"][1]["id"], near_one["id"]);
    assert_eq!(resolved["nodes"][1]["ref"], near_one["ref"]);
    assert_eq!(resolved["nodes"][1]["depth"], 1);
}

#[tokio::test]
async fn locations_deletions_and_removal_events_carry_global_ids() {
    let server = server(
        auth(true),
        GraphqlLimits {
            allow_file_locations: true,
            ..GraphqlLimits::default()
        },
        false,
    )
    .await;
    let dir = std::env::temp_dir().join(format!("almanac-api-ids-{}", server.db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog-info.yaml");
    std::fs::write(
        &file,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: located\n\
         spec: { type: service, lifecycle: production, owner: team-a }\n",
    )
    .unwrap();
    let added = server
        .mutate_as(
            super::support::ADMIN,
            r#"mutation($t: String!) { addLocation(type: "file", target: $t) {
                 ... on LocationSuccess { location { id locationId target } } } }"#,
            json!({ "t": file.display().to_string() }),
        )
        .await;
    let location = &added["addLocation"]["location"];
    let (id, location_id) = (&location["id"], &location["locationId"]);
    assert_ne!(id, location_id);
    let node = server
        .data(
            r#"query($id: ID!) { node(id: $id) { id ... on CatalogLocation { locationId target } } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        node["node"],
        json!({ "id": id, "locationId": location_id, "target": file.display().to_string() })
    );

    // Deleting an entity answers with the id the client cached it under, and the
    // removal event carries it with the ref.
    server.push_to("ci-bot", &component("doomed")).await;
    let live = server
        .data(
            r#"{ entity(ref: "component:travelled") { id } }"#,
            json!({}),
        )
        .await;
    let deleted = server
        .mutate(
            r#"mutation { deleteEntity(ref: "component:travelled") { ... on DeleteSuccess { id ref } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        deleted["deleteEntity"],
        json!({ "id": live["entity"]["id"], "ref": "component:default/travelled" })
    );
    let removal = server
        .data(
            r#"{ events(filter: { types: ["EntityRemoved"] }, first: 5) { nodes { type ref entityId } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        removal["events"]["nodes"],
        json!([{ "type": "EntityRemoved", "ref": "component:default/travelled", "entityId": live["entity"]["id"] }])
    );

    // The location removed answers with its global id and its location id.
    let removed = server
        .mutate_as(
            super::support::ADMIN,
            r#"mutation($id: String!) { removeLocation(id: $id) { ... on RemoveLocationSuccess { id locationId removedEntities } } }"#,
            json!({ "id": location_id }),
        )
        .await;
    assert_eq!(
        removed["removeLocation"],
        json!({ "id": id, "locationId": location_id, "removedEntities": 1 })
    );
    let _ = std::fs::remove_dir_all(&dir);
}
