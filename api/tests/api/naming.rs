//! One naming convention (issue 15 item 12): the new names answer, and the old ones,
//! kept as `@deprecated` aliases for one release, answer the same.

use super::support::demo_server;
use serde_json::{json, Value};

#[tokio::test]
async fn deprecated_aliases_answer_the_same_as_the_new_names() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{ entity(ref: "component:payments-gateway") {
                 relations(type: "ownedBy") { declaredBy declaredByRef }
                 dependencies(direction: INCOMING, viaApis: true) {
                   items { ref entityRef via viaRef depth } }
                 old: dependencies(kinds: ["component"]) { items { ref } }
                 new: dependencies(kind: ["component"]) { items { ref } }
                 dependencyGraph(direction: INCOMING, viaApis: true) {
                   nodes { ref entityRef } edges { source sourceRef target targetRef } }
               }
               ownership(ref: "component:payments-gateway") { contacts { ref entityRef } }
               oldEvents: events(filter: { kinds: ["system"], types: ["EntityRegistered"], refs: ["system:payments"] }, first: 5) {
                 nodes { ref entityRef type } }
               newEvents: events(filter: { kind: ["system"], type: ["EntityRegistered"], ref: ["system:payments"] }, first: 5) {
                 nodes { ref entityRef type } }
            }"#,
            json!({}),
        )
        .await;
    let entity = &data["entity"];
    let pairs = |list: &Value, old: &str, new: &str| {
        let list = list
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {list:#}"));
        assert!(!list.is_empty(), "{old}/{new}: nothing to compare");
        for item in list {
            assert_eq!(item[old], item[new], "{old} and {new} differ: {item:#}");
        }
    };
    pairs(&entity["relations"], "declaredBy", "declaredByRef");
    assert_eq!(
        entity["relations"][0]["declaredByRef"],
        json!("component:default/payments-gateway")
    );
    let items = &entity["dependencies"]["items"];
    pairs(items, "ref", "entityRef");
    pairs(items, "via", "viaRef");
    assert!(items
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["viaRef"] == json!("api:default/payments-api")));
    assert_eq!(entity["old"], entity["new"]);
    assert!(!entity["new"]["items"].as_array().unwrap().is_empty());
    pairs(&entity["dependencyGraph"]["nodes"], "ref", "entityRef");
    pairs(&entity["dependencyGraph"]["edges"], "source", "sourceRef");
    pairs(&entity["dependencyGraph"]["edges"], "target", "targetRef");
    pairs(&data["ownership"]["contacts"], "ref", "entityRef");
    assert_eq!(data["oldEvents"], data["newEvents"]);
    pairs(&data["newEvents"]["nodes"], "ref", "entityRef");
    assert_eq!(
        data["newEvents"]["nodes"][0]["entityRef"],
        json!("system:default/payments")
    );
}

#[tokio::test]
async fn the_old_names_are_marked_deprecated_with_the_new_name() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{
              dependency: __type(name: "Dependency") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } }
              edge: __type(name: "DependencyEdge") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } }
              system: __type(name: "System") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } }
              query: __type(name: "Query") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } }
            }"#,
            json!({}),
        )
        .await;
    let reason = |ty: &str, field: &str| -> Option<String> {
        let fields = data[ty]["fields"].as_array().unwrap();
        let found = fields
            .iter()
            .find(|f| f["name"] == json!(field))
            .unwrap_or_else(|| panic!("{ty}.{field} is missing"));
        found["deprecationReason"].as_str().map(str::to_string)
    };
    for (ty, old, new) in [
        ("dependency", "ref", "entityRef"),
        ("dependency", "via", "viaRef"),
        ("edge", "source", "sourceRef"),
        ("edge", "target", "targetRef"),
        ("system", "components", "componentsConnection"),
        ("query", "locations", "locationsConnection"),
        ("query", "processingErrors", "processingErrorsConnection"),
    ] {
        let why = reason(ty, old).unwrap_or_else(|| panic!("{ty}.{old} is not deprecated"));
        assert!(why.contains(new), "{ty}.{old}: {why}");
        assert_eq!(reason(ty, new), None, "{ty}.{new} is the new name");
    }
}
