//! Shared helpers: an in-process server (`almanac_api::serve` on 127.0.0.1:0)
//! over a fresh database with the demo catalog, and GraphQL calls over HTTP.

use almanac_api::{token_hash, AppState, AuthConfig, GraphqlLimits, Scope, TokenConfig};
use almanac_ingest::{Ingestor, Source};
use almanac_store::testing::test_sealer;
use almanac_store::testing::{test_db, TestDb};
use almanac_store::Database;
use serde_json::{json, Value};
use std::path::Path;
use tokio::sync::oneshot;

/// Token of `ci-bot`, scopes read and write.
pub const WRITER: &str = "writer-secret-token";
/// Token of `dashboard`, scope read only.
pub const READER: &str = "reader-secret-token";
/// Token of `platform-team`, scopes read, write and admin.
pub const ADMIN: &str = "admin-secret-token";

pub fn auth(anonymous_read: bool) -> AuthConfig {
    AuthConfig {
        anonymous_read,
        tokens: vec![
            TokenConfig {
                subject: "ci-bot".into(),
                sha256: token_hash(WRITER),
                scopes: vec![Scope::Read, Scope::Write],
                sources: Vec::new(),
            },
            TokenConfig {
                subject: "dashboard".into(),
                sha256: token_hash(READER),
                scopes: vec![Scope::Read],
                sources: Vec::new(),
            },
            TokenConfig {
                subject: "platform-team".into(),
                sha256: token_hash(ADMIN),
                scopes: vec![Scope::Read, Scope::Write, Scope::Admin],
                sources: Vec::new(),
            },
        ],
        ..AuthConfig::default()
    }
}

