//! Live subscriptions over a real `graphql-transport-ws` WebSocket: replay then
//! live with no gap or duplicate, one entity's changes, and the bound on a
//! subscriber that does not read.

use super::history::{apply, writers_server, SECOND_WRITER};
use super::support::{TestServer, WRITER};
use almanac_api::Limits;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &TestServer) -> Socket {
    let url = server.graphql_url().replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    let payload = json!({ "query": query, "variables": variables });
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": payload }),
    )
    .await;
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn head(server: &TestServer) -> i64 {
    let (head,): (Option<i64>,) = sqlx::query_as("SELECT max(position) FROM events")
        .fetch_one(&server.db.pool)
        .await
        .unwrap();
    head.unwrap_or(0)
}

async fn positions_after(server: &TestServer, after: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT position FROM events WHERE position > $1 ORDER BY position")
        .bind(after)
        .fetch_all(&server.db.pool)
        .await
        .unwrap()
}

fn component(name: &str, description: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  \
         description: {description}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

const EVENTS: &str = "subscription($after: Int) { events(afterPosition: $after) { position ref } }";

#[tokio::test]
async fn a_subscription_replays_then_follows_live_without_gap_or_duplicate() {
    let server = writers_server(Limits::default()).await;
    for i in 0..3 {
        apply(&server, WRITER, &component(&format!("early-{i}"), "x")).await;
    }
    let start = head(&server).await - 2;
    let mut socket = connect(&server).await;
    subscribe(&mut socket, "all", EVENTS, json!({ "after": start })).await;
    let one = "subscription { entityChanged(ref: \"component:live-3\") { version type actor } }";
    subscribe(&mut socket, "one", one, json!({})).await;
    let writer = {
        let url = server.graphql_url();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..12 {
                let token = if i % 2 == 0 { WRITER } else { SECOND_WRITER };
                let query = r#"mutation($d: String!) { applyEntities(documents: $d, source: "shared") { __typename } }"#;
                let body = json!({ "query": query, "variables": { "d": component(&format!("live-{}", i % 6), &format!("round {i}")) } });
                let response = client
                    .post(&url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    let mut received = Vec::new();
    let mut changed = Vec::new();
    writer.await.unwrap();
    let expected = positions_after(&server, start).await;
    while received.len() < expected.len() || changed.len() < 2 {
        let message = next_json(&mut socket).await;
        assert_eq!(message["type"], "next", "{message:#}");
        match message["id"].as_str().unwrap() {
            "all" => received.push(
                message["payload"]["data"]["events"]["position"]
                    .as_i64()
                    .unwrap(),
            ),
            _ => changed.push(message["payload"]["data"]["entityChanged"].clone()),
        }
    }
    assert_eq!(received, expected, "every event after P, once, in order");
    assert_eq!(
        changed,
        vec![
            json!({ "version": 1, "type": "EntityRegistered", "actor": "release-bot" }),
            json!({ "version": 2, "type": "EntityUpdated", "actor": "release-bot" }),
        ]
    );
}

#[tokio::test]
async fn a_slow_subscriber_is_ended_with_a_resume_position_and_resumes_without_gap() {
    let limits = Limits {
        subscription_buffer: 5,
        subscription_grace_ms: 200,
        ..Limits::default()
    };
    let server = writers_server(limits).await;
    let start = head(&server).await;
    let mut socket = connect(&server).await;
    let heavy = "subscription($after: Int) { events(afterPosition: $after) { position changes { newValue } } }";
    subscribe(&mut socket, "slow", heavy, json!({ "after": start })).await;
    // The client reads nothing while some megabytes of events are appended.
    let padding = "p".repeat(8_000);
    for batch in 0..4 {
        let documents: Vec<String> = (0..500)
            .map(|i| component(&format!("bulk-{batch}-{i}"), &padding))
            .collect();
        apply(&server, WRITER, &documents.join("---\n")).await;
    }
    let mut received = Vec::new();
    let error = loop {
        let message = next_json(&mut socket).await;
        assert_eq!(
            message["type"],
            "next",
            "{}",
            &message.to_string()[..200.min(message.to_string().len())]
        );
        let payload = &message["payload"];
        if let Some(errors) = payload.get("errors") {
            break errors[0].clone();
        }
        received.push(payload["data"]["events"]["position"].as_i64().unwrap());
    };
    assert_eq!(
        error["extensions"]["code"], "SUBSCRIBER_TOO_SLOW",
        "{error:#}"
    );
    let resume = error["extensions"]["resumeFrom"].as_i64().unwrap();
    assert_eq!(Some(&resume), received.last().or(Some(&start)));
    let all = positions_after(&server, start).await;
    assert!(
        received.len() < all.len(),
        "the bound was hit before the end"
    );
    assert_eq!(next_json(&mut socket).await["type"], "complete");

    subscribe(&mut socket, "resumed", EVENTS, json!({ "after": resume })).await;
    while received.len() < all.len() {
        let message = next_json(&mut socket).await;
        assert_eq!(message["type"], "next", "{message:#}");
        received.push(
            message["payload"]["data"]["events"]["position"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(received, all, "no gap, no duplicate across the resume");
}
