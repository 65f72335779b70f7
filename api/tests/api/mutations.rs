//! Push ingestion and the other mutations: typed results, tokens and scopes,
//! the token's subject as actor, and read-your-writes.

use super::support::{demo_server, first_code, ADMIN, READER, WRITER};
use serde_json::json;

const APPLY: &str = r#"
mutation Apply($documents: String!, $source: String) {
  applyEntities(documents: $documents, source: $source) {
    __typename
    ... on ApplySuccess { source registered updated unchanged entities { ref } }
    ... on InvalidDescriptors { message errors { document entityRef field message } }
    ... on ApplyConflict { message conflicts { entityRef existingSource newSource } }
  }
}"#;

const NEW_SERVICE: &str = "
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: parcel-tracker
  description: Tracks parcels end to end.
spec:
  type: service
  lifecycle: experimental
  owner: team-routing
  system: routing
  dependsOn: [resource:events-bus]
";

#[tokio::test]
async fn applied_entities_are_visible_to_the_very_next_query() {
    let server = demo_server().await;
    let data = server
        .mutate(APPLY, json!({ "documents": NEW_SERVICE }))
        .await;
    let result = &data["applyEntities"];
    assert_eq!(result["__typename"], "ApplySuccess", "{result:#}");
    assert_eq!(result["source"], "api:ci-bot");
    assert_eq!(result["registered"], 1);
    assert_eq!(
        result["entities"],
        json!([{ "ref": "component:default/parcel-tracker" }])
    );

    let read = server
        .data(
            r#"{ entity(ref: "component:parcel-tracker") {
                   source ... on Component { lifecycle owner { ref } system { ref } dependsOn { ref } } }
                 routing: entity(ref: "group:team-routing") { ... on Group { ownedEntities { ref } } } }"#,
            json!({}),
        )
        .await;
    let entity = &read["entity"];
    assert_eq!(entity["source"], "api:ci-bot");
    assert_eq!(entity["lifecycle"], "experimental");
    assert_eq!(entity["owner"]["ref"], "group:default/team-routing");
    assert_eq!(entity["system"]["ref"], "system:default/routing");
    assert_eq!(
        entity["dependsOn"],
        json!([{ "ref": "resource:default/events-bus" }])
    );
    let owned = read["routing"]["ownedEntities"].as_array().unwrap();
    assert!(owned.contains(&json!({ "ref": "component:default/parcel-tracker" })));

    // The token's subject is the actor of the events.
    let actors: Vec<(String,)> = sqlx::query_as("SELECT actor FROM events WHERE stream = $1")
        .bind("component:default/parcel-tracker")
        .fetch_all(&server.db.pool)
        .await
        .unwrap();
    assert_eq!(actors, [("ci-bot".to_string(),)]);

    // The same push again changes nothing; an edit updates in place.
    let again = server
        .mutate(APPLY, json!({ "documents": NEW_SERVICE }))
        .await;
    assert_eq!(again["applyEntities"]["unchanged"], 1);
    let edited = NEW_SERVICE.replace("experimental", "production");
    let edit = server.mutate(APPLY, json!({ "documents": edited })).await;
    assert_eq!(edit["applyEntities"]["updated"], 1);
    let read = server
        .data(r#"{ entity(ref: "component:parcel-tracker") { version ... on Component { lifecycle } } }"#, json!({}))
        .await;
    assert_eq!(read["entity"]["lifecycle"], "production");
    assert_eq!(read["entity"]["version"], 2);

    // Deleting it: typed success, then it is gone; deleting again is NotFound.
    let delete = r#"mutation($r: String!) { deleteEntity(ref: $r) { __typename ... on DeleteSuccess { ref } ... on NotFound { message } } }"#;
    let gone = server
        .mutate(delete, json!({ "r": "Component:parcel-tracker" }))
        .await;
    assert_eq!(
        gone["deleteEntity"],
        json!({ "__typename": "DeleteSuccess", "ref": "component:default/parcel-tracker" })
    );
    let read = server
        .data(
            r#"{ entity(ref: "component:parcel-tracker") { ref } }"#,
            json!({}),
        )
        .await;
    assert!(read["entity"].is_null());
    let again = server
        .mutate(delete, json!({ "r": "component:parcel-tracker" }))
        .await;
    assert_eq!(again["deleteEntity"]["__typename"], "NotFound");
}

