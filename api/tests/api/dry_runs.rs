//! Dry runs: `validateEntities` makes every check a push makes and writes nothing.

use super::support::{auth, server, WRITER};
use almanac_api::GraphqlLimits;
use serde_json::json;

const VALIDATE: &str = r#"
mutation Validate($documents: String!, $source: String, $expected: [ExpectedVersion!]) {
  validateEntities(documents: $documents, source: $source, expectedVersions: $expected) {
    valid refs
    errors { document entityRef field message }
    conflicts { entityRef existingSource newSource }
    versionConflicts { ref expected actual }
  }
}"#;

fn component(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

#[tokio::test]
async fn validate_entities_reports_what_a_push_would_refuse_and_writes_nothing() {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["alpha".into(), "beta".into()];
    let server = server(config, GraphqlLimits::default(), false).await;
    server.push_to("alpha", &component("held", "team-a")).await;
    let head = server.db.log().head_position().await.unwrap();

    // Valid: the refs a push would write, nothing else.
    let good = server
        .mutate(
            VALIDATE,
            json!({ "documents": format!("{}---\n{}", component("held", "team-b"), component("fresh", "team-a")),
                    "source": "alpha", "expected": [{ "ref": "component:held", "version": 1 }] }),
        )
        .await;
    assert_eq!(
        good["validateEntities"],
        json!({ "valid": true, "refs": ["component:default/held", "component:default/fresh"],
                "errors": [], "conflicts": [], "versionConflicts": [] })
    );

    // A document without spec.owner: named by document index and field.
    let bad = format!(
        "{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ownerless\n\
         spec:\n  type: service\n  lifecycle: production\n",
        component("fine", "team-a")
    );
    let invalid = server
        .mutate(VALIDATE, json!({ "documents": bad, "source": "alpha" }))
        .await;
    let report = &invalid["validateEntities"];
    assert_eq!(report["valid"], false, "{report:#}");
    assert_eq!(report["errors"][0]["document"], 1, "{report:#}");
    assert_eq!(report["errors"][0]["field"], "spec.owner", "{report:#}");

    // Another source claims it, and the expected version is stale.
    let claimed = server
        .mutate(
            VALIDATE,
            json!({ "documents": component("held", "team-b"), "source": "beta",
                    "expected": [{ "ref": "component:held", "version": 3 }] }),
        )
        .await;
    assert_eq!(
        claimed["validateEntities"],
        json!({ "valid": false, "refs": ["component:default/held"], "errors": [],
                "conflicts": [{ "entityRef": "component:default/held",
                                "existingSource": "api:alpha", "newSource": "api:beta" }],
                "versionConflicts": [{ "ref": "component:default/held", "expected": 3, "actual": 1 }] })
    );

    // A source the token may not push to: the push's FORBIDDEN.
    let forbidden = server
        .call(
            VALIDATE,
            json!({ "documents": component("x", "team-a"), "source": "not-mine" }),
            Some(WRITER),
        )
        .await;
    assert_eq!(
        super::support::first_code(&forbidden),
        "FORBIDDEN",
        "{forbidden:#}"
    );

    assert_eq!(
        server.db.log().head_position().await.unwrap(),
        head,
        "a dry run appends nothing"
    );
    let still = server
        .data(r#"{ entity(ref: "component:held") { version spec } fresh: entity(ref: "component:fresh") { ref } }"#, json!({}))
        .await;
    assert_eq!(still["entity"]["version"], 1);
    assert_eq!(still["entity"]["spec"]["owner"], "team-a");
    assert_eq!(still["fresh"], json!(null));
}

const ANALYZE: &str = r#"
mutation Analyze($type: String!, $target: String!) {
  analyzeLocation(type: $type, target: $target) {
    files register update remove unchanged
    rejected { source entityRef message }
    conflicts { entityRef existingSource newSource }
    failures { source message }
  }
}"#;

#[tokio::test]
async fn analyze_location_says_what_a_read_would_change_and_writes_nothing() {
    let limits = GraphqlLimits {
        allow_file_locations: true,
        ..GraphqlLimits::default()
    };
    let server = server(auth(true), limits, false).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog-info.yaml");
    let key = format!("file:{}", file.display());
    let target = file.display().to_string();
    std::fs::write(
        &file,
        format!(
            "{}---\n{}",
            component("kept", "team-a"),
            component("edited", "team-a")
        ),
    )
    .unwrap();
    let added = server
        .mutate_as(
            super::support::ADMIN,
            r#"mutation($t: String!) { addLocation(type: "file", target: $t) { __typename } }"#,
            json!({ "t": target }),
        )
        .await;
    assert_eq!(added["addLocation"]["__typename"], "LocationSuccess");
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  \
                 name: web\nspec: {}\n";
    std::fs::write(
        &file,
        [
            component("edited", "team-b"),
            component("new", "team-a"),
            route.to_string(),
        ]
        .join("---\n"),
    )
    .unwrap();
    let head = server.db.log().head_position().await.unwrap();

    let analyzed = server
        .mutate_as(
            super::support::ADMIN,
            ANALYZE,
            json!({ "type": "file", "target": target }),
        )
        .await;

    assert_eq!(
        analyzed["analyzeLocation"],
        json!({
            "files": [key],
            "register": ["component:default/new"],
            "update": ["component:default/edited"],
            "remove": ["component:default/kept"],
            "unchanged": 0,
            "rejected": [{
                "source": key,
                "entityRef": "httproute:default/web",
                "message": format!(
                    "document 3: no processor recognized the entity HTTPRoute:default/web as \
                     valid: kind HTTPRoute is not a Backstage kind (apiVersion \
                     gateway.networking.k8s.io/v1 belongs to gateway.networking.k8s.io, not to \
                     a catalog) and no catalog.rules entry allows it for location {key}")
            }],
            "conflicts": [],
            "failures": []
        })
    );
    assert_eq!(server.db.log().head_position().await.unwrap(), head);
    let still = server
        .data(r#"{ entity(ref: "component:kept") { ref } }"#, json!({}))
        .await;
    assert_eq!(still["entity"]["ref"], "component:default/kept");

    // The same scope as addLocation: a writer without admin is refused.
    let refused = server
        .call(
            ANALYZE,
            json!({ "type": "file", "target": target }),
            Some(super::support::WRITER),
        )
        .await;
    assert_eq!(super::support::first_code(&refused), "FORBIDDEN");
}
