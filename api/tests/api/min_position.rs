//! Read-your-writes across servers: a mutation says the position its writes reached
//! (`extensions.writtenPosition`); a read sent with `Almanac-Min-Position` is answered
//! from a snapshot at or past it, or refused with `POSITION_NOT_REACHED`.

use super::support::{auth, first_code, replica, server};
use almanac_api::GraphqlLimits;
use serde_json::{json, Value};

const READ: &str = r#"{ entity(ref: "component:default/written-on-a") { ref } }"#;

async fn read_with(url: &str, min_position: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/graphql"))
        .header("accept", "application/graphql-response+json")
        .header("almanac-min-position", min_position)
        .json(&json!({ "query": READ }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_read_on_a_second_server_with_the_written_position_sees_the_write() {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["alpha".into()];
    let primary = server(config, GraphqlLimits::default(), false).await;
    let (replica_url, _stop) = replica(&primary, GraphqlLimits::default()).await;

    let documents = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  \
                     name: written-on-a\nspec:\n  type: service\n  lifecycle: production\n  \
                     owner: team-a\n";
    let pushed = primary.push_to_alpha(documents).await;
    let written = pushed["extensions"]["writtenPosition"]
        .as_i64()
        .unwrap_or_else(|| panic!("no writtenPosition: {pushed:#}"));
    // Past the snapshot the mutation started on: its own appends are in it.
    assert!(written > pushed["extensions"]["position"].as_i64().unwrap());

    let (status, body) = read_with(&replica_url, &written.to_string()).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        body["data"]["entity"]["ref"],
        json!("component:default/written-on-a"),
        "{body:#}"
    );
    let position = body["extensions"]["position"].as_i64().unwrap();
    assert!(
        position >= written,
        "read at {position}, written at {written}"
    );
}

#[tokio::test]
async fn a_position_the_server_does_not_reach_in_time_is_a_typed_error() {
    let limits = GraphqlLimits {
        min_position_wait_ms: 200,
        ..GraphqlLimits::default()
    };
    let server = server(auth(true), limits, false).await;
    let head = server.call(READ, json!({}), None).await["extensions"]["position"]
        .as_i64()
        .unwrap();
    let asked = head + 1_000_000;

    let (status, body) = read_with(&server.url, &asked.to_string()).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(first_code(&body), "POSITION_NOT_REACHED");
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["minPosition"], json!(asked));
    assert_eq!(extensions["position"], json!(head));
    assert_eq!(body["data"], json!(null), "the read did not run: {body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("graphql.min_position_wait_ms"),
        "{message}"
    );
}

#[tokio::test]
async fn a_malformed_min_position_header_is_a_bad_request() {
    let server = server(auth(true), GraphqlLimits::default(), false).await;
    for bad in ["abc", "-1", "1.5", "+3", ""] {
        let (status, body) = read_with(&server.url, bad).await;
        assert_eq!(status, 400, "{bad:?}: {body:#}");
        assert_eq!(first_code(&body), "BAD_REQUEST", "{bad:?}");
        assert!(body.get("data").is_none(), "{body:#}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("Almanac-Min-Position"), "{message}");
    }
    let (status, body) = read_with(&server.url, "0").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["entity"], json!(null));
}
