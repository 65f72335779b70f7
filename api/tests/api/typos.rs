//! Typos do not answer as "no match" (issue 15 item 8): a value outside a closed set
//! is `UNKNOWN_VALUE` with a did-you-mean; a ref that names no entity is null, and
//! `extensions.notFound` says so with the nearest refs; a typed relation field shows
//! the declared refs whose target does not exist.

use super::support::{demo_server, first_code, strings};
use serde_json::{json, Value};

fn did_you_mean(body: &Value) -> Vec<String> {
    strings(&body["errors"][0]["extensions"]["didYouMean"], None)
}

/// What was seen: each of these answered `[]` or a list of everything, no error.
#[tokio::test]
async fn values_outside_a_closed_set_are_refused_with_a_suggestion() {
    let server = demo_server().await;
    // (query, the suggestion first in didYouMean, a word of the message)
    let cases = [
        (
            r#"{ entity(ref: "component:payments-gateway") { relations(type: "ownedby") { targetRef } } }"#,
            "ownedBy",
            "relation type",
        ),
        (
            r#"{ entity(ref: "component:payments-gateway") { relationsConnection(type: "dependOn") { totalCount } } }"#,
            "dependsOn",
            "relation type",
        ),
        (
            r#"{ entity(ref: "component:payments-gateway") { dependencies(kind: ["Compnent"]) { items { ref } } } }"#,
            "component",
            "kind",
        ),
        (
            r#"{ entity(ref: "component:payments-gateway") { dependencies(kinds: ["resorce"]) { items { ref } } } }"#,
            "resource",
            "kind",
        ),
        (
            r#"{ entity(ref: "group:commerce") { ... on Group { ownedEntitiesConnection(kind: ["APIs"]) { totalCount } } } }"#,
            "api",
            "kind",
        ),
        (
            r#"{ entity(ref: "component:payments-gateway") { ... on Component { dependsOnConnection(kind: ["Resources"]) { totalCount } } } }"#,
            "resource",
            "kind",
        ),
        (
            r#"{ events(filter: { types: ["EntityUpdate"] }, first: 5) { edges { cursor } } }"#,
            "EntityUpdated",
            "event type",
        ),
        (
            r#"{ events(filter: { kind: ["Sytem"] }, first: 5) { edges { cursor } } }"#,
            "system",
            "kind",
        ),
        (
            r#"{ entities(filter: { kind: ["Compnent"] }, first: 5) { totalCount } }"#,
            "component",
            "filter.kind",
        ),
        (
            r#"{ entities(filter: { or: [{ kind: ["api"] }, { not: { kind: ["Grop"] } }] }) { totalCount } }"#,
            "group",
            "filter.or[1].not.kind",
        ),
    ];
    for (query, suggestion, what) in cases {
        let body = server.call(query, json!({}), None).await;
        assert_eq!(first_code(&body), "UNKNOWN_VALUE", "{query}: {body:#}");
        assert_eq!(
            did_you_mean(&body).first().map(String::as_str),
            Some(suggestion),
            "{query}: {body:#}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(what), "{message}");
        assert!(
            message.contains(&format!("did you mean {suggestion:?}")),
            "{message}"
        );
    }
    // An enum value outside its type: the same code, the nearest values.
    let body = server
        .call("{ facets(field: SYTEM) { value } }", json!({}), None)
        .await;
    assert_eq!(first_code(&body), "UNKNOWN_VALUE", "{body:#}");
    assert_eq!(
        did_you_mean(&body).first().map(String::as_str),
        Some("SYSTEM"),
        "{body:#}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("did you mean SYSTEM?"), "{message}");
    // The right spellings answer (kinds case-insensitively).
    let data = server
        .data(
            r#"{ entity(ref: "component:payments-gateway") {
                 relations(type: "ownedBy") { targetRef }
                 dependencies(kind: ["Resource"]) { items { ref } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        strings(&data["entity"]["relations"], Some("targetRef")),
        ["group:default/team-payments"]
    );
    assert!(
        strings(&data["entity"]["dependencies"]["items"], Some("ref"))
            .contains(&"resource:default/payments-queue".to_string())
    );
}

/// What was seen: `null`, nothing telling a typo from "no such entity".
#[tokio::test]
async fn a_ref_that_names_no_entity_is_null_with_the_nearest_refs_in_extensions() {
    let server = demo_server().await;
    let body = server
        .call(
            r#"{ entity(ref: "component:payments-gatway") { ref } }"#,
            json!({}),
            None,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["entity"], Value::Null);
    let missing = &body["extensions"]["notFound"];
    assert_eq!(
        missing[0]["ref"],
        json!("component:default/payments-gatway")
    );
    assert_eq!(missing[0]["path"], json!(["entity"]));
    assert_eq!(
        missing[0]["nearest"][0],
        json!("component:default/payments-gateway"),
        "{body:#}"
    );

    let body = server
        .call(
            r#"{ entitiesByRefs(refs: ["system:payments", "api:payments-apy"]) { ref } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["entitiesByRefs"][0]["ref"],
        json!("system:default/payments")
    );
    assert_eq!(body["data"]["entitiesByRefs"][1], Value::Null);
    let missing = body["extensions"]["notFound"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{body:#}");
    assert_eq!(missing[0]["ref"], json!("api:default/payments-apy"));
    assert_eq!(
        missing[0]["nearest"][0],
        json!("api:default/payments-api"),
        "{body:#}"
    );

    // A ref that exists says nothing.
    let body = server
        .call(
            r#"{ entity(ref: "system:payments") { ref } }"#,
            json!({}),
            None,
        )
        .await;
    assert!(body["extensions"].get("notFound").is_none(), "{body:#}");
}

/// What was seen: label-printer-service declares two consumed APIs, `consumesApis`
/// shows one, and nothing says the other does not exist.
#[tokio::test]
async fn typed_relation_fields_show_the_declared_refs_that_name_no_entity() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{ entity(ref: "component:label-printer-service") { ... on Component {
                 spec
                 consumesApis { ref }
                 consumesApisConnection { totalCount danglingRefs nodes { ref } }
                 dependsOnConnection { danglingRefs } } } }"#,
            json!({}),
        )
        .await;
    let entity = &data["entity"];
    let declared: Vec<String> = strings(&entity["spec"]["consumesApis"], None);
    let live = strings(&entity["consumesApis"], Some("ref"));
    let connection = &entity["consumesApisConnection"];
    assert_eq!(
        strings(&connection["danglingRefs"], None),
        ["api:default/shipping-labels-v1-api"]
    );
    assert_eq!(strings(&connection["nodes"], Some("ref")), live);
    assert_eq!(connection["totalCount"], json!(live.len()));
    // Every declared ref is either a node or dangling.
    assert_eq!(declared.len(), live.len() + 1, "{entity:#}");
    assert_eq!(entity["dependsOnConnection"]["danglingRefs"], json!([]));
}
