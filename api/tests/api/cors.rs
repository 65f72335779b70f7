//! Browser portals on other origins: CORS preflights and requests from an allowed and a
//! refused origin, and WebSocket upgrades checked against the same list.

use super::support::cors_server;
use almanac_api::CorsConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const QUERY: &str = r#"{ entity(ref: "component:cart-service") { name } }"#;

fn config() -> CorsConfig {
    CorsConfig {
        origin: vec![
            "http://localhost:3000".into(),
            "https://*.portal.example".into(),
        ],
        methods: vec!["GET".into(), "POST".into()],
        credentials: true,
        max_age: Some(600),
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn preflight(url: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

async fn post_from(url: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("origin", origin)
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn allowed_origins_get_the_cors_headers_and_refused_ones_none() {
    let server = cors_server(config()).await;
    let url = server.graphql_url();
    for origin in ["http://localhost:3000", "https://team-a.portal.example"] {
        let response = preflight(&url, origin).await;
        assert_eq!(response.status(), 204, "{origin}");
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert_eq!(
            header(&response, "access-control-allow-methods").as_deref(),
            Some("GET, POST")
        );
        assert_eq!(
            header(&response, "access-control-allow-headers").as_deref(),
            Some("authorization, content-type")
        );
        assert_eq!(
            header(&response, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        assert_eq!(
            header(&response, "access-control-max-age").as_deref(),
            Some("600")
        );

        let response = post_from(&url, origin).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert_eq!(
            header(&response, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        assert!(header(&response, "vary").unwrap().contains("origin"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["entity"]["name"], "cart-service");
    }

    for origin in [
        "http://localhost:3001",
        "https://portal.example",
        "https://evil.example",
        "null",
    ] {
        let response = preflight(&url, origin).await;
        assert_eq!(response.status(), 403, "{origin}");
        let cors_headers: Vec<String> = response
            .headers()
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| k.starts_with("access-control-"))
            .collect();
        assert!(cors_headers.is_empty(), "{origin}: {cors_headers:?}");

        // The request itself is answered (CORS is the browser's rule), without the
        // headers, so a browser keeps the answer from the page.
        let response = post_from(&url, origin).await;
        assert_eq!(response.status(), 200);
        assert!(
            header(&response, "access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let server = cors_server(CorsConfig::default()).await;
    let response = preflight(&server.graphql_url(), "http://localhost:3000").await;
    assert_eq!(response.status(), 403);
    assert!(header(&response, "access-control-allow-origin").is_none());
    let response = post_from(&server.graphql_url(), "http://localhost:3000").await;
    assert!(header(&response, "access-control-allow-origin").is_none());
}

async fn upgrade(url: &str, origin: Option<&str>) -> Result<u16, u16> {
    let mut request = url
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_socket, response)) => Ok(response.status().as_u16()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("unexpected WebSocket failure: {other}"),
    }
}

#[tokio::test]
async fn websocket_upgrades_check_the_origin_against_the_same_list() {
    let server = cors_server(config()).await;
    let url = server.graphql_url();
    let own = server.url.clone();
    assert_eq!(upgrade(&url, Some("https://evil.example")).await, Err(403));
    assert_eq!(upgrade(&url, Some("http://localhost:3001")).await, Err(403));
    assert_eq!(upgrade(&url, Some("http://localhost:3000")).await, Ok(101));
    assert_eq!(
        upgrade(&url, Some("https://team-a.portal.example")).await,
        Ok(101)
    );
    // The server's own pages (the explorer) and clients that send no Origin.
    assert_eq!(upgrade(&url, Some(&own)).await, Ok(101));
    assert_eq!(upgrade(&url, None).await, Ok(101));

    // With CORS off, only the server's own origin (and non-browsers).
    let closed = cors_server(CorsConfig::default()).await;
    let url = closed.graphql_url();
    assert_eq!(upgrade(&url, Some("http://localhost:3000")).await, Err(403));
    assert_eq!(upgrade(&url, Some(&closed.url)).await, Ok(101));
}
