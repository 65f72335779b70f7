//! Live subscriptions over a real `graphql-transport-ws` WebSocket: replay then
//! live with no gap or duplicate, one entity's changes, and the bound on how
//! many subscriptions one connection holds. (The bound on a subscriber that
//! does not read is tested on the producer itself, in `history/live.rs`.)

use super::history::{apply, writers_server, SECOND_WRITER};
use super::support::{TestServer, WRITER};
use almanac_api::GraphqlLimits;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(super) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(super) async fn connect(server: &TestServer) -> Socket {
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

pub(super) async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    let payload = json!({ "query": query, "variables": variables });
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": payload }),
    )
    .await;
}

pub(super) async fn next_json(socket: &mut Socket) -> Value {
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

const EVENTS: &str =
    "subscription($after: Long) { events(afterPosition: $after) { position ref } }";

#[tokio::test]
async fn a_subscription_replays_then_follows_live_without_gap_or_duplicate() {
    let server = writers_server(GraphqlLimits::default()).await;
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
async fn a_connection_holds_at_most_its_subscription_limit() {
    let limits = GraphqlLimits {
        max_subscriptions_per_connection: 2,
        ..GraphqlLimits::default()
    };
    let server = writers_server(limits).await;
    let mut socket = connect(&server).await;
    for id in ["a", "b", "c"] {
        subscribe(&mut socket, id, EVENTS, json!({})).await;
    }
    // Which of the three starts last is the server's choice; that one is refused.
    let refused = next_json(&mut socket).await;
    assert_eq!(refused["type"], "next", "{refused:#}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "SUBSCRIPTION_LIMIT_EXCEEDED",
        "{refused:#}"
    );
    let complete = next_json(&mut socket).await;
    assert_eq!(complete["type"], "complete");
    assert_eq!(complete["id"], refused["id"]);
    // Completing one frees its slot for the next.
    let live = ["a", "b", "c"]
        .into_iter()
        .find(|id| refused["id"] != *id)
        .unwrap();
    send(&mut socket, json!({ "id": live, "type": "complete" })).await;
    subscribe(&mut socket, "d", EVENTS, json!({})).await;
    apply(&server, WRITER, &component("after-limit", "x")).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = next_json(&mut socket).await;
        if message["type"] == "complete" {
            continue;
        }
        assert_eq!(message["type"], "next", "{message:#}");
        assert!(message["payload"].get("errors").is_none(), "{message:#}");
        seen.push(message["id"].as_str().unwrap().to_string());
    }
    seen.sort();
    assert!(seen.contains(&"d".to_string()), "{seen:?}");
}

/// A subscription pins no snapshot for its life: a field that reads current state takes
/// the newest one, and the entity it returns keeps that snapshot for its own hops.
#[tokio::test]
async fn a_subscription_resolves_current_entities_and_their_hops() {
    let server = writers_server(GraphqlLimits::default()).await;
    let team = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n\
                spec:\n  type: team\n  children: []\n";
    apply(
        &server,
        WRITER,
        &format!("{team}---\n{}", component("watched", "first")),
    )
    .await;
    let mut socket = connect(&server).await;
    let query = r#"subscription { entityChanged(ref: "component:watched") {
        version entity { ref ... on Component { owner { ref ... on Group {
          ownedEntitiesConnection { totalCount } } } } } } }"#;
    subscribe(&mut socket, "one", query, json!({})).await;
    apply(&server, WRITER, &component("watched", "second")).await;
    let message = next_json(&mut socket).await;
    assert_eq!(message["type"], "next", "{message:#}");
    let changed = &message["payload"]["data"]["entityChanged"];
    assert_eq!(changed["version"], 2, "{message:#}");
    assert_eq!(
        changed["entity"],
        json!({ "ref": "component:default/watched", "owner": {
            "ref": "group:default/team-a", "ownedEntitiesConnection": { "totalCount": 1 } } })
    );
}
