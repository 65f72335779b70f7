//! Issue 15 item 6 against the real server and the demo catalog: filters on relations,
//! transitive owners, systems, domains, dotted paths, processing errors and dangling
//! relations; facets on systems, domains, label and annotation keys and paths; "production
//! components of system payments, paged" as one query walked through its cursors; each
//! new input bounded with an error naming the field and the limit.

use super::support::{demo_server, first_code, sorted, strings, TestServer};
use almanac_ingest::{Ingestor, Source};
use serde_json::{json, Value};

const LIST: &str = r#"
query List($filter: EntityFilter, $first: Int, $after: String) {
  entities(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { node { ref name } }
    pageInfo { hasNextPage endCursor }
  }
}"#;

const FACETS: &str = r#"
query Facets($field: FacetField, $path: String, $filter: EntityFilter, $first: Int) {
  facets(field: $field, path: $path, filter: $filter, first: $first) { value count }
}"#;

/// The names a filter keeps (one page of up to 500), checked against `totalCount`.
async fn names(server: &TestServer, filter: Value) -> Vec<String> {
    let data = server
        .data(LIST, json!({ "filter": filter, "first": 500 }))
        .await;
    let connection = &data["entities"];
    let names = sorted(
        &Value::Array(
            connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone())
                .collect(),
        ),
        Some("name"),
    );
    assert_eq!(connection["totalCount"], json!(names.len()), "{filter}");
    names
}

async fn facets(server: &TestServer, vars: Value) -> Vec<(String, i64)> {
    let data = server.data(FACETS, vars).await;
    data["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_string(),
                f["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn owned(values: &[(&str, i64)]) -> Vec<(String, i64)> {
    values.iter().map(|(v, c)| (v.to_string(), *c)).collect()
}

#[tokio::test]
async fn relation_system_and_domain_filters_follow_the_demo_catalogs_edges() {
    let server = demo_server().await;
    // Consumers of the payments API: the target's kind defaults to `api` for this type.
    assert_eq!(
        names(
            &server,
            json!({ "relation": [{ "type": "consumesApi", "target": "payments-api" }] })
        )
        .await,
        [
            "checkout-service",
            "order-service",
            "payments-client-js",
            "returns-service"
        ]
    );
    // Edges both ways: the system has each of them as a part.
    assert_eq!(
        names(
            &server,
            json!({ "relation": [{ "type": "hasPart", "target": "component:payments-gateway" }] })
        )
        .await,
        ["payments"]
    );
    // Two conditions: both hold.
    assert_eq!(
        names(
            &server,
            json!({ "relation": [
                { "type": "partOf", "target": "system:orders" },
                { "type": "consumesApi", "target": "payments-api" },
            ] })
        )
        .await,
        ["order-service", "returns-service"]
    );
    let in_payments = [
        "card-tokenizer",
        "fraud-scorer",
        "fx-rates-api",
        "fx-rates-cache",
        "fx-rates-service",
        "ledger-db",
        "ledger-grpc",
        "ledger-reconciler",
        "payment-events",
        "payments-api",
        "payments-client-js",
        "payments-gateway",
        "payments-ledger",
        "payments-queue",
        "payouts-service",
    ];
    assert_eq!(
        names(&server, json!({ "system": ["payments"] })).await,
        in_payments
    );
    assert_eq!(
        names(
            &server,
            json!({ "relation": [{ "type": "partOf", "target": "system:payments" }] })
        )
        .await,
        in_payments
    );
    // The domain: the system itself and what is in it.
    let mut in_domain: Vec<&str> = in_payments.to_vec();
    in_domain.push("payments");
    in_domain.sort();
    assert_eq!(
        names(&server, json!({ "domain": ["payments"] })).await,
        in_domain
    );
    assert_eq!(
        names(
            &server,
            json!({ "kind": ["System"], "domain": ["logistics"] })
        )
        .await,
        [
            "fleet-tracking",
            "partner-integrations",
            "routing",
            "warehouse"
        ]
    );
}

#[tokio::test]
async fn a_transitive_owner_takes_in_the_groups_below() {
    let server = demo_server().await;
    let direct = names(
        &server,
        json!({ "kind": ["Component"], "ownedBy": { "refs": ["team-payments"] } }),
    )
    .await;
    let owner = names(
        &server,
        json!({ "kind": ["Component"], "owner": ["team-payments"] }),
    )
    .await;
    assert_eq!(direct, owner, "ownedBy without transitive is owner");
    let parent = server
        .data(
            r#"{ entity(ref: "group:team-payments") { ... on Group { parent { ref } } } }"#,
            json!({}),
        )
        .await;
    let parent = parent["entity"]["parent"]["ref"]
        .as_str()
        .unwrap()
        .to_string();
    let transitive = names(
        &server,
        json!({ "kind": ["Component"], "ownedBy": { "refs": [parent], "transitive": true } }),
    )
    .await;
    // The same set as the group's own transitive ownership, which the API already has.
    let owned = server
        .data(
            r#"query($ref: String!) { entity(ref: $ref) { ... on Group {
                 ownedEntitiesConnection(transitive: true, first: 500) { nodes { kind name } } } } }"#,
            json!({ "ref": parent }),
        )
        .await;
    let mut expected: Vec<String> = owned["entity"]["ownedEntitiesConnection"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "Component")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(transitive, expected);
    assert!(direct.iter().all(|n| transitive.contains(n)));
    assert!(
        transitive.len() > direct.len(),
        "{parent} owns more through its subgroups: {transitive:?} vs {direct:?}"
    );
}