pub struct TestServer {
    pub url: String,
    pub db: TestDb,
    pub state: AppState,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

async fn start(state: AppState) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(almanac_api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// Ingests the demo catalog straight into the log (no server involved) and waits until
/// it is projected; returns the position it reached. A server already running also needs
/// [`TestServer::caught_up`] before it answers from it.
pub async fn ingest_demo(db: &TestDb) -> i64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/catalog-info.yaml");
    let ingestor = Ingestor::new(db.log());
    let report = ingestor.ingest(&Source::File(path)).await.unwrap();
    ingestor.wait_visible(report.last_position).await.unwrap();
    assert_eq!(
        report.registered, 175,
        "the demo catalog registers 175 entities"
    );
    report.last_position.unwrap_or_default()
}

/// The demo catalog behind a server that allows anonymous reads.
pub async fn demo_server() -> TestServer {
    server(auth(true), GraphqlLimits::default(), true).await
}

pub async fn server(auth: AuthConfig, limits: GraphqlLimits, demo: bool) -> TestServer {
    let db = test_db().await;
    if demo {
        ingest_demo(&db).await;
    }
    let state = AppState::new(Database::new(db.pool.clone()))
        .with_sealer(test_sealer())
        .with_auth(auth)
        .with_limits(limits);
    serve_state(db, state).await
}

/// `state` served on a fresh port with its follower, over `db`.
pub async fn serve_state(db: TestDb, state: AppState) -> TestServer {
    // Dropped with the server: the follower's task ends with its last reader.
    let (state, _follower) = state.with_follower().await.unwrap();
    let (url, stop) = start(state.clone()).await;
    TestServer {
        url,
        db,
        state,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

/// Another server over `primary`'s database, with its own follower and listener (a
/// replica, as a second `almanac serve` would be); stopped when the sender drops.
pub async fn replica(primary: &TestServer, limits: GraphqlLimits) -> (String, oneshot::Sender<()>) {
    let state = AppState::new(Database::new(primary.db.pool.clone()))
        .with_sealer(test_sealer())
        .with_auth(primary.state.auth.clone())
        .with_limits(limits);
    let (state, _follower) = state.with_follower().await.unwrap();
    start(state).await
}

impl TestServer {
    /// Waits until the server's in-memory catalog reflects `position`: what was written
    /// to the log behind the server's back (an `Ingestor` in the test) is then in every
    /// query's snapshot.
    pub async fn caught_up(&self, position: i64) {
        let followed = self
            .state
            .followed
            .as_ref()
            .expect("the server follows the log");
        let reached =
            tokio::time::timeout(std::time::Duration::from_secs(5), followed.reach(position))
                .await
                .expect("the follower reaches the position within 5 s");
        assert!(reached.is_some(), "the follower stopped");
    }

    /// Ingests the demo catalog into a running server's database and waits until the
    /// server's snapshot holds it.
    pub async fn ingest_demo(&self) {
        let position = ingest_demo(&self.db).await;
        self.caught_up(position).await;
    }

    /// Serves `state` instead (same database), at a new address.
    pub async fn restart_with(&mut self, state: AppState) {
        let (url, stop) = start(state.clone()).await;
        self.url = url;
        self.state = state;
        self._stop = stop;
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url)
    }

    /// POSTs a request; `token` as a bearer token, `accept` as the Accept header.
    pub async fn post(
        &self,
        body: Value,
        token: Option<&str>,
        accept: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.graphql_url()).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send().await.unwrap()
    }

    /// The whole response body of a query sent with `token`.
    pub async fn call(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let response = self
            .post(
                json!({ "query": query, "variables": variables }),
                token,
                Some("application/graphql-response+json"),
            )
            .await;
        response.json().await.unwrap()
    }

    /// `data` of a query that must succeed without errors.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.call(query, variables, None).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// `data` of a mutation sent with the writer's token.
    pub async fn mutate(&self, query: &str, variables: Value) -> Value {
        self.mutate_as(WRITER, query, variables).await
    }

    /// The whole response body (its `extensions` included) of a push of `documents` to the
    /// source `alpha` by the writer, which must be an `ApplySuccess`.
    pub async fn push_to_alpha(&self, documents: &str) -> Value {
        self.push_to("alpha", documents).await
    }

    /// The whole response body of a push of `documents` to `source` by the writer (whose
    /// token must be allowed that source), which must be an `ApplySuccess`.
    pub async fn push_to(&self, source: &str, documents: &str) -> Value {
        let pushed = self
            .call(
                "mutation Apply($documents: String!, $source: String) { \
                 applyEntities(documents: $documents, source: $source) { __typename } }",
                json!({ "documents": documents, "source": source }),
                Some(WRITER),
            )
            .await;
        assert_eq!(
            pushed["data"]["applyEntities"]["__typename"],
            json!("ApplySuccess"),
            "{pushed:#}"
        );
        pushed
    }

    /// `data` of a mutation sent with `token`, which must succeed without errors.
    pub async fn mutate_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.call(query, variables, Some(token)).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// The `extensions.code` of the first error.
pub fn first_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body:#}"))
        .to_string()
}

/// The strings of a JSON array, picked by `key` from each item when given.
pub fn strings(value: &Value, key: Option<&str>) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value:#}"))
        .iter()
        .map(|item| {
            let item = key.map_or(item, |k| &item[k]);
            item.as_str().unwrap().to_string()
        })
        .collect()
}

/// Same, sorted.
pub fn sorted(value: &Value, key: Option<&str>) -> Vec<String> {
    let mut items = strings(value, key);
    items.sort();
    items
}

/// A server over a fresh database (no demo), anonymous reads allowed, whose URL reads
/// follow `reading`.
pub async fn reading_server(reading: almanac_ingest::ReadPolicy) -> TestServer {
    let db = test_db().await;
    let state = AppState::new(Database::new(db.pool.clone()))
        .with_sealer(test_sealer())
        .with_auth(auth(true))
        .with_reading(reading);
    serve_state(db, state).await
}

/// The demo catalog behind a server that allows anonymous reads, with `cors` as its
/// `cors:` section.
pub async fn cors_server(cors: almanac_api::CorsConfig) -> TestServer {
    let db = test_db().await;
    ingest_demo(&db).await;
    let state = AppState::new(Database::new(db.pool.clone()))
        .with_sealer(test_sealer())
        .with_auth(auth(true))
        .with_cors(cors);
    serve_state(db, state).await
}
