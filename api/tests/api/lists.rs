//! Catalog tables: filters, keyset pagination walked to the end, facets, search.

use super::support::{demo_server, first_code, strings, TestServer};
use serde_json::{json, Value};
use std::collections::HashSet;

const PAGE: &str = r#"
query List($filter: EntityFilter, $order: [EntityOrder!], $first: Int, $after: String) {
  entities(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount
    edges { cursor node { ref name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

/// Every ref the filter keeps, page by page; checks the page info on the way.
async fn walk(
    server: &TestServer,
    filter: Value,
    order: Value,
    first: usize,
) -> (Vec<String>, i64) {
    let mut refs = Vec::new();
    let mut after = Value::Null;
    let mut total = -1;
    for page in 0.. {
        let vars = json!({ "filter": filter, "order": order, "first": first, "after": after });
        let data = server.data(PAGE, vars).await;
        let connection = &data["entities"];
        total = connection["totalCount"].as_i64().unwrap();
        let edges = connection["edges"].as_array().unwrap();
        refs.extend(
            edges
                .iter()
                .map(|e| e["node"]["ref"].as_str().unwrap().to_string()),
        );
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], page > 0);
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert_eq!(edges.len(), first, "a page before the last is full");
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(page < 100, "pagination does not end");
    }
    (refs, total)
}

#[tokio::test]
async fn a_filtered_list_walked_through_cursors_has_no_duplicates_or_gaps() {
    let server = demo_server().await;
    let filter = json!({ "kind": "Component", "type": ["service"] });
    let (refs, total) = walk(&server, filter.clone(), json!([]), 7).await;
    assert_eq!(total, 39, "the demo has 39 service components");
    assert_eq!(refs.len(), 39);
    assert_eq!(
        refs.iter().collect::<HashSet<_>>().len(),
        39,
        "no duplicates"
    );
    // The same rows as one big page, in the same order (name, then ref).
    let all = server
        .data(PAGE, json!({ "filter": filter, "first": 100 }))
        .await;
    let one_page: Vec<String> = all["entities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refs, one_page, "no gaps, same order");

    // Descending on a nullable key with ties, then name: still complete.
    let order = json!([{ "field": "LIFECYCLE", "direction": "DESC" }, { "field": "NAME" }]);
    let (refs, total) = walk(&server, json!({ "kind": ["component"] }), order, 10).await;
    assert_eq!((refs.len(), total), (61, 61));
    assert_eq!(refs.iter().collect::<HashSet<_>>().len(), 61);
}

#[tokio::test]
async fn filters_combine_with_and_or_not() {
    let server = demo_server().await;
    let count = |filter: Value| {
        let server = &server;
        async move {
            let data = server
                .data(
                    "query($f: EntityFilter) { entities(filter: $f, first: 0) { totalCount } }",
                    json!({ "f": filter }),
                )
                .await;
            data["entities"]["totalCount"].as_i64().unwrap()
        }
    };
    assert_eq!(count(json!({ "kind": "API" })).await, 23);
    assert_eq!(
        count(json!({ "kind": "Component", "lifecycle": "production" })).await,
        47
    );
    assert_eq!(
        count(json!({ "kind": "Component", "not": { "lifecycle": "production" } })).await,
        14
    );
    assert_eq!(
        count(json!({ "or": [{ "kind": "Group" }, { "kind": "User" }] })).await,
        58
    );
    assert_eq!(count(json!({ "namespace": "partners" })).await, 4);
    assert_eq!(count(json!({ "tag": "go" })).await, 19);
    // Owner refs take the defaults of refs: kind group, namespace default.
    assert_eq!(
        count(json!({ "owner": "team-payments", "kind": "Component" })).await,
        7
    );
    assert_eq!(
        count(json!({ "owner": "Group:default/Team-Payments", "kind": "component" })).await,
        7
    );
    assert_eq!(
        count(json!({ "label": "kestrelmoor.io/environment=production" })).await,
        16
    );
    assert_eq!(
        count(json!({ "hasAnnotation": "pagerduty.com/service-id", "kind": "Component" })).await,
        29
    );
    assert_eq!(
        count(json!({ "and": [{ "kind": "Component" }, { "text": "payments" }] })).await,
        count(json!({ "kind": "Component", "text": "payments" })).await
    );
    let body = server
        .call(
            PAGE,
            json!({ "filter": { "label": "no-equals-sign" } }),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_ARGUMENT");
}

#[tokio::test]
async fn facets_count_values_and_search_ranks_as_you_type() {
    let server = demo_server().await;
    let data = server
        .data(r#"{ facets(field: KIND) { value count } }"#, json!({}))
        .await;
    let facets: Vec<(String, i64)> = data["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_string(),
                f["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("Component", 61),
        ("User", 40),
        ("API", 23),
        ("Group", 18),
        ("Resource", 16),
        ("System", 10),
        ("Domain", 4),
        ("Location", 2),
        ("Template", 1),
    ];
    assert_eq!(facets, expected.map(|(v, c)| (v.to_string(), c)));
    let data = server
        .data(
            r#"{ facets(field: TYPE, filter: { kind: "Component" }) { value count } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["facets"][0],
        json!({ "value": "service", "count": 39 })
    );

    // As you type: a prefix finds the name; the exact name ranks first.
    let data = server
        .data(
            r#"{ search(text: "payments-gatew", first: 5) { edges { node { ref } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["search"]["edges"][0]["node"]["ref"],
        "component:default/payments-gateway"
    );
    // A misspelt word still matches.
    let data = server
        .data(
            r#"{ search(text: "paymets", first: 50) { nodes { ref } } }"#,
            json!({}),
        )
        .await;
    assert!(strings(&data["search"]["nodes"], Some("ref"))
        .contains(&"component:default/payments-gateway".to_string()));
    // Search pages through cursors without duplicates.
    let first = server
        .data(r#"{ search(text: "service", first: 5) { totalCount pageInfo { endCursor hasNextPage } nodes { ref } } }"#, json!({}))
        .await;
    let total = first["search"]["totalCount"].as_i64().unwrap();
    assert!(total > 5);
    let cursor = first["search"]["pageInfo"]["endCursor"].clone();
    let next = server
        .data("query($a: String) { search(text: \"service\", first: 500, after: $a) { nodes { ref } } }", json!({ "a": cursor }))
        .await;
    let mut seen = strings(&first["search"]["nodes"], Some("ref"));
    seen.extend(strings(&next["search"]["nodes"], Some("ref")));
    assert_eq!(seen.len() as i64, total);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len() as i64, total);
}

#[tokio::test]
async fn a_filtered_ordered_page_after_a_cursor_costs_no_sql_statement() {
    let server = demo_server().await;
    let filter = json!({ "kind": "Component", "lifecycle": "production" });
    let order = json!([{ "field": "TYPE", "direction": "DESC" }, { "field": "NAME" }]);
    let vars = |first: usize, after: Value| json!({ "filter": filter, "order": order, "first": first, "after": after });
    let whole = server.data(PAGE, vars(20, Value::Null)).await;
    let first = server.data(PAGE, vars(10, Value::Null)).await;
    let cursor = first["entities"]["pageInfo"]["endCursor"].clone();

    let before = server.state.statements.get();
    let second = server.data(PAGE, vars(10, cursor)).await;
    let statements = server.state.statements.get() - before;

    assert_eq!(
        statements, 0,
        "the page, its cursor and totalCount read no SQL"
    );
    let refs = |data: &Value| -> Vec<String> {
        data["entities"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["ref"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(refs(&second), refs(&whole)[10..20].to_vec());
    assert_eq!(second["entities"]["totalCount"], 47);
    assert_eq!(second["entities"]["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn a_cursor_from_an_earlier_server_or_tampered_with_is_refused_with_invalid_cursor() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let server = demo_server().await;
    let encode = |json: &str| Value::String(URL_SAFE_NO_PAD.encode(json));
    let refused = |body: &Value| {
        (
            first_code(body),
            body["errors"][0]["message"].as_str().unwrap().to_string(),
        )
    };
    let list = |order: Value, after: Value| {
        let server = &server;
        async move {
            server
                .call(
                    PAGE,
                    json!({ "order": order, "first": 5, "after": after }),
                    None,
                )
                .await
        }
    };
    let again =
        "the cursor was made by another version of this server; ask for the first page again";

    // The SQL engine's cursors (no format) are refused, not resumed in another order.
    let old =
        encode(r#"{"o":"Name:Asc","k":["cart-service"],"r":"component:default/cart-service"}"#);
    assert_eq!(
        refused(&list(json!([]), old).await),
        ("INVALID_CURSOR".to_string(), again.to_string())
    );
    let old_search = encode(r#"{"q":"service","s":1.061,"r":"component:default/auth-service"}"#);
    let body = server
        .call(
            "query($a: String) { search(text: \"service\", after: $a) { nodes { ref } } }",
            json!({ "a": old_search }),
            None,
        )
        .await;
    assert_eq!(
        refused(&body),
        ("INVALID_CURSOR".to_string(), again.to_string())
    );

    // A time key in PostgreSQL's text form (as the SQL engine wrote it) under this format.
    let created = json!([{ "field": "CREATED_AT" }]);
    let tampered = encode(
        r#"{"v":2,"o":"CreatedAt:Asc","k":["2026-12-01 19:49:46.123456+00"],"r":"component:default/cart-service"}"#,
    );
    assert_eq!(
        refused(&list(created.clone(), tampered).await),
        (
            "INVALID_CURSOR".to_string(),
            "the cursor is not one this query returned".to_string()
        )
    );
    // Not base64 / not JSON, and a real cursor under another order.
    for garbage in [json!("not a cursor!"), encode("{\"v\":2,")] {
        assert_eq!(refused(&list(json!([]), garbage).await).0, "INVALID_CURSOR");
    }
    let page = server
        .data(PAGE, json!({ "order": created, "first": 5 }))
        .await;
    let cursor = page["entities"]["pageInfo"]["endCursor"].clone();
    assert_eq!(
        refused(&list(json!([]), cursor.clone()).await),
        (
            "INVALID_CURSOR".to_string(),
            "the cursor belongs to a different orderBy".to_string()
        )
    );
    // The same cursor under its own order resumes.
    let next = server
        .data(
            PAGE,
            json!({ "order": created, "first": 5, "after": cursor }),
        )
        .await;
    assert_eq!(next["entities"]["edges"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn an_entity_held_elided_is_listed_and_found_with_its_whole_spec() {
    let mut config = super::support::auth(true);
    config.tokens[0].sources = vec!["alpha".into()];
    let server = super::support::server(config, almanac_api::GraphqlLimits::default(), false).await;
    let long = "x".repeat(almanac_readmodel::ELIDE_BYTES + 1);
    let documents = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: long-notes\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  notes: {long}\n\
         ---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: short-notes\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  notes: short\n"
    );
    server.push_to_alpha(&documents).await;
    let data = server
        .data(
            r#"{ entities(filter: { kind: "Component" }) { totalCount nodes { ref ... on Component { spec } } }
                 search(text: "long-notes", first: 1) { nodes { ref ... on Component { spec } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["entities"]["totalCount"], 2);
    let nodes = &data["entities"]["nodes"];
    assert_eq!(nodes[0]["ref"], "component:default/long-notes");
    assert_eq!(nodes[0]["spec"]["notes"], json!(long));
    assert_eq!(nodes[1]["spec"]["notes"], "short");
    let found = &data["search"]["nodes"][0];
    assert_eq!(found["ref"], "component:default/long-notes");
    assert_eq!(found["spec"]["notes"], json!(long));
}
