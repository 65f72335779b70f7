//! Authorisation over HTTP and WebSocket, tried as a hostile client would:
//! scopes, malformed headers, WebSocket authentication and its close codes,
//! push-source ownership, who may delete an entity or change locations, and
//! the metrics token.

use super::support::{auth, first_code, server, TestServer, ADMIN, READER, WRITER};
use almanac_api::{token_hash, AuthConfig, GraphqlLimits, Scope, TokenConfig};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const WRITE_ONLY: &str = "write-only-token";
const NO_SCOPES: &str = "no-scopes-token";
const SCRAPER: &str = "metrics-scraper-token";
const QUERY: &str = "{ locations { id } }";

fn token(subject: &str, secret: &str, scopes: Vec<Scope>, sources: &[&str]) -> TokenConfig {
    TokenConfig {
        subject: subject.into(),
        sha256: token_hash(secret),
        scopes,
        sources: sources.iter().map(|s| s.to_string()).collect(),
    }
}

/// `auth(anonymous_read)` plus a write-only token, a token with no scopes,
/// a metrics scraper, and `ci-bot` owning `api:shared` as well as its own.
fn config(anonymous_read: bool) -> AuthConfig {
    let mut config = auth(anonymous_read);
    config.tokens[0].sources = vec!["shared".into()];
    config.tokens.extend([
        token("pusher", WRITE_ONLY, vec![Scope::Write], &[]),
        token("nobody", NO_SCOPES, vec![], &[]),
        token("prometheus", SCRAPER, vec![Scope::Metrics], &[]),
    ]);
    config.connection_init_timeout_ms = 300;
    config
}

async fn started(config: AuthConfig) -> TestServer {
    server(config, GraphqlLimits::default(), false).await
}