#[tokio::test]
async fn path_filters_read_labels_annotations_and_spec_by_dotted_paths() {
    let server = demo_server().await;
    let count = |filter: Value| {
        let server = &server;
        async move { names(server, filter).await.len() }
    };
    assert_eq!(
        count(json!({ "path": [{ "path": "metadata.labels.tier", "eq": "1" }] })).await,
        13
    );
    // A key with dots in it, written whole.
    assert_eq!(
        count(json!({ "path": [{
            "path": "metadata.annotations.backstage.io/techdocs-ref", "exists": true
        }] }))
        .await,
        56
    );
    assert_eq!(
        count(json!({ "path": [{
            "path": "metadata.labels.kestrelmoor.io/cost-center", "in": ["cc-1000", "cc-1200"]
        }] }))
        .await,
        17
    );
    assert_eq!(
        names(
            &server,
            json!({ "kind": ["Component"], "path": [
                { "path": "spec.lifecycle", "eq": "EXPERIMENTAL" },
                { "path": "spec.system", "eq": "payments" },
            ] })
        )
        .await,
        ["fraud-scorer"]
    );
    // `exists: false`: every resource has no lifecycle.
    let resources = count(json!({ "kind": ["Resource"] })).await;
    assert_eq!(
        count(json!({ "kind": ["Resource"],
            "path": [{ "path": "spec.lifecycle", "exists": false }] }))
        .await,
        resources
    );
    // Through an array: any element.
    assert_eq!(
        names(
            &server,
            json!({ "path": [{ "path": "spec.consumesApis", "eq": "shipping-labels-v1-api" }] })
        )
        .await,
        ["label-printer-service"]
    );
}