#[tokio::test]
async fn expected_failures_are_typed_results() {
    let server = demo_server().await;
    let invalid = "
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ok-one
spec: { type: service, lifecycle: production, owner: team-sre }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: no-owner
spec: { type: service, lifecycle: production }
";
    let data = server.mutate(APPLY, json!({ "documents": invalid })).await;
    let result = &data["applyEntities"];
    assert_eq!(result["__typename"], "InvalidDescriptors");
    let error = &result["errors"][0];
    assert_eq!(error["document"], 1);
    assert_eq!(error["entityRef"], "component:default/no-owner");
    assert_eq!(error["field"], "spec.owner");
    // All or nothing: the valid document was not applied either.
    let read = server
        .data(r#"{ entity(ref: "component:ok-one") { ref } }"#, json!({}))
        .await;
    assert!(read["entity"].is_null());

    // An entity the demo's file manages cannot be taken over by a push.
    let takeover = "
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout-service
spec: { type: service, lifecycle: production, owner: team-sre }
";
    let data = server.mutate(APPLY, json!({ "documents": takeover })).await;
    let result = &data["applyEntities"];
    assert_eq!(result["__typename"], "ApplyConflict");
    assert_eq!(
        result["conflicts"][0]["entityRef"],
        "component:default/checkout-service"
    );
    assert_eq!(result["conflicts"][0]["newSource"], "api:ci-bot");
    let read = server
        .data(r#"{ entity(ref: "component:checkout-service") { ... on Component { owner { ref } } } }"#, json!({}))
        .await;
    assert_eq!(
        read["entity"]["owner"]["ref"],
        "group:default/team-storefront"
    );

    let data = server
        .mutate_as(ADMIN, r#"mutation { removeLocation(id: "nope") { __typename } refreshLocation(id: "nope") { __typename } }"#, json!({}))
        .await;
    assert_eq!(data["removeLocation"]["__typename"], "NotFound");
    assert_eq!(data["refreshLocation"]["__typename"], "NotFound");
    let data = server
        .mutate_as(ADMIN, r#"mutation { addLocation(type: "ftp", target: "x") { __typename ... on InvalidInput { message } } }"#, json!({}))
        .await;
    assert_eq!(data["addLocation"]["__typename"], "InvalidInput");
    // File locations are off unless the server allows them.
    let data = server
        .mutate_as(ADMIN, r#"mutation { addLocation(type: "file", target: "/etc/passwd") { __typename ... on InvalidInput { message } } }"#, json!({}))
        .await;
    assert_eq!(data["addLocation"]["__typename"], "InvalidInput");
    assert!(data["addLocation"]["message"]
        .as_str()
        .unwrap()
        .contains("file locations cannot be added"));
}

#[tokio::test]
async fn mutations_need_a_token_with_the_write_scope() {
    let server = demo_server().await;
    let vars = json!({ "documents": NEW_SERVICE });
    let anonymous = server.call(APPLY, vars.clone(), None).await;
    assert_eq!(first_code(&anonymous), "UNAUTHENTICATED");
    assert!(anonymous["data"].is_null());
    let reader = server.call(APPLY, vars.clone(), Some(READER)).await;
    assert_eq!(first_code(&reader), "FORBIDDEN");
    // Neither wrote anything; the reader may still read.
    let read = server
        .call(
            r#"{ entity(ref: "component:parcel-tracker") { ref } }"#,
            json!({}),
            Some(READER),
        )
        .await;
    assert!(read["data"]["entity"].is_null(), "{read:#}");
    let (events,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE actor IN ('dashboard', 'anonymous')")
            .fetch_one(&server.db.pool)
            .await
            .unwrap();
    assert_eq!(events, 0);
    let writer = server.call(APPLY, vars, Some(WRITER)).await;
    assert_eq!(
        writer["data"]["applyEntities"]["__typename"],
        "ApplySuccess"
    );
}
