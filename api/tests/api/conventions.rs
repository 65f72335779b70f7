//! Client conventions: Apollo's automatic persisted queries, ETags on GET with 304
//! for `If-None-Match`, and top-level fields in the order asked.

use super::support::demo_server;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const QUERY: &str = r#"query Cart { entity(ref: "component:cart-service") { name } }"#;

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn a_persisted_query_is_not_found_then_found_once_registered() {
    let server = demo_server().await;
    let hash = hex::encode(Sha256::digest(QUERY.as_bytes()));
    for accept in ["application/json", "application/graphql-response+json"] {
        let unknown = hex::encode(Sha256::digest(format!("{accept}{QUERY}").as_bytes()));
        let response = server
            .post(json!({ "extensions": apq(&unknown) }), None, Some(accept))
            .await;
        // 200, as Apollo Server answers: Apollo Client stops using APQ on a 400.
        assert_eq!(response.status(), 200, "{accept}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "errors": [{ "message": "PersistedQueryNotFound",
                                  "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" } }] })
        );
    }

    // Registered by sending the query with its hash, then run by hash alone, by POST
    // and by GET.
    let registered = server
        .post(
            json!({ "query": QUERY, "extensions": apq(&hash) }),
            None,
            None,
        )
        .await;
    assert_eq!(registered.status(), 200);
    let body: Value = registered.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "cart-service");
    let by_hash: Value = server
        .post(json!({ "extensions": apq(&hash) }), None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        by_hash["data"]["entity"]["name"], "cart-service",
        "{by_hash:#}"
    );
    let by_get: Value = reqwest::Client::new()
        .get(server.graphql_url())
        .query(&[("extensions", apq(&hash).to_string())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        by_get["data"]["entity"]["name"], "cart-service",
        "{by_get:#}"
    );

    // A query that does not match its hash is refused, and not registered.
    let wrong = server
        .post(
            json!({ "query": "{ __typename }", "extensions": apq(&"0".repeat(64)) }),
            None,
            None,
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body:#}"
    );
}

#[tokio::test]
async fn get_responses_carry_an_etag_and_answer_if_none_match_with_304() {
    let server = demo_server().await;
    let client = reqwest::Client::new();
    let get = |etag: Option<String>, query: &'static str| {
        let mut request = client
            .get(server.graphql_url())
            .query(&[("query", query)])
            .header("accept", "application/json");
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = get(None, QUERY).await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let again = get(None, QUERY).await.unwrap();
    assert_eq!(
        again.headers()["etag"].to_str().unwrap(),
        etag,
        "the same query, position"
    );

    let unchanged = get(Some(etag.clone()), QUERY).await.unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag);
    assert!(unchanged.text().await.unwrap().is_empty());

    // Another query has another tag; a write moves the position, so the old tag is stale.
    let other = get(None, "{ __typename }").await.unwrap();
    assert_ne!(other.headers()["etag"].to_str().unwrap(), etag);
    server
        .push_to(
            "ci-bot",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: fresh\n\
             spec: { type: service, lifecycle: production, owner: team-a }\n",
        )
        .await;
    let changed = get(Some(etag.clone()), QUERY).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn top_level_fields_come_back_in_the_order_asked() {
    let server = demo_server().await;
    let query = r#"{ z: entity(ref: "component:cart-service") { name }
                     a: entities(first: 1) { totalCount }
                     m: __typename
                     b: entity(ref: "api:cart-api") { name } }"#;
    let response = server
        .post(json!({ "query": query }), None, Some("application/json"))
        .await;
    let text = response.text().await.unwrap();
    let positions: Vec<usize> = ["\"z\"", "\"a\"", "\"m\"", "\"b\""]
        .iter()
        .map(|key| text.find(key).unwrap_or_else(|| panic!("{key} in {text}")))
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "{text}");
}