#[tokio::test]
async fn processing_errors_and_dangling_relations_are_filters() {
    let server = demo_server().await;
    // The demo's one ref to nothing: an API that was never registered.
    assert_eq!(
        names(&server, json!({ "hasDanglingRelations": true })).await,
        ["label-printer-service"]
    );
    let all = names(&server, json!({})).await.len();
    assert_eq!(
        names(&server, json!({ "hasDanglingRelations": false }))
            .await
            .len(),
        all - 1
    );
    assert!(names(&server, json!({ "hasProcessingErrors": true }))
        .await
        .is_empty());

    // A source read whose second document breaks: that entity keeps its last good
    // version, and its `errors` (and so the filter) name it.
    let dir = std::env::temp_dir().join(format!("almanac-filters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog-info.yaml");
    let good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: alpha\nspec:\n  type: service\n  lifecycle: production\n  owner: team-payments\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: beta\nspec:\n  type: service\n  lifecycle: production\n  owner: team-payments\n";
    let ingestor = Ingestor::new(server.db.log());
    std::fs::write(&file, good).unwrap();
    let report = ingestor.ingest(&Source::File(file.clone())).await.unwrap();
    ingestor.wait_visible(report.last_position).await.unwrap();
    let broken = good.replacen("  owner: team-payments\n", "", 2).replacen(
        "  lifecycle: production\n",
        "  lifecycle: production\n  owner: team-payments\n",
        1,
    );
    std::fs::write(&file, &broken).unwrap();
    let report = ingestor.ingest(&Source::File(file.clone())).await.unwrap();
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    if let Some(position) = report.last_position {
        server.caught_up(position).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        names(&server, json!({ "hasProcessingErrors": true })).await,
        ["beta"]
    );
    assert_eq!(
        names(
            &server,
            json!({ "name": ["alpha", "beta"], "hasProcessingErrors": false })
        )
        .await,
        ["alpha"]
    );
    // Nested, and combined with a snapshot filter.
    assert_eq!(
        names(
            &server,
            json!({ "or": [{ "hasProcessingErrors": true }, { "hasDanglingRelations": true }] })
        )
        .await,
        ["beta", "label-printer-service"]
    );
}

#[tokio::test]
async fn facets_on_systems_domains_label_and_annotation_keys_and_paths() {
    let server = demo_server().await;
    let systems = facets(&server, json!({ "field": "SYSTEM", "first": 3 })).await;
    assert_eq!(systems[0], ("system:default/payments".to_string(), 15));
    assert_eq!(systems.len(), 3);
    let domains = facets(
        &server,
        json!({ "field": "DOMAIN", "filter": { "kind": ["System"] } }),
    )
    .await;
    assert_eq!(
        domains,
        owned(&[
            ("domain:default/logistics", 4),
            ("domain:default/platform", 3),
            ("domain:default/commerce", 2),
            ("domain:default/payments", 1),
        ])
    );
    assert_eq!(
        facets(&server, json!({ "field": "LABEL_KEY" })).await,
        owned(&[
            ("kestrelmoor.io/cost-center", 59),
            ("kestrelmoor.io/environment", 16),
            ("tier", 13),
        ])
    );
    let annotations = facets(
        &server,
        json!({ "field": "ANNOTATION_KEY", "filter": { "kind": ["Component"] } }),
    )
    .await;
    let keys: Vec<&str> = annotations.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.contains(&"backstage.io/techdocs-ref") && keys.contains(&"github.com/project-slug"),
        "{annotations:?}"
    );
    assert_eq!(
        facets(
            &server,
            json!({ "path": "metadata.labels.kestrelmoor.io/cost-center", "first": 2 })
        )
        .await,
        owned(&[("cc-1000", 9), ("cc-1200", 8)])
    );
    assert_eq!(
        facets(
            &server,
            json!({ "path": "spec.lifecycle", "filter": { "system": ["payments"] } })
        )
        .await,
        owned(&[("production", 11), ("experimental", 1)])
    );
}

#[tokio::test]
async fn production_components_of_system_payments_paged_is_one_query() {
    let server = demo_server().await;
    let filter = json!({
        "kind": ["Component"],
        "system": ["payments"],
        "path": [{ "path": "spec.lifecycle", "eq": "production" }],
    });
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = server
            .data(
                LIST,
                json!({ "filter": filter, "first": 3, "after": after }),
            )
            .await;
        let connection = &data["entities"];
        assert_eq!(connection["totalCount"], json!(7));
        let nodes: Vec<Value> = connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        pages.push(strings(&Value::Array(nodes), Some("name")));
        if connection["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(pages.len() < 10, "the pages end");
    }
    assert_eq!(
        pages,
        vec![
            vec!["card-tokenizer", "fx-rates-service", "ledger-reconciler"],
            vec!["payments-client-js", "payments-gateway", "payments-ledger"],
            vec!["payouts-service"],
        ]
    );
}

