//! Lists answered in one pass (`graphql::flat`): a walk's items and a page's nodes
//! whose fields are all plain come out exactly as the ordinary, field-by-field path
//! gives them. A field the one-pass path does not answer (`entity`, `tags`) sends
//! the same list through the ordinary path, so each answer is compared with its twin;
//! a list written as JSON text is compared with its values byte for byte.

use super::support::{demo_server, TestServer};
use serde_json::{json, Value};

/// `value`'s list items without `key` (the field that forced the ordinary path).
fn without(value: &Value, key: &str) -> Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value:#}"))
        .iter()
        .map(|item| {
            let mut item = item.clone();
            item.as_object_mut().unwrap().remove(key);
            item
        })
        .collect()
}

#[tokio::test]
async fn walk_items_in_one_pass_equal_the_ordinary_path() {
    let server = demo_server().await;
    let walk = |extra: &str| {
        format!(
            "query($ref: String!, $direction: DependencyDirection, $via: Boolean) {{ \
             entity(ref: $ref) {{ dependencies(direction: $direction, viaApis: $via) {{ \
             items {{ __typename ref depth d: depth via path ...More {extra} }} }} }} }} \
             fragment More on Dependency {{ ref via }}"
        )
    };
    for (root, direction, via) in [
        ("resource:default/events-bus", "INCOMING", false),
        ("component:storefront-web", "OUTGOING", true),
        ("component:route-planner", "OUTGOING", false),
    ] {
        let variables = json!({ "ref": root, "direction": direction, "via": via });
        let flat = server.data(&walk(""), variables.clone()).await;
        let ordinary = server.data(&walk("entity { ref }"), variables).await;
        let flat = &flat["entity"]["dependencies"]["items"];
        let ordinary = &ordinary["entity"]["dependencies"]["items"];
        assert!(
            flat.as_array().unwrap().len() >= 4,
            "{root}: a walk with items: {flat:#}"
        );
        assert_eq!(
            flat.as_array().unwrap(),
            &without(ordinary, "entity"),
            "{root}"
        );
        let first = &flat[0];
        assert_eq!(first["__typename"], "Dependency");
        assert_eq!(first["d"], first["depth"]);
        assert_eq!(
            first["path"][0],
            root.replace("component:", "component:default/")
        );
    }
}

#[tokio::test]
async fn page_nodes_in_one_pass_equal_the_ordinary_path() {
    let server = demo_server().await;
    let fields = "__typename id ref kind namespace name title description \
                  ... on Component { owner { __typename ref name ... on Group { id } } } \
                  ... on Api { owner { ref } } ...Named";
    let fragment = "fragment Named on Entity { n: name }";
    let pages = [
        (
            "entities",
            format!(
                "{{ page: entities(first: 100) {{ nodes {{ {fields} EXTRA }} }} }} {fragment}"
            ),
        ),
        (
            "search",
            format!(
                "{{ page: search(text: \"payments\", first: 20) {{ nodes {{ {fields} EXTRA }} }} }} \
                 {fragment}"
            ),
        ),
        (
            "owned",
            format!(
                "{{ entity(ref: \"group:default/engineering\") {{ ... on Group {{ \
                 page: ownedEntitiesConnection(transitive: true, first: 100) {{ \
                 nodes {{ {fields} EXTRA }} }} }} }} }} {fragment}"
            ),
        ),
    ];
    for (name, query) in pages {
        let flat = server.data(&query.replace("EXTRA", ""), json!({})).await;
        let ordinary = server
            .data(&query.replace("EXTRA", "tags"), json!({}))
            .await;
        let pick = |data: &Value| {
            let page = if name == "owned" {
                data["entity"]["page"].clone()
            } else {
                data["page"].clone()
            };
            page["nodes"].clone()
        };
        let (flat, ordinary) = (pick(&flat), pick(&ordinary));
        let nodes = flat.as_array().unwrap();
        assert!(nodes.len() >= 5, "{name}: a page with nodes: {flat:#}");
        assert!(
            nodes.iter().any(|n| n["owner"]["ref"].is_string()),
            "{name}: some owners were resolved: {flat:#}"
        );
        let ordinary = without(&ordinary, "tags");
        assert_eq!(nodes.len(), ordinary.len(), "{name}");
        for (flat, ordinary) in nodes.iter().zip(&ordinary) {
            assert_eq!(flat, ordinary, "{name}");
        }
    }
}

/// The whole response body of a query, as text.
async fn body_text(server: &TestServer, query: &str, variables: &Value) -> String {
    let body = json!({ "query": query, "variables": variables });
    let response = server.post(body, None, Some("application/json")).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The response's text when a walk's items are written as JSON text (`raw`) is
/// byte for byte the one their values give: the same query with `items` selected
/// twice (two selections async-graphql merges) is answered with values.
#[tokio::test]
async fn walk_items_written_as_text_equal_the_values_byte_for_byte() {
    let server = demo_server().await;
    let items = "items { __typename ref depth d: depth via path }";
    let walk = |items: &str| {
        format!(
            "query($ref: String!, $direction: DependencyDirection, $via: Boolean) {{ \
             entity(ref: $ref) {{ ref dependencies(direction: $direction, viaApis: $via) {{ \
             truncated {items} }} }} }}"
        )
    };
    for (root, direction, via) in [
        ("resource:default/events-bus", "INCOMING", false),
        ("component:storefront-web", "OUTGOING", true),
        ("component:route-planner", "OUTGOING", false),
        ("component:nothing-here", "OUTGOING", false),
    ] {
        let variables = json!({ "ref": root, "direction": direction, "via": via });
        let as_text = body_text(&server, &walk(items), &variables).await;
        let as_values = body_text(&server, &walk(&format!("{items} {items}")), &variables).await;
        assert_eq!(as_text, as_values, "{root}");
        if root != "component:nothing-here" {
            assert!(as_text.contains("\"path\":[\""), "{root}: {as_text}");
        }
    }
}

/// The same for pages' nodes: the bench's pages and one asking every plain field,
/// written as text, equal the values of the same query with `nodes` selected twice.
#[tokio::test]
async fn page_nodes_written_as_text_equal_the_values_byte_for_byte() {
    let server = demo_server().await;
    let every = "nodes { __typename id ref kind namespace name title description \
                 ... on Component { owner { __typename ref name ... on Group { id } } } }";
    let bench = "nodes { ref name ... on Component { owner { ref name } } }";
    let pages = [
        "{ entities(filter: { kind: [\"Component\"] }, first: 100) { NODES \
         pageInfo { hasNextPage endCursor } } }",
        "{ entities(first: 100) { NODES } }",
        "{ search(text: \"payments\", first: 20) { totalCount NODES } }",
        "{ entity(ref: \"group:default/engineering\") { ref ... on Group { \
         ownedEntitiesConnection(transitive: true, first: 100) { totalCount NODES \
         pageInfo { hasNextPage endCursor } } } } }",
    ];
    for page in pages {
        for nodes in [every, bench] {
            let as_text = body_text(&server, &page.replace("NODES", nodes), &json!({})).await;
            let twice = format!("{nodes} {nodes}");
            let as_values = body_text(&server, &page.replace("NODES", &twice), &json!({})).await;
            assert_eq!(as_text, as_values, "{page}");
            assert!(as_text.contains("\"owner\":{"), "{page}: {as_text}");
        }
    }
}
