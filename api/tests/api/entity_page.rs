//! What an entity page needs, in one query, with the demo catalog's facts.

use super::support::{demo_server, first_code, sorted, strings};
use serde_json::json;

const PAGE: &str = r#"
query Page($ref: String!) {
  entity(ref: $ref) {
    __typename id ref kind namespace name title tags
    annotation(key: "github.com/project-slug")
    ... on Component {
      type lifecycle ownerRef
      owner { ref ... on Group { profile { email } } }
      system { ref domain { ref } }
      providesApis { ref }
      consumesApis { ref }
      dependsOn { ref }
      dependents { ref }
    }
    relations { type targetRef declaredBy field target { ref } }
    errors { message }
  }
}"#;

#[tokio::test]
async fn an_entity_page_has_owner_system_apis_and_dependencies() {
    let server = demo_server().await;
    let data = server
        .data(PAGE, json!({ "ref": "component:checkout-service" }))
        .await;
    let entity = &data["entity"];
    assert_eq!(entity["__typename"], "Component");
    assert_eq!(entity["ref"], "component:default/checkout-service");
    assert_eq!(entity["kind"], "Component");
    assert_eq!(entity["namespace"], "default");
    assert_eq!(entity["ownerRef"], "group:default/team-storefront");
    assert_eq!(entity["owner"]["ref"], "group:default/team-storefront");
    assert_eq!(entity["system"]["ref"], "system:default/storefront");
    assert_eq!(entity["providesApis"], json!([]));
    assert_eq!(
        sorted(&entity["consumesApis"], Some("ref")),
        [
            "api:default/cart-api",
            "api:default/payments-api",
            "api:default/shipping-quote-api"
        ]
    );
    assert_eq!(
        sorted(&entity["dependsOn"], Some("ref")),
        [
            "component:default/cart-service",
            "component:default/payments-gateway",
            "resource:default/events-bus"
        ]
    );
    let relations = entity["relations"].as_array().unwrap();
    let owned_by: Vec<_> = relations
        .iter()
        .filter(|r| r["type"] == "ownedBy")
        .collect();
    assert_eq!(owned_by.len(), 1);
    assert_eq!(owned_by[0]["field"], "spec.owner");
    assert_eq!(
        owned_by[0]["declaredBy"],
        "component:default/checkout-service"
    );
    assert_eq!(
        owned_by[0]["target"]["ref"],
        "group:default/team-storefront"
    );
    assert_eq!(entity["errors"], json!([]));

    // The same entity by its global id, and by a ref spelt in another case.
    let id = entity["id"].as_str().unwrap();
    let by_id = server
        .data(
            "query($id: ID!) { node(id: $id) { id ... on Component { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(by_id["node"]["name"], "checkout-service");
    let by_case = server
        .data(
            r#"{ entity(ref: "Component:Default/Checkout-Service") { ref } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        by_case["entity"]["ref"],
        "component:default/checkout-service"
    );
}

#[tokio::test]
async fn relations_include_inverses_declared_by_others_and_dangling_targets() {
    let server = demo_server().await;
    // kavya.iyer is in team-payments only through team-payments' `members`.
    let data = server
        .data(
            r#"{ entity(ref: "user:kavya.iyer") {
                   ... on User { memberOf { ref } profile { email } }
                   relations(type: "memberOf") { targetRef declaredBy field } } }"#,
            json!({}),
        )
        .await;
    let user = &data["entity"];
    assert_eq!(
        sorted(&user["memberOf"], Some("ref")),
        [
            "group:default/platform-eng",
            "group:default/team-data",
            "group:default/team-payments"
        ]
    );
    let from_group = user["relations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["targetRef"] == "group:default/team-payments")
        .unwrap();
    assert_eq!(from_group["declaredBy"], "group:default/team-payments");
    assert_eq!(from_group["field"], "spec.members");
    assert_eq!(user["profile"]["email"], "kavya.iyer@kestrelmoor.example");

    // A Group's ownerOf edges are the inverses of its entities' spec.owner.
    let group = server
        .data(r#"{ entity(ref: "group:team-payments") { relations(type: "ownerOf") { targetRef } } }"#, json!({}))
        .await;
    assert!(strings(&group["entity"]["relations"], Some("targetRef"))
        .contains(&"component:default/payments-gateway".to_string()));

    // The only dangling reference of the demo: its target is null.
    let dangling = server
        .data(
            r#"{ entity(ref: "component:label-printer-service") {
                   relations(type: "consumesApi") { targetRef target { ref } } } }"#,
            json!({}),
        )
        .await;
    let relations = dangling["entity"]["relations"].as_array().unwrap();
    let relation = relations
        .iter()
        .find(|r| r["targetRef"] == "api:default/shipping-labels-v1-api")
        .unwrap();
    assert!(relation["target"].is_null());
    assert!(relations
        .iter()
        .filter(|r| *r != relation)
        .all(|r| r["target"].is_object()));
}

#[tokio::test]
async fn refs_need_a_kind_and_unknown_entities_are_null() {
    let server = demo_server().await;
    let body = server
        .call(
            r#"{ entity(ref: "checkout-service") { ref } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_REF");
    let data = server
        .data(
            r#"{ entity(ref: "component:no-such-thing") { ref } }"#,
            json!({}),
        )
        .await;
    assert!(data["entity"].is_null());
    // Custom and other kinds come back typed; the partners namespace is honoured.
    let data = server
        .data(
            r#"{ entity(ref: "component:partners/carrier-gateway") {
                   __typename ... on Component { providesApis { ref } owner { ref } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["entity"]["providesApis"][0]["ref"],
        "api:partners/carrier-rates-api"
    );
    assert_eq!(data["entity"]["owner"]["ref"], "group:default/team-routing");
}
