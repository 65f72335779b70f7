//! The per-client rate limit (`rate_limit:`): a burst over it gets 429 with
//! `Retry-After` (a GraphQL error `RATE_LIMITED` on `/graphql`), other clients
//! (another token, another address) are not touched, scrapes are never
//! limited, and `/metrics` counts each refusal under `limit="rate"`.

use super::operability::scrape;
use super::support::{auth, serve_state, READER};
use almanac_api::{AppState, RateLimitConfig};
use almanac_store::testing::test_db;
use almanac_store::Database;
use serde_json::{json, Value};
use std::net::IpAddr;

/// Three requests at once, then one token back every 10,000 s: a test far
/// quicker than that sees no refill, so every figure below is exact.
const LIMIT: RateLimitConfig = RateLimitConfig {
    requests_per_second: 0.0001,
    burst: 3,
    max_clients: 100,
};

async fn query(client: &reqwest::Client, url: &str, token: Option<&str>) -> reqwest::Response {
    let request = client
        .post(url)
        .json(&json!({ "query": "query Size { entities(first: 1) { totalCount } }" }));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_and_other_clients_do_not() {
    let db = test_db().await;
    let state = AppState::new(Database::new(db.pool.clone()))
        .with_auth(auth(true))
        .with_rate_limit(LIMIT);
    let server = serve_state(db, state).await;
    let graphql = server.graphql_url();
    let anonymous = reqwest::Client::new();

    for _ in 0..3 {
        assert_eq!(query(&anonymous, &graphql, None).await.status(), 200);
    }
    let refused = query(&anonymous, &graphql, None).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "10000");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body:#}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("rate_limit"), "{message}");

    // The same client on the REST API: the same bucket, Backstage's error shape.
    let rest = anonymous
        .get(format!("{}/api/catalog/entities", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 429);
    assert_eq!(rest.headers()["retry-after"], "10000");
    let body: Value = rest.json().await.unwrap();
    assert_eq!(body["error"]["name"], "TooManyRequestsError", "{body:#}");

    // A token names its own client, and so does another address.
    assert_eq!(
        query(&anonymous, &graphql, Some(READER)).await.status(),
        200
    );
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    assert_eq!(query(&elsewhere, &graphql, None).await.status(), 200);

    // Scrapes are not limited (this client has no token left), and they count.
    let metrics = scrape(&server).await;
    assert_eq!(
        metrics.expect("almanac_requests_rejected_total", &[("limit", "rate")]),
        2.0
    );
    assert_eq!(
        metrics.expect(
            "almanac_http_requests_total",
            &[("route", "/graphql"), ("method", "POST"), ("status", "429")]
        ),
        1.0
    );
    // By client: the token's subject, or anonymous (both addresses), never the scrape.
    let clients = "almanac_client_requests_total";
    let anonymous = |status| [("client", "anonymous"), ("status", status)];
    assert_eq!(metrics.expect(clients, &anonymous("2xx")), 4.0);
    assert_eq!(metrics.expect(clients, &anonymous("4xx")), 2.0);
    assert_eq!(
        metrics.expect(clients, &[("client", "dashboard"), ("status", "2xx")]),
        1.0
    );
}

#[tokio::test]
async fn a_server_built_in_code_has_no_rate_limit_until_told() {
    assert!(AppState::new(Database::new(test_db().await.pool.clone()))
        .rate_limit
        .is_off());
    assert!(
        !RateLimitConfig::default().is_off(),
        "almanac serve's default is on"
    );
}
