//! Every unbounded list as a Relay connection (issue 15 item 5): each walked to the
//! end through its cursors on the demo catalog, two at a time, and compared with the
//! list field it replaces (kept, deprecated, for one release).

use super::support::{demo_server, first_code, strings, TestServer};
use serde_json::{json, Value};

/// Walks the connection at `path` of `query` (which takes `$first` and `$after`) to the
/// end, `first` at a time: the nodes' values under `key`, in order, and the
/// `totalCount` each page gave (all equal). Checks `pageInfo` on every page.
pub async fn walk_connection(
    server: &TestServer,
    query: &str,
    path: &[&str],
    key: &str,
    first: i64,
) -> (Vec<String>, i64) {
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    let mut total = None;
    for page in 0.. {
        assert!(page < 500, "the walk of {path:?} does not end");
        let data = server
            .data(query, json!({ "first": first, "after": after }))
            .await;
        let mut connection = &data;
        for step in path {
            connection = &connection[step];
        }
        let edges = connection["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{data:#}"));
        assert!(edges.len() as i64 <= first);
        let nodes: Vec<String> = edges.iter().map(|e| text_of(&e["node"][key])).collect();
        // `nodes` is the edges' nodes.
        let plain: Vec<String> = connection["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| text_of(&n[key]))
            .collect();
        assert_eq!(nodes, plain);
        let info = &connection["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(after.is_some()));
        if let Some(last) = edges.last() {
            assert_eq!(info["endCursor"], last["cursor"]);
            assert_eq!(info["startCursor"], edges[0]["cursor"]);
        }
        let count = connection["totalCount"].as_i64().unwrap();
        assert_eq!(*total.get_or_insert(count), count, "totalCount changed");
        seen.extend(nodes);
        if info["hasNextPage"] == json!(false) {
            break;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_string());
    }
    (seen, total.unwrap_or(0))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The typed relation fields and the list fields they replace, on one entity each.
#[tokio::test]
async fn every_relation_list_is_a_connection_walked_to_the_end() {
    let server = demo_server().await;
    // (entity, type, connection, list, at least these refs)
    let cases: [(&str, &str, &str, &str, &[&str]); 13] = [
        (
            "system:payments",
            "System",
            "componentsConnection",
            "components",
            &[
                "component:default/payments-gateway",
                "component:default/payments-ledger",
            ],
        ),
        (
            "system:payments",
            "System",
            "apisConnection",
            "apis",
            &["api:default/payments-api"],
        ),
        (
            "system:payments",
            "System",
            "resourcesConnection",
            "resources",
            &[
                "resource:default/ledger-db",
                "resource:default/payments-queue",
            ],
        ),
        (
            "domain:payments",
            "Domain",
            "systemsConnection",
            "systems",
            &["system:default/payments"],
        ),
        (
            "domain:commerce",
            "Domain",
            "subdomainsConnection",
            "subdomains",
            &[],
        ),
        (
            "api:payments-api",
            "Api",
            "providersConnection",
            "providers",
            &["component:default/payments-gateway"],
        ),
        (
            "api:payments-api",
            "Api",
            "consumersConnection",
            "consumers",
            &[],
        ),
        (
            "component:payments-gateway",
            "Component",
            "consumesApisConnection",
            "consumesApis",
            &["api:default/fx-rates-api", "api:default/ledger-grpc"],
        ),
        (
            "component:payments-gateway",
            "Component",
            "providesApisConnection",
            "providesApis",
            &["api:default/payments-api"],
        ),
        (
            "component:payments-gateway",
            "Component",
            "dependsOnConnection",
            "dependsOn",
            &[
                "component:default/card-tokenizer",
                "component:default/payments-ledger",
                "resource:default/payments-queue",
            ],
        ),
        (
            "component:payments-ledger",
            "Component",
            "dependentsConnection",
            "dependents",
            &["component:default/payments-gateway"],
        ),
        (
            "group:commerce",
            "Group",
            "childrenConnection",
            "children",
            &[
                "group:default/team-orders",
                "group:default/team-payments",
                "group:default/team-storefront",
            ],
        ),
        (
            "user:ines.carvalho",
            "User",
            "memberOfConnection",
            "memberOf",
            &["group:default/team-payments"],
        ),
    ];
    for (entity, ty, connection, list, expected) in cases {
        let query = format!(
            "query($first: Int, $after: String) {{ entity(ref: \"{entity}\") {{ \
             ... on {ty} {{ {connection}(first: $first, after: $after) {{ \
             edges {{ cursor node {{ ref }} }} nodes {{ ref }} totalCount danglingRefs \
             pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }} }}"
        );
        let (walked, total) =
            walk_connection(&server, &query, &["entity", connection], "ref", 2).await;
        let old = server
            .data(
                &format!(
                    "{{ entity(ref: \"{entity}\") {{ ... on {ty} {{ {list} {{ ref }} }} }} }}"
                ),
                json!({}),
            )
            .await;
        let mut listed = strings(&old["entity"][list], Some("ref"));
        listed.sort();
        assert_eq!(walked, listed, "{entity} {connection}: by ref, as the list");
        assert_eq!(total as usize, walked.len(), "{entity} {connection}");
        for r in expected {
            assert!(
                walked.contains(&r.to_string()),
                "{entity} {connection} lacks {r}: {walked:?}"
            );
        }
    }
}

#[tokio::test]
async fn owned_entities_are_paged_by_kind_with_the_count_of_that_kind() {
    let server = demo_server().await;
    let query = "query($first: Int, $after: String) { entity(ref: \"group:commerce\") { \
        ... on Group { ownedEntitiesConnection(transitive: true, kind: [\"api\"], first: $first, after: $after) { \
        edges { cursor node { ref kind } } nodes { ref } totalCount \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }";
    let (apis, total) = walk_connection(
        &server,
        query,
        &["entity", "ownedEntitiesConnection"],
        "ref",
        3,
    )
    .await;
    let all = server
        .data(
            r#"{ entity(ref: "group:commerce") { ... on Group { ownedEntities(transitive: true) { ref kind } } } }"#,
            json!({}),
        )
        .await;
    let mut expected: Vec<String> = all["entity"]["ownedEntities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == json!("API"))
        .map(|e| e["ref"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(apis, expected);
    assert_eq!(total as usize, apis.len());
    assert!(
        apis.contains(&"api:default/payments-api".to_string()),
        "{apis:?}"
    );
    assert!(apis.iter().all(|r| r.starts_with("api:")));
    // Without `kind`, the count is every kind's: the 40 the list has.
    let every = server
        .data(
            r#"{ entity(ref: "group:commerce") { ... on Group { ownedEntitiesConnection(transitive: true, first: 1) { totalCount } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        every["entity"]["ownedEntitiesConnection"]["totalCount"],
        json!(40)
    );
}

#[tokio::test]
async fn relations_and_dependency_walks_are_connections() {
    let server = demo_server().await;
    let query =
        "query($first: Int, $after: String) { entity(ref: \"component:payments-gateway\") { \
        relationsConnection(first: $first, after: $after) { \
        edges { cursor node { targetRef } } nodes { targetRef } totalCount \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";
    let (targets, total) = walk_connection(
        &server,
        query,
        &["entity", "relationsConnection"],
        "targetRef",
        3,
    )
    .await;
    let listed = server
        .data(
            r#"{ entity(ref: "component:payments-gateway") { relations { type targetRef } } }"#,
            json!({}),
        )
        .await;
    let mut pairs: Vec<(String, String)> = listed["entity"]["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_string(),
                r["targetRef"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    let by_type: Vec<String> = pairs.into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, by_type, "by type, then target");
    assert_eq!(total as usize, targets.len());
    assert!(targets.contains(&"group:default/team-payments".to_string()));
    assert!(targets.contains(&"system:default/payments".to_string()));

    let query =
        "query($first: Int, $after: String) { entity(ref: \"component:payments-gateway\") { \
        dependencies(direction: INCOMING, viaApis: true) { items { ref } \
        itemsConnection(first: $first, after: $after) { \
        edges { cursor node { ref depth } } nodes { ref } totalCount \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }";
    let (walked, total) = walk_connection(
        &server,
        query,
        &["entity", "dependencies", "itemsConnection"],
        "ref",
        2,
    )
    .await;
    let items = server
        .data(
            r#"{ entity(ref: "component:payments-gateway") { dependencies(direction: INCOMING, viaApis: true) { items { ref } } } }"#,
            json!({}),
        )
        .await;
    let items = strings(&items["entity"]["dependencies"]["items"], Some("ref"));
    assert_eq!(walked, items, "by depth, then ref: the walk's own order");
    assert_eq!(total as usize, items.len());
    assert!(!items.is_empty());
}

#[tokio::test]
async fn operational_lists_are_connections() {
    let server = demo_server().await;
    let query =
        "query($first: Int, $after: String) { locationsConnection(first: $first, after: $after) { \
        edges { cursor node { locationId } } nodes { locationId } totalCount \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let (walked, total) =
        walk_connection(&server, query, &["locationsConnection"], "locationId", 1).await;
    let listed = server.data("{ locations { locationId } }", json!({})).await;
    assert_eq!(
        walked,
        strings(&listed["locations"], Some("locationId")),
        "oldest first"
    );
    assert_eq!(total as usize, walked.len());

    let query = "query($first: Int, $after: String) { processingErrorsConnection(first: $first, after: $after) { \
        edges { cursor node { message } } nodes { message } totalCount \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let (walked, total) = walk_connection(
        &server,
        query,
        &["processingErrorsConnection"],
        "message",
        1,
    )
    .await;
    let listed = server
        .data("{ processingErrors(first: 100) { message } }", json!({}))
        .await;
    let mut listed = strings(&listed["processingErrors"], Some("message"));
    let mut sorted_walk = walked.clone();
    listed.sort();
    sorted_walk.sort();
    assert_eq!(sorted_walk, listed);
    assert_eq!(total as usize, walked.len());

    let conflicts = server
        .data(
            "{ conflictsConnection(first: 5) { totalCount edges { node { entityRef } } pageInfo { hasNextPage } } conflicts { entityRef } }",
            json!({}),
        )
        .await;
    assert_eq!(
        conflicts["conflictsConnection"]["totalCount"]
            .as_u64()
            .unwrap() as usize,
        conflicts["conflicts"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn a_cursor_resumes_only_the_field_it_came_from() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{ entity(ref: "system:payments") { ... on System { componentsConnection(first: 1) { pageInfo { endCursor } } } } }"#,
            json!({}),
        )
        .await;
    let cursor = data["entity"]["componentsConnection"]["pageInfo"]["endCursor"].clone();
    let body = server
        .call(
            r#"query($after: String) { entity(ref: "system:payments") { ... on System { resourcesConnection(after: $after) { totalCount } } } }"#,
            json!({ "after": cursor }),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_CURSOR", "{body:#}");
}

#[tokio::test]
async fn entities_page_backward_with_last_and_before() {
    let server = demo_server().await;
    let forward = "query($first: Int, $after: String) { entities(filter: { kind: \"API\" }, \
        orderBy: [{ field: NAME, direction: DESC }], first: $first, after: $after) { \
        edges { cursor node { ref } } nodes { ref } totalCount \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let (all, total) = walk_connection(&server, forward, &["entities"], "ref", 4).await;
    assert_eq!(total as usize, all.len());
    assert!(all.len() > 6, "{all:?}");
    // From the end backward, three at a time: the same rows, page by page.
    let backward = "query($last: Int, $before: String) { entities(filter: { kind: \"API\" }, \
        orderBy: [{ field: NAME, direction: DESC }], last: $last, before: $before) { \
        totalCount edges { cursor node { ref } } \
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let mut before: Option<String> = None;
    let mut pages: Vec<Vec<String>> = Vec::new();
    loop {
        let data = server
            .data(backward, json!({ "last": 3, "before": before }))
            .await;
        let page = &data["entities"];
        assert_eq!(page["totalCount"], json!(total));
        let refs: Vec<String> = page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["ref"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(page["pageInfo"]["hasNextPage"], json!(before.is_some()));
        pages.push(refs);
        if page["pageInfo"]["hasPreviousPage"] == json!(false) {
            break;
        }
        assert!(pages.len() < 100);
        before = Some(
            page["pageInfo"]["startCursor"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let walked: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(
        walked, all,
        "backward pages, put back in order, are the forward walk"
    );
    let body = server
        .call(
            "{ entities(first: 2, last: 2) { totalCount } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_ARGUMENT", "{body:#}");
}
