//! Transitive dependency walks: depth, paths, cycles, truncation, impact, APIs.

use super::support::{demo_server, first_code, strings};
use serde_json::{json, Value};

const WALK: &str = r#"
query Walk($ref: String!, $depth: Int, $direction: DependencyDirection, $kinds: [String!], $via: Boolean) {
  entity(ref: $ref) {
    dependencies(depth: $depth, direction: $direction, kinds: $kinds, viaApis: $via) {
      truncated
      items { ref depth path via entity { name } }
    }
    dependencyGraph(depth: $depth, direction: $direction, kinds: $kinds, viaApis: $via) {
      truncated
      nodes { ref depth }
      edges { source target via }
    }
  }
}"#;

fn by_ref<'a>(items: &'a Value, entity_ref: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ref"] == entity_ref)
        .unwrap_or_else(|| panic!("{entity_ref} not in {items:#}"))
}

#[tokio::test]
async fn transitive_dependencies_walk_through_a_cycle_once() {
    let server = demo_server().await;
    let data = server
        .data(WALK, json!({ "ref": "component:route-planner" }))
        .await;
    let walk = &data["entity"]["dependencies"];
    assert_eq!(walk["truncated"], false);
    let items = &walk["items"];
    let reached: Vec<(String, i64)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["ref"].as_str().unwrap().to_string(),
                i["depth"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reached,
        [
            ("component:default/eta-predictor".to_string(), 1),
            ("resource:default/routing-graph-db".to_string(), 1),
            ("component:default/traffic-feed-ingestor".to_string(), 2),
            ("resource:default/events-bus".to_string(), 3),
        ],
        "each entity once, at its smallest depth; the root is not its own dependency"
    );
    assert_eq!(
        strings(
            &by_ref(items, "component:default/traffic-feed-ingestor")["path"],
            None
        ),
        [
            "component:default/route-planner",
            "component:default/eta-predictor",
            "component:default/traffic-feed-ingestor"
        ]
    );
    assert_eq!(
        by_ref(items, "resource:default/events-bus")["entity"]["name"],
        "events-bus"
    );

    // The graph closes the cycle with an edge back to the root.
    let graph = &data["entity"]["dependencyGraph"];
    assert_eq!(
        graph["nodes"][0],
        json!({ "ref": "component:default/route-planner", "depth": 0 })
    );
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 5);
    let edges = graph["edges"].as_array().unwrap();
    assert!(edges.contains(&json!({
        "source": "component:default/traffic-feed-ingestor",
        "target": "component:default/route-planner",
        "via": null
    })));
    assert_eq!(edges.len(), 5);

    // Cut at depth 2: events-bus lies beyond, so the walk says it was truncated.
    let data = server
        .data(
            WALK,
            json!({ "ref": "component:route-planner", "depth": 2 }),
        )
        .await;
    assert_eq!(data["entity"]["dependencies"]["truncated"], true);
    assert_eq!(
        data["entity"]["dependencies"]["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn the_longest_chain_impact_and_kinds() {
    let server = demo_server().await;
    let data = server
        .data(
            WALK,
            json!({ "ref": "component:storefront-web", "kinds": ["Resource"] }),
        )
        .await;
    let items = &data["entity"]["dependencies"]["items"];
    let deepest = by_ref(items, "resource:default/pg-cluster-main");
    assert_eq!(deepest["depth"], 6);
    assert_eq!(strings(&deepest["path"], None).len(), 7);
    assert!(strings(items, Some("ref"))
        .iter()
        .all(|r| r.starts_with("resource:")));

    // Impact: what depends on events-bus directly.
    let data = server
        .data(
            WALK,
            json!({ "ref": "resource:events-bus", "depth": 1, "direction": "INCOMING" }),
        )
        .await;
    let direct = strings(&data["entity"]["dependencies"]["items"], Some("ref"));
    assert_eq!(direct.len(), 12);
    assert!(direct.contains(&"component:partners/carrier-gateway".to_string()));
    // Incoming edges are still drawn dependent -> dependency; edges between
    // the dependents themselves are drawn too.
    let edges = data["entity"]["dependencyGraph"]["edges"]
        .as_array()
        .unwrap();
    let into_bus = edges
        .iter()
        .filter(|e| e["target"] == "resource:default/events-bus")
        .count();
    assert_eq!(into_bus, 12);
    assert!(edges
        .iter()
        .all(|e| e["source"] != "resource:default/events-bus"));
}

#[tokio::test]
async fn via_apis_counts_consumed_apis_as_dependencies() {
    let server = demo_server().await;
    let plain = server
        .data(
            WALK,
            json!({ "ref": "component:shipping-quote-service", "depth": 1 }),
        )
        .await;
    assert_eq!(
        strings(&plain["entity"]["dependencies"]["items"], Some("ref")),
        ["component:default/route-planner"]
    );
    let via = server
        .data(
            WALK,
            json!({ "ref": "component:shipping-quote-service", "depth": 1, "via": true }),
        )
        .await;
    let items = &via["entity"]["dependencies"]["items"];
    let carrier = by_ref(items, "component:partners/carrier-gateway");
    assert_eq!(carrier["via"], "api:partners/carrier-rates-api");
    // route-planner is also a direct dependency: the direct edge wins.
    assert!(by_ref(items, "component:default/route-planner")["via"].is_null());

    let body = server
        .call(
            WALK,
            json!({ "ref": "component:route-planner", "depth": 99 }),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_ARGUMENT");
}
