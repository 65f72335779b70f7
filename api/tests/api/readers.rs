//! A hostile reader costs at most its own request: introspection and alias
//! bombs are refused before they run, a response past its byte limit stops
//! early, search text is bounded before SQL, argument errors carry a code,
//! and a search bomb leaves other clients and the projector unaffected.

use super::history::apply;
use super::support::{auth, demo_server, first_code, server, TestServer, WRITER};
use almanac_api::{AppState, GraphqlLimits};
use almanac_store::Database;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::ConnectOptions;

/// The writer owns the `shared` source the history helpers push to.
fn shared_auth() -> almanac_api::AuthConfig {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["shared".into()];
    config
}

/// Peak resident memory of this test process (nextest runs each test in its
/// own process, and the server runs in it), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The bound the README states for one refused bomb (the whole test process,
/// server, database pools and demo catalog included).
const RSS_BOUND: u64 = 256 * 1024 * 1024;

fn aliased(count: usize, selection: &str) -> String {
    let fields: Vec<String> = (0..count).map(|i| format!("a{i}: {selection}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

async fn refused(server: &TestServer, query: &str, code: &str) -> usize {
    let response = server
        .post(
            json!({ "query": query }),
            None,
            Some("application/graphql-response+json"),
        )
        .await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(first_code(&body), code, "{}", &text[..text.len().min(400)]);
    assert!(body.get("data").is_none_or(Value::is_null), "no data");
    assert!(status == 400 || status == 200, "{status}");
    text.len()
}

#[tokio::test]
async fn an_introspection_alias_bomb_is_refused_before_it_runs() {
    let server = demo_server().await;
    let bomb = "__schema { types { fields { type { name } } } }";
    let size = refused(&server, &aliased(3_000, bomb), "COMPLEXITY_LIMIT_EXCEEDED").await;
    assert!(size < 1_000, "a small refusal, not a 39 MB response");
    // Under the alias limit, the introspection lists count by the schema's size.
    let size = refused(&server, &aliased(90, bomb), "COMPLEXITY_LIMIT_EXCEEDED").await;
    assert!(size < 1_000);
    let size = refused(&server, &aliased(101, "__typename"), "ALIAS_LIMIT_EXCEEDED").await;
    assert!(size < 1_000);
    assert!(peak_rss() < RSS_BOUND, "peak RSS {} bytes", peak_rss());
    // One introspection, as tools send it, is still answered.
    let data = server.data(&format!("{{ {bomb} }}"), json!({})).await;
    assert!(data["__schema"]["types"].as_array().unwrap().len() > 50);
}

#[tokio::test]
async fn a_query_text_past_its_limit_is_refused_before_parsing() {
    let server = demo_server().await;
    let words = vec!["word"; 3_000].join(" ");
    let bomb = aliased(200, &format!(r#"search(text: "{words}") {{ totalCount }}"#));
    let size = refused(&server, &bomb, "QUERY_TOO_LARGE").await;
    assert!(size < 1_000);
    // The same text as a variable is the search's own limit's business.
    let body = server
        .call(
            "query($t: String!) { search(text: $t) { totalCount } }",
            json!({ "t": words }),
            None,
        )
        .await;
    assert_eq!(first_code(&body), "INVALID_ARGUMENT", "{body:#}");
}

#[tokio::test]
async fn aliases_of_a_large_spec_stop_at_the_response_limit() {
    let limits = GraphqlLimits {
        max_response_bytes: 4 * 1024 * 1024,
        ..GraphqlLimits::default()
    };
    let server = server(shared_auth(), limits, false).await;
    let blob = "b".repeat(1024 * 1024);
    let document = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: big\nspec:\n  \
         type: service\n  lifecycle: production\n  owner: team-a\n  definition: {blob}\n"
    );
    apply(&server, WRITER, &document).await;
    let one = server
        .data(r#"{ entity(ref: "component:big") { spec } }"#, json!({}))
        .await;
    assert_eq!(
        one["entity"]["spec"]["definition"].as_str().unwrap().len(),
        blob.len()
    );
    let bomb = aliased(40, r#"entity(ref: "component:big") { spec }"#);
    let size = refused(&server, &bomb, "RESPONSE_TOO_LARGE").await;
    assert!(size < 1_000, "the refusal alone, not 40 MB");
    assert!(peak_rss() < RSS_BOUND, "peak RSS {} bytes", peak_rss());
}

#[tokio::test]
async fn search_text_is_bounded_before_sql_and_nul_is_an_invalid_argument() {
    let server = demo_server().await;
    let search = "query($t: String!) { search(text: $t) { totalCount } }";
    let many_words = vec!["word"; 100_000].join(" ");
    let seventeen = vec!["w"; 17].join(" ");
    for (text, says) in [
        ("x".repeat(1024 * 1024), "the limit is 256"),
        (many_words, "the limit is 256"),
        (seventeen, "17 words; the limit is 16"),
    ] {
        let body = server.call(search, json!({ "t": text }), None).await;
        assert_eq!(first_code(&body), "INVALID_ARGUMENT", "{body:#}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    let data = server
        .data(search, json!({ "t": vec!["cart"; 16].join(" ") }))
        .await;
    assert!(data["search"]["totalCount"].is_number());

    for (query, variables) in [
        (search, json!({ "t": "cart\u{0}" })),
        (
            "query($r: String!) { entity(ref: $r) { name } }",
            json!({ "r": "component:cart\u{0}" }),
        ),
        (
            "query($n: String!) { entities(filter: { name: [$n] }) { totalCount } }",
            json!({ "n": "a\u{0}b" }),
        ),
        (
            r#"{ entity(ref: "component:x\u0000") { name } }"#,
            json!({}),
        ),
    ] {
        let response = server
            .post(
                json!({ "query": query, "variables": variables }),
                None,
                Some("application/graphql-response+json"),
            )
            .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_code(&body), "INVALID_ARGUMENT", "{body:#}");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("NUL"));
    }
}

#[tokio::test]
async fn argument_coercion_errors_have_a_code_and_status_400() {
    let server = demo_server().await;
    for (query, variables) in [
        (
            r#"{ entity(ref: "component:cart-service", version: 2147483648) { name } }"#,
            json!({}),
        ),
        (
            "query($v: Int) { entity(ref: \"component:cart-service\", version: $v) { name } }",
            json!({ "v": 2147483648i64 }),
        ),
        (
            r#"{ entity(ref: "component:cart-service", asOf: "yesterday") { name } }"#,
            json!({}),
        ),
        (
            "query($t: DateTime) { entity(ref: \"component:cart-service\", asOf: $t) { name } }",
            json!({ "t": "not a time" }),
        ),
    ] {
        let response = server
            .post(
                json!({ "query": query, "variables": variables }),
                None,
                Some("application/graphql-response+json"),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{query}: {body:#}");
        let code = first_code(&body);
        assert!(
            code == "INVALID_ARGUMENT" || code == "GRAPHQL_VALIDATION_FAILED",
            "{query}: {body:#}"
        );
        assert!(body.get("data").is_none(), "{body:#}");
    }
}

#[tokio::test]
async fn positions_are_long_and_accept_64_bit_values() {
    let server = demo_server().await;
    let data = server
        .data(
            "{ events(first: 1) { nodes { position } } __type(name: \"HistoryEvent\") { fields { name type { ofType { name } } } } }",
            json!({}),
        )
        .await;
    let position_type = data["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "position")
        .map(|f| f["type"]["ofType"]["name"].clone());
    assert_eq!(position_type, Some(json!("Long")));
    assert!(data["events"]["nodes"][0]["position"].as_i64().unwrap() > 0);
}

/// A server whose GraphQL reads use a pool of their own, as `almanac serve`
/// sets it up, with one statement at a time per request.
async fn split_pools_server() -> TestServer {
    let mut test = server(shared_auth(), GraphqlLimits::default(), true).await;
    let reads = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(test.db.pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let limits = GraphqlLimits {
        max_request_statements: 1,
        query_timeout_ms: 5_000,
        ..GraphqlLimits::default()
    };
    let state = AppState::new(Database::new(test.db.pool.clone()))
        .with_sealer(almanac_store::testing::test_sealer())
        .with_auth(shared_auth())
        .with_limits(limits)
        .with_read_pool(reads);
    let (state, _follower) = state.with_follower().await.unwrap();
    test.restart_with(state).await;
    test
}

#[tokio::test]
async fn a_search_bomb_leaves_other_clients_and_the_projector_unaffected() {
    let server = split_pools_server().await;
    let words = vec!["service"; 16].join(" ");
    let bomb = aliased(
        50,
        &format!(r#"search(text: "{words}", first: 5) {{ totalCount nodes {{ ref }} }}"#),
    );
    let bomb = server.post(
        json!({ "query": bomb }),
        None,
        Some("application/graphql-response+json"),
    );
    let readers = async {
        let mut names = Vec::new();
        for _ in 0..5 {
            let data = server
                .data(
                    r#"{ entity(ref: "component:cart-service") { name } }"#,
                    json!({}),
                )
                .await;
            names.push(data["entity"]["name"].clone());
        }
        names
    };
    let document = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: pushed-during-bomb\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
    let push = apply(&server, WRITER, document);
    let (bomb, names, ()) = tokio::join!(bomb, readers, push);
    assert_eq!(names, vec![json!("cart-service"); 5]);
    let body: Value = bomb.json().await.unwrap();
    if let Some(errors) = body.get("errors") {
        let code = errors[0]["extensions"]["code"].as_str().unwrap_or("");
        assert!(
            code == "TIMEOUT" || code == "UNAVAILABLE" || code == "RESPONSE_TOO_LARGE",
            "{body:#}"
        );
    }
    let data = server
        .data(
            r#"{ entity(ref: "component:pushed-during-bomb") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["entity"]["name"], "pushed-during-bomb");
}

/// Catalog statements still running or waiting in this test database (seen
/// as a superuser: other roles' activity is hidden from the owner).
async fn running_statements(server: &TestServer) -> i64 {
    let mut admin = server.db.superuser.connect().await.unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'active' AND pid <> pg_backend_pid() AND query ILIKE '%FROM processing_errors%'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_timed_out_request_leaves_no_statement_running_in_postgresql() {
    let limits = GraphqlLimits {
        query_timeout_ms: 1_000,
        ..GraphqlLimits::default()
    };
    let server = server(shared_auth(), limits, true).await;
    // Another session holds the table: every read of it now waits.
    let mut blocker = server.db.owner.begin().await.unwrap();
    sqlx::query("LOCK TABLE processing_errors IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    // A read that still goes to PostgreSQL (the catalog itself answers from memory):
    // processing errors are operational state.
    let query = aliased(20, r#"processingErrors(first: 5) { message }"#);
    let request = server.call(&query, json!({}), None);
    let during = async {
        // Half-way through the request's second: its statements wait on the lock.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        running_statements(&server).await
    };
    let (body, during) = tokio::join!(request, during);
    assert!(
        during > 0,
        "the request's statements were waiting on the lock"
    );
    assert_eq!(first_code(&body), "TIMEOUT", "{body:#}");
    // The statements were cancelled at the request's deadline, not left
    // waiting (before, they ran on until the lock went away).
    let mut running = running_statements(&server).await;
    for _ in 0..40 {
        if running == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        running = running_statements(&server).await;
    }
    assert_eq!(running, 0, "statements still running after the timeout");
    blocker.rollback().await.unwrap();
}
