//! GraphQL over HTTP and WebSocket as the specs say, tokens at the door.

use super::support::{auth, demo_server, first_code, server, READER};
use almanac_api::GraphqlLimits;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const QUERY: &str = r#"{ entity(ref: "component:cart-service") { name } }"#;

fn content_type(response: &reqwest::Response) -> String {
    response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_accept_header_chooses_the_media_type() {
    let server = demo_server().await;
    let json_only = server
        .post(json!({ "query": QUERY }), None, Some("application/json"))
        .await;
    assert_eq!(json_only.status(), 200);
    assert_eq!(content_type(&json_only), "application/json; charset=utf-8");
    let body: Value = json_only.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "cart-service");

    let spec = server
        .post(
            json!({ "query": QUERY }),
            None,
            Some("application/graphql-response+json"),
        )
        .await;
    assert_eq!(
        content_type(&spec),
        "application/graphql-response+json; charset=utf-8"
    );
    let neither = server
        .post(json!({ "query": QUERY }), None, Some("text/html"))
        .await;
    assert_eq!(neither.status(), 406);
}

#[tokio::test]
async fn requests_that_do_not_parse_or_validate_get_400() {
    let server = demo_server().await;
    for accept in ["application/json", "application/graphql-response+json"] {
        let response = server
            .post(json!({ "query": "{ entity(ref: " }), None, Some(accept))
            .await;
        assert_eq!(response.status(), 400, "{accept}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_code(&body), "GRAPHQL_PARSE_FAILED");
        assert!(
            body.get("data").is_none(),
            "a request error has no data: {body:#}"
        );
    }
    let response = server
        .post(json!({ "query": "{ noSuchField }" }), None, None)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        first_code(&response.json().await.unwrap()),
        "GRAPHQL_VALIDATION_FAILED"
    );
    let response = server
        .post(json!(["not", "a", "request"]), None, None)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(first_code(&response.json().await.unwrap()), "BAD_REQUEST");
}

#[tokio::test]
async fn limits_refuse_deep_queries_big_pages_and_slow_ones() {
    let server = demo_server().await;
    // 20 levels of relations -> target -> relations -> ...
    let mut deep = String::from("name");
    for _ in 0..10 {
        deep = format!("relations {{ target {{ {deep} }} }}");
    }
    let query = format!(r#"{{ entity(ref: "group:kestrelmoor") {{ {deep} }} }}"#);
    let response = server.post(json!({ "query": query }), None, None).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(first_code(&body), "DEPTH_LIMIT_EXCEEDED", "{body:#}");

    let body = server
        .call("{ entities(first: 501) { totalCount } }", json!({}), None)
        .await;
    assert_eq!(first_code(&body), "PAGE_SIZE_EXCEEDED");

    let costly =
        "{ entities(first: 500) { nodes { relations { target { relations { targetRef } } } } } }";
    let small = GraphqlLimits {
        max_complexity: 1_000,
        ..GraphqlLimits::default()
    };
    let limited = server_with_limits(small).await;
    let response = limited.post(json!({ "query": costly }), None, None).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        first_code(&response.json().await.unwrap()),
        "COMPLEXITY_LIMIT_EXCEEDED"
    );

    let hurried = server_with_limits(GraphqlLimits {
        query_timeout_ms: 0,
        ..GraphqlLimits::default()
    })
    .await;
    // A read through the request's SQL budget, which refuses to start a statement
    // once the deadline has passed (the catalog answers from memory, and a bare
    // timer racing an in-flight read would make this test flaky).
    let body = hurried
        .call(
            "{ processingErrors(first: 10) { message } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "TIMEOUT");
}

async fn server_with_limits(limits: GraphqlLimits) -> super::support::TestServer {
    server(auth(true), limits, false).await
}

#[tokio::test]
async fn get_runs_queries_only() {
    let server = demo_server().await;
    let client = reqwest::Client::new();
    let response = client
        .get(server.graphql_url())
        .query(&[("query", QUERY)])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "cart-service");

    let mutation = r#"mutation { deleteEntity(ref: "component:cart-service") { __typename } }"#;
    let response = client
        .get(server.graphql_url())
        .query(&[("query", mutation)])
        .bearer_auth(super::support::WRITER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        first_code(&response.json().await.unwrap()),
        "METHOD_NOT_ALLOWED"
    );
    let still_there = server.data(QUERY, json!({})).await;
    assert_eq!(still_there["entity"]["name"], "cart-service");
}

#[tokio::test]
async fn tokens_are_checked_and_anonymous_reads_can_be_refused() {
    let server = server(auth(false), GraphqlLimits::default(), false).await;
    let anonymous = server
        .post(json!({ "query": "{ locations { id } }" }), None, None)
        .await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        first_code(&anonymous.json().await.unwrap()),
        "UNAUTHENTICATED"
    );
    let unknown = server
        .post(
            json!({ "query": "{ locations { id } }" }),
            Some("guess"),
            None,
        )
        .await;
    assert_eq!(unknown.status(), 401);
    let reader = server
        .post(
            json!({ "query": "{ locations { id } }" }),
            Some(READER),
            None,
        )
        .await;
    assert_eq!(reader.status(), 200);
    assert_eq!(
        reader.json::<Value>().await.unwrap(),
        json!({ "data": { "locations": [] }, "extensions": { "position": 0 } })
    );
}

#[tokio::test]
async fn graphql_transport_ws_acknowledges_and_runs_operations() {
    let server = demo_server().await;
    let url = server.graphql_url().replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );

    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init", "payload": {} })))
        .await
        .unwrap();
    let ack = next_json(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack");

    socket
        .send(send(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": QUERY } }),
        ))
        .await
        .unwrap();
    let next = next_json(&mut socket).await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["id"], "1");
    assert_eq!(next["payload"]["data"]["entity"]["name"], "cart-service");
    let complete = next_json(&mut socket).await;
    assert_eq!(complete, json!({ "id": "1", "type": "complete" }));
    socket.close(None).await.unwrap();
}

async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}