async fn post_with_header(server: &TestServer, authorization: HeaderValue) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.graphql_url())
        .header("authorization", authorization)
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_without_the_read_scope_cannot_read() {
    for anonymous_read in [false, true] {
        let server = started(config(anonymous_read)).await;
        for secret in [WRITE_ONLY, NO_SCOPES, SCRAPER] {
            let response = server
                .post(json!({ "query": QUERY }), Some(secret), None)
                .await;
            assert_eq!(
                response.status(),
                403,
                "{secret}, anonymous {anonymous_read}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(first_code(&body), "FORBIDDEN");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("lacks the read scope"),
                "{body:#}"
            );
            assert!(body.get("data").is_none(), "{body:#}");
        }
        let reader = server
            .post(json!({ "query": QUERY }), Some(READER), None)
            .await;
        assert_eq!(reader.status(), 200);
        assert_eq!(
            reader.json::<Value>().await.unwrap(),
            json!({ "data": { "locations": [] }, "extensions": { "position": 0 } })
        );
    }
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401_even_with_anonymous_reads() {
    let server = started(config(true)).await;
    let malformed = [
        (
            HeaderValue::from_bytes(b"Bearer r\xe9ader").unwrap(),
            "must be ASCII",
        ),
        (
            HeaderValue::from_static("Basic cmVhZGVy"),
            "`Bearer <token>`",
        ),
        (HeaderValue::from_static("Bearer "), "`Bearer <token>`"),
        (HeaderValue::from_static(""), "`Bearer <token>`"),
        (HeaderValue::from_static(READER), "`Bearer <token>`"),
    ];
    for (header, message) in malformed {
        let response = post_with_header(&server, header.clone()).await;
        assert_eq!(response.status(), 401, "{header:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_code(&body), "UNAUTHENTICATED", "{header:?}");
        let text = body["errors"][0]["message"].as_str().unwrap();
        assert!(text.contains(message), "{header:?}: {text}");
    }
    // Two headers: neither is silently chosen.
    let response = reqwest::Client::new()
        .post(server.graphql_url())
        .header("authorization", format!("Bearer {READER}"))
        .header("authorization", "Bearer guess")
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Over GET as well.
    let response = reqwest::Client::new()
        .get(server.graphql_url())
        .query(&[("query", QUERY)])
        .header(
            "authorization",
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a `graphql-transport-ws` socket, with `authorization` on the upgrade.
async fn open(
    server: &TestServer,
    authorization: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = server.graphql_url().replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    if let Some(authorization) = authorization {
        headers.insert(
            "authorization",
            HeaderValue::from_str(authorization).unwrap(),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The next text message as JSON, or the close code the server ended with.
async fn next(socket: &mut Socket) -> Result<Value, (u16, String)> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("a message or a close frame")
            .unwrap();
        match message {
            Message::Text(text) => return Ok(serde_json::from_str(&text).unwrap()),
            Message::Close(Some(frame)) => {
                return Err((u16::from(frame.code), frame.reason.to_string()))
            }
            Message::Close(None) => return Err((1005, String::new())),
            _ => {}
        }
    }
}

async fn init(socket: &mut Socket, payload: Value) -> Result<Value, (u16, String)> {
    send(
        socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    next(socket).await
}

/// Runs `QUERY` as a subscription-protocol operation; its `next` payload.
async fn run_query(socket: &mut Socket) -> Value {
    send(
        socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": QUERY } }),
    )
    .await;
    let next = next(socket).await.unwrap();
    assert_eq!(next["type"], "next", "{next:#}");
    next["payload"].clone()
}

#[tokio::test]
async fn websocket_authenticates_at_upgrade_or_in_connection_init() {
    let server = started(config(false)).await;

    // A bad header is refused at the upgrade, before any socket exists.
    for header in ["Bearer guess", "Basic x", &format!("Bearer {WRITE_ONLY}")] {
        match open(&server, Some(header)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let expected = if header.contains(WRITE_ONLY) {
                    403
                } else {
                    401
                };
                assert_eq!(response.status(), expected, "{header}");
            }
            Ok(_) => panic!("upgrade with `{header}` was accepted"),
            Err(other) => panic!("upgrade with `{header}`: {other}"),
        }
    }

    // A good header: the init payload may be empty.
    let mut socket = open(&server, Some(&format!("Bearer {READER}")))
        .await
        .unwrap();
    assert_eq!(
        init(&mut socket, json!({})).await.unwrap()["type"],
        "connection_ack"
    );
    assert_eq!(
        run_query(&mut socket).await,
        json!({ "data": { "locations": [] }, "extensions": { "position": 0 } })
    );

    // No header: the token comes in connection_init.
    let mut socket = open(&server, None).await.unwrap();
    let ack = init(
        &mut socket,
        json!({ "Authorization": format!("Bearer {READER}") }),
    )
    .await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    assert_eq!(
        run_query(&mut socket).await,
        json!({ "data": { "locations": [] }, "extensions": { "position": 0 } })
    );

    // A bad token in connection_init: 4403 Forbidden.
    for bad in ["Bearer guess", "Basic x", &format!("Bearer {WRITE_ONLY}")] {
        let mut socket = open(&server, None).await.unwrap();
        let closed = init(&mut socket, json!({ "Authorization": bad })).await;
        let (code, reason) = closed.expect_err("closed");
        assert_eq!(code, 4403, "{bad}: {reason}");
    }

    // No token at all where anonymous reads are off: 4401 Unauthorized.
    let mut socket = open(&server, None).await.unwrap();
    let (code, reason) = init(&mut socket, json!({})).await.expect_err("closed");
    assert_eq!(
        (code, reason.as_str()),
        (4401, "a bearer token is required")
    );

    // A subscribe before connection_init: 4401 Unauthorized, as the spec says.
    let mut socket = open(&server, None).await.unwrap();
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": QUERY } }),
    )
    .await;
    assert_eq!(next(&mut socket).await.expect_err("closed").0, 4401);

    // Pings are answered before the init; any other message first is 4400.
    let mut socket = open(&server, None).await.unwrap();
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut socket).await.unwrap(), json!({ "type": "pong" }));
    send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
    assert_eq!(next(&mut socket).await.expect_err("closed").0, 4400);

    // A second connection_init: 4429, as the spec says.
    let mut socket = open(&server, Some(&format!("Bearer {READER}")))
        .await
        .unwrap();
    assert_eq!(
        init(&mut socket, json!({})).await.unwrap()["type"],
        "connection_ack"
    );
    assert_eq!(
        init(&mut socket, json!({})).await.expect_err("closed").0,
        4429
    );
}

#[tokio::test]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    for anonymous_read in [false, true] {
        let server = started(config(anonymous_read)).await;
        let mut socket = open(&server, None).await.unwrap();
        let (code, reason) = next(&mut socket).await.expect_err("closed");
        assert_eq!(
            (code, reason.as_str()),
            (4408, "Connection initialisation timeout")
        );
        // Also when the upgrade carried a good token: the protocol still needs the init.
        let mut socket = open(&server, Some(&format!("Bearer {READER}")))
            .await
            .unwrap();
        assert_eq!(next(&mut socket).await.expect_err("closed").0, 4408);
    }
}