#[tokio::test]
async fn every_new_input_is_bounded_with_the_field_and_the_limit_named() {
    let server = demo_server().await;
    let refused = |filter: Value| {
        let server = &server;
        async move {
            let body = server
                .call(LIST, json!({ "filter": filter, "first": 1 }), None)
                .await;
            (
                first_code(&body),
                body["errors"][0]["message"].as_str().unwrap().to_string(),
            )
        }
    };
    let long = "a".repeat(257);
    assert_eq!(
        refused(json!({ "path": [{ "path": long, "exists": true }] })).await,
        (
            "INVALID_ARGUMENT".to_string(),
            "filter.path[0].path: the path is 257 bytes; the limit is 256".to_string()
        )
    );
    let deep = vec!["a"; 17].join(".");
    assert_eq!(
        refused(json!({ "and": [{ "path": [{ "path": deep, "exists": true }] }] }))
            .await
            .1,
        "filter.and[0].path[0].path: the path has 17 segments; the limit is 16"
    );
    let many: Vec<String> = (0..101).map(|i| format!("v{i}")).collect();
    assert_eq!(
        refused(json!({ "path": [{ "path": "spec.type", "in": many }] }))
            .await
            .1,
        "filter.path[0].in: the list has 101 values; the limit is 100"
    );
    assert_eq!(
        refused(json!({ "path": [{ "path": "spec.type", "eq": "x".repeat(1025) }] }))
            .await
            .1,
        "filter.path[0].eq: a value is 1025 bytes; the limit is 1024"
    );
    let systems: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    assert_eq!(
        refused(json!({ "system": systems })).await.1,
        "filter.system: the list has 101 values; the limit is 100"
    );
    assert_eq!(
        refused(json!({ "path": [{ "path": "spec.type", "eq": "a", "exists": true }] }))
            .await
            .1,
        "filter.path[0] takes exactly one of eq, in and exists"
    );
    let (code, message) =
        refused(json!({ "relation": [{ "type": "partof", "target": "system:payments" }] })).await;
    assert_eq!(code, "INVALID_ARGUMENT");
    assert!(
        message.starts_with(
            "filter.relation[0].type: \"partof\" is no relation type; did you mean \"partOf\"?"
        ),
        "{message}"
    );
    let (code, message) =
        refused(json!({ "relation": [{ "type": "partOf", "target": "payments" }] })).await;
    assert_eq!(code, "INVALID_REF");
    assert!(
        message.starts_with("filter.relation[0].target: "),
        "{message}"
    );
    // Facets: exactly one of field and path; the path bounded alike.
    let body = server
        .call(
            FACETS,
            json!({ "field": "KIND", "path": "spec.type" }),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_ARGUMENT");
    assert_eq!(
        body["errors"][0]["message"],
        "facets takes exactly one of field and path"
    );
    let body = server
        .call(FACETS, json!({ "path": "spec..type" }), None)
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "path: the path \"spec..type\" has an empty segment (a leading, trailing or doubled dot)"
    );
}

#[tokio::test]
async fn a_get_asking_processing_errors_gets_no_etag_even_through_variables() {
    let server = demo_server().await;
    let client = reqwest::Client::new();
    let get = |filter: Value| {
        client
            .get(server.graphql_url())
            .query(&[
                ("query", LIST.to_string()),
                ("variables", json!({ "filter": filter }).to_string()),
            ])
            .header("accept", "application/json")
            .send()
    };
    // Operational state (SQL, not the snapshot): its answer is not a function of the
    // position the tag is made of.
    let errors = get(json!({ "hasProcessingErrors": true })).await.unwrap();
    assert_eq!(errors.status(), 200);
    assert!(errors.headers().get("etag").is_none());
    let body: Value = errors.json().await.unwrap();
    assert_eq!(body["data"]["entities"]["totalCount"], json!(0), "{body:#}");
    let dangling = get(json!({ "hasDanglingRelations": true })).await.unwrap();
    assert_eq!(dangling.status(), 200);
    assert!(dangling.headers().get("etag").is_some());
}
