//! The error gate: internal failures say "internal error" with a code, and no
//! SQL or driver text reaches the client.

use super::support::demo_server;
use serde_json::{json, Value};

#[tokio::test]
async fn internal_errors_say_internal_error_and_leak_no_sql() {
    let server = demo_server().await;
    // Break what is read from SQL under the server: processing errors (operational
    // state, not in the in-memory catalog, which answers the entity and its owner).
    sqlx::query("ALTER TABLE processing_errors RENAME TO processing_errors_moved_away")
        .execute(&server.db.owner)
        .await
        .unwrap();
    let response = server
        .post(
            json!({ "query": r#"{ entity(ref: "component:cart-service") { name ... on Component { owner { name } errors { message } } } processingErrors { message } }"# }),
            None,
            None,
        )
        .await;
    assert_eq!(response.status(), 200, "the request itself was valid");
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    let errors = body["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(error["message"], "internal error");
        assert_eq!(error["extensions"]["code"], "INTERNAL");
    }
    let paths: Vec<&Value> = errors.iter().map(|e| &e["path"][0]).collect();
    assert!(
        paths.contains(&&json!("entity")) && paths.contains(&&json!("processingErrors")),
        "{body:#}"
    );
    for leak in [
        "relation",
        "does not exist",
        "moved_away",
        "SELECT",
        "sqlx",
        "database",
        "postgres",
    ] {
        assert!(!text.contains(leak), "{leak:?} leaked into {text}");
    }
}

/// Every error has a code from the closed set and 1-based locations (or none), and the
/// HTTP status follows the GraphQL-over-HTTP spec for both media types.
#[tokio::test]
async fn every_error_has_a_code_locations_from_one_and_the_spec_status() {
    let server = demo_server().await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        // An argument that does not coerce (a literal): a request error.
        (
            r#"{ entities(orderBy: "name", first: 1) { totalCount } }"#,
            json!({}),
            400,
            "INVALID_ARGUMENT",
        ),
        // A variable that does not coerce to its type.
        (
            r#"query($t: DateTime) { entity(ref: "component:cart-service", asOf: $t) { name } }"#,
            json!({ "t": "yesterday" }),
            400,
            "INVALID_ARGUMENT",
        ),
        // An undefined variable.
        (
            r#"{ entity(ref: $nowhere) { name } }"#,
            json!({}),
            400,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        // A subscription over HTTP.
        (
            r#"subscription { events { position } }"#,
            json!({}),
            400,
            "BAD_REQUEST",
        ),
        // A variable of an unknown type.
        (
            r#"query($x: Nope) { __typename }"#,
            json!({ "x": 1 }),
            400,
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for accept in ["application/json", "application/graphql-response+json"] {
        for (query, variables, status, code) in &cases {
            let response = server
                .post(
                    json!({ "query": query, "variables": variables }),
                    None,
                    Some(accept),
                )
                .await;
            let got = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            assert_eq!(got, *status, "{accept} {query}: {body:#}");
            assert!(body.get("data").is_none(), "{query}: {body:#}");
            let errors = body["errors"].as_array().unwrap();
            assert_eq!(errors[0]["extensions"]["code"], *code, "{query}: {body:#}");
            for error in errors {
                assert!(error["extensions"]["code"].is_string(), "{query}: {body:#}");
                for location in error["locations"].as_array().into_iter().flatten() {
                    assert!(
                        location["line"].as_u64() >= Some(1)
                            && location["column"].as_u64() >= Some(1),
                        "{query}: {body:#}"
                    );
                }
            }
        }
    }
    // A variables value that is not an object: a request error too.
    let response = server
        .post(
            json!({ "query": "{ __typename }", "variables": [1] }),
            None,
            None,
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}