const APPLY: &str = r#"mutation($d: String!, $s: String) {
  applyEntities(documents: $d, source: $s) { __typename ... on ApplySuccess { source registered } }
}"#;

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

async fn event_count(server: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&server.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_push_goes_only_to_a_source_the_token_owns() {
    let mut config = config(true);
    config.tokens.push(token(
        "release-bot",
        "release-token",
        vec![Scope::Read, Scope::Write],
        &[],
    ));
    let server = started(config).await;

    // Another token's source, a made-up one, and the bare prefix: refused, nothing written.
    for source in ["release-bot", "api:release-bot", "someone-else"] {
        let body = server
            .call(
                APPLY,
                json!({ "d": component("intruder"), "s": source }),
                Some(WRITER),
            )
            .await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{source}: {body:#}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        let named = format!("api:{}", source.trim_start_matches("api:"));
        assert!(
            message.contains(&format!("may not push to source `{named}`")),
            "{message}"
        );
        assert!(body["data"].is_null() || body["data"]["applyEntities"].is_null());
    }
    assert_eq!(
        event_count(&server).await,
        0,
        "a refused push writes nothing"
    );
    let nothing = server
        .data(
            r#"{ entity(ref: "component:intruder") { ref } }"#,
            json!({}),
        )
        .await;
    assert!(nothing["entity"].is_null());

    // Its own source (by default, or named) and a configured one are accepted.
    for (name, source, expected) in [
        ("own-default", None, "api:ci-bot"),
        ("own-named", Some("api:ci-bot"), "api:ci-bot"),
        ("shared-one", Some("shared"), "api:shared"),
    ] {
        let body = server
            .call(
                APPLY,
                json!({ "d": component(name), "s": source }),
                Some(WRITER),
            )
            .await;
        let result = &body["data"]["applyEntities"];
        assert_eq!(result["__typename"], "ApplySuccess", "{body:#}");
        assert_eq!(result["source"], expected);
        assert_eq!(result["registered"], 1);
    }
}

const DELETE: &str = r#"mutation($r: String!) {
  deleteEntity(ref: $r) { __typename ... on DeleteSuccess { ref } }
}"#;

async fn entity_source(server: &TestServer, entity_ref: &str) -> Value {
    server
        .data(
            "query($r: String!) { entity(ref: $r) { source } }",
            json!({ "r": entity_ref }),
        )
        .await["entity"]["source"]
        .clone()
}

/// A refused mutation: a top-level FORBIDDEN whose message holds each of `named`.
fn assert_forbidden(body: &Value, named: &[&str]) {
    assert_eq!(first_code(body), "FORBIDDEN", "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    for name in named {
        assert!(message.contains(name), "`{name}` not in: {message}");
    }
}

#[tokio::test]
async fn an_entity_is_deleted_only_by_a_token_that_owns_its_source() {
    let mut config = config(true);
    config.tokens.push(token(
        "release-bot",
        "release-token",
        vec![Scope::Read, Scope::Write],
        &["shared"],
    ));
    let server = started(config).await;
    for (secret, name, source) in [
        (WRITER, "mine", None),
        ("release-token", "theirs", None),
        ("release-token", "common", Some("shared")),
        ("release-token", "orphan", None),
    ] {
        let body = server
            .call(
                APPLY,
                json!({ "d": component(name), "s": source }),
                Some(secret),
            )
            .await;
        assert_eq!(
            body["data"]["applyEntities"]["__typename"], "ApplySuccess",
            "{body:#}"
        );
    }

    // Another token's entity: refused, naming the entity and its source; nothing written.
    let before = event_count(&server).await;
    let body = server
        .call(DELETE, json!({ "r": "component:theirs" }), Some(WRITER))
        .await;
    assert_forbidden(
        &body,
        &["component:default/theirs", "api:release-bot", "`ci-bot`"],
    );
    assert!(body["data"].is_null() || body["data"]["deleteEntity"].is_null());
    assert_eq!(event_count(&server).await, before, "nothing appended");
    assert_eq!(
        entity_source(&server, "component:theirs").await,
        "api:release-bot"
    );

    // Its own, and one in a source it shares: deleted.
    for name in ["mine", "common"] {
        let body = server
            .call(
                DELETE,
                json!({ "r": format!("component:{name}") }),
                Some(WRITER),
            )
            .await;
        assert_eq!(
            body["data"]["deleteEntity"],
            json!({ "__typename": "DeleteSuccess", "ref": format!("component:default/{name}") }),
            "{body:#}"
        );
    }
    assert!(entity_source(&server, "component:mine").await.is_null());

    // The admin scope may delete what any source manages.
    let body = server
        .call(DELETE, json!({ "r": "component:orphan" }), Some(ADMIN))
        .await;
    assert_eq!(
        body["data"]["deleteEntity"]["__typename"], "DeleteSuccess",
        "{body:#}"
    );
}

#[tokio::test]
async fn location_mutations_need_the_admin_scope() {
    let server = server(
        config(true),
        GraphqlLimits {
            allow_file_locations: true,
            ..GraphqlLimits::default()
        },
        false,
    )
    .await;
    let dir = std::env::temp_dir().join(format!("almanac-authz-location-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog-info.yaml");
    std::fs::write(&file, component("located")).unwrap();
    let target = file.display().to_string();
    let add = r#"mutation($t: String!) { addLocation(type: "file", target: $t) {
        __typename ... on LocationSuccess { location { id addedBy } summary { registered } } } }"#;
    let remove = r#"mutation($id: String!) { removeLocation(id: $id) {
        __typename ... on RemoveLocationSuccess { removedEntities } } }"#;
    let refresh = r#"mutation($id: String!) { refreshLocation(id: $id) {
        __typename ... on LocationSuccess { summary { unchanged } } } }"#;

    // A writer without admin: refused before anything is read or written.
    let body = server.call(add, json!({ "t": target }), Some(WRITER)).await;
    assert_forbidden(&body, &["`ci-bot`", "admin scope", "addLocation"]);
    assert_eq!(event_count(&server).await, 0, "nothing written");
    let listed = server.data("{ locations { id } }", json!({})).await;
    assert_eq!(listed["locations"], json!([]));

    // With admin: added and read.
    let added = server.mutate_as(ADMIN, add, json!({ "t": target })).await;
    let success = &added["addLocation"];
    assert_eq!(success["__typename"], "LocationSuccess", "{added:#}");
    assert_eq!(success["location"]["addedBy"], "platform-team");
    assert_eq!(success["summary"]["registered"], 1);
    let id = success["location"]["id"].as_str().unwrap().to_string();
    let source = format!("file:{target}");
    assert_eq!(entity_source(&server, "component:located").await, source);

    // A writer may refresh it (it reads only what an admin registered) ...
    let refreshed = server.mutate(refresh, json!({ "id": id })).await;
    assert_eq!(refreshed["refreshLocation"]["summary"]["unchanged"], 1);
    // ... but neither delete what it manages nor remove it.
    let before = event_count(&server).await;
    let body = server
        .call(DELETE, json!({ "r": "component:located" }), Some(WRITER))
        .await;
    assert_forbidden(&body, &["component:default/located", &source]);
    let body = server.call(remove, json!({ "id": id }), Some(WRITER)).await;
    assert_forbidden(&body, &["`ci-bot`", "admin scope", "removeLocation"]);
    assert_eq!(event_count(&server).await, before, "nothing written");
    assert_eq!(entity_source(&server, "component:located").await, source);

    let removed = server.mutate_as(ADMIN, remove, json!({ "id": id })).await;
    assert_eq!(
        removed["removeLocation"]["removedEntities"], 1,
        "{removed:#}"
    );
    assert!(entity_source(&server, "component:located").await.is_null());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn metrics_can_require_a_token_with_the_metrics_scope() {
    let open_server = started(config(true)).await;
    let open = reqwest::get(format!("{}/metrics", open_server.url))
        .await
        .unwrap();
    assert_eq!(open.status(), 200, "off by default");

    let mut config = config(true);
    config.metrics_token_required = true;
    let server = started(config).await;
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", server.url);
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert!(anonymous.text().await.unwrap().contains("metrics scope"));
    let unknown = client.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(unknown.status(), 401);
    let reader = client.get(&url).bearer_auth(READER).send().await.unwrap();
    assert_eq!(reader.status(), 403);
    let scraper = client.get(&url).bearer_auth(SCRAPER).send().await.unwrap();
    assert_eq!(scraper.status(), 200);
    assert!(scraper
        .text()
        .await
        .unwrap()
        .contains("almanac_log_head_position 0"));
}
