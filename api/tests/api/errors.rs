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
