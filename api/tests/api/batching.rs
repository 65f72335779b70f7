//! A page of 100 components with owner, system, dependencies and walks costs no
//! SQL for its hops: every hop reads the operation's pinned snapshot (statements
//! counted by the catalog module).

use super::support::{auth, server};
use almanac_api::GraphqlLimits;
use serde_json::json;

#[tokio::test]
async fn a_page_of_100_components_with_every_hop_costs_no_sql_for_the_hops() {
    let server = server(auth(true), GraphqlLimits::default(), false).await;
    server.ingest_demo().await;
    // The demo has 61 components: push 60 more so a page holds 100.
    let documents: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: extra-{i:02}\n\
                 spec:\n  type: service\n  lifecycle: production\n  owner: team-sre\n  system: platform-infra\n  \
                 dependsOn: [component:extra-{next:02}, resource:events-bus]\n",
                next = (i + 1) % 60
            )
        })
        .collect();
    let pushed = server
        .mutate(
            "mutation($d: String!) { applyEntities(documents: $d) { __typename ... on ApplySuccess { registered } } }",
            json!({ "d": documents.join("---\n") }),
        )
        .await;
    assert_eq!(pushed["applyEntities"]["registered"], 60, "{pushed:#}");

    let page = |fields: &str| {
        format!(
            r#"{{ entities(filter: {{ kind: "Component" }}, first: 100) {{ totalCount nodes {{ ref {fields} }} }} }}"#
        )
    };
    let hops = page(
        r#"... on Component {
            owner { ref ... on Group { profile { email } parent { ref } } }
            system { ref domain { ref } }
            dependsOn { ref }
            dependents { ref }
            providesApis { ref }
            relations { type target { ref } }
            dependencies(depth: 3) { truncated items { ref depth entity { ref } } }
          }"#,
    );
    // The page itself (list and count) is what it costs without the hops.
    let before = server.state.statements.get();
    server.data(&page(""), json!({})).await;
    let bare = server.state.statements.get() - before;

    let before = server.state.statements.get();
    let data = server.data(&hops, json!({})).await;
    let with_hops = server.state.statements.get() - before;
    let nodes = data["entities"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 100);
    assert_eq!(data["entities"]["totalCount"], 121);
    assert!(nodes.iter().all(|n| n["owner"]["ref"].is_string()));
    assert!(nodes
        .iter()
        .all(|n| n["system"]["domain"]["ref"].is_string()));
    let extra = nodes
        .iter()
        .find(|n| n["ref"] == "component:default/extra-00")
        .unwrap();
    assert_eq!(
        extra["dependsOn"],
        json!([{ "ref": "component:default/extra-01" }, { "ref": "resource:default/events-bus" }])
    );
    assert_eq!(
        extra["dependents"],
        json!([{ "ref": "component:default/extra-59" }])
    );
    // Every hop, walk included, reads the pinned snapshot: not one statement more.
    assert_eq!(with_hops, bare, "hops cost {} statements", with_hops - bare);
}
