//! Pushes under concurrency: all or nothing, never two registrations of a
//! live entity, and expected versions for read-modify-write.

use super::support::{auth, server, TestServer};
use almanac_api::Limits;
use serde_json::{json, Value};

const APPLY: &str = r#"
mutation Apply($documents: String!, $source: String) {
  applyEntities(documents: $documents, source: $source) {
    __typename
    ... on ApplySuccess { source registered updated unchanged entities { ref } }
    ... on InvalidDescriptors { message }
    ... on ApplyConflict { message conflicts { entityRef existingSource newSource } }
  }
}"#;

fn component(name: &str, lifecycle: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: team-a\n"
    )
}

/// `{shared-N, only-<who>-N}` as one push.
fn pair(who: &str, round: usize) -> String {
    format!(
        "{}---\n{}",
        component(&format!("shared-{round}"), "production"),
        component(&format!("only-{who}-{round}"), "production")
    )
}

async fn push(server: &TestServer, documents: String, source: &str) -> Value {
    let data = server
        .mutate(APPLY, json!({ "documents": documents, "source": source }))
        .await;
    data["applyEntities"].clone()
}

async fn events_of(server: &TestServer, stream: &str) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT event_type FROM events WHERE stream = $1 ORDER BY version")
            .bind(stream)
            .fetch_all(&server.db.pool)
            .await
            .unwrap();
    rows.into_iter().map(|(t,)| t).collect()
}

/// Streams where an `EntityRegistered` follows another with no removal between.
async fn double_registrations(server: &TestServer) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT stream FROM ( \
           SELECT stream, event_type, \
                  lag(event_type) OVER (PARTITION BY stream ORDER BY version) AS previous \
           FROM events WHERE event_type IN ('EntityRegistered', 'EntityRemoved')) AS e \
         WHERE event_type = 'EntityRegistered' AND previous = 'EntityRegistered' \
         ORDER BY stream",
    )
    .fetch_all(&server.db.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_pushes_apply_all_or_nothing() {
    let server = server(auth(true), Limits::default(), false).await;
    for round in 0..30 {
        let (alpha, beta) = tokio::join!(
            push(&server, pair("alpha", round), "alpha"),
            push(&server, pair("beta", round), "beta"),
        );
        let mut winners = 0;
        for (who, result) in [("alpha", &alpha), ("beta", &beta)] {
            let only = events_of(&server, &format!("component:default/only-{who}-{round}")).await;
            match result["__typename"].as_str() {
                Some("ApplySuccess") => {
                    winners += 1;
                    assert_eq!(result["registered"], 2, "round {round}, {who}: {result:#}");
                    assert_eq!(only, ["EntityRegistered"], "round {round}, {who}");
                }
                Some("ApplyConflict") => assert!(
                    only.is_empty(),
                    "round {round}: {who} got a conflict but its only-{who}-{round} was applied: \
                     {only:?} ({result:#})"
                ),
                _ => panic!("round {round}, {who}: unexpected result {result:#}"),
            }
        }
        assert_eq!(winners, 1, "round {round}: {alpha:#} {beta:#}");
        let shared = events_of(&server, &format!("component:default/shared-{round}")).await;
        assert_eq!(shared, ["EntityRegistered"], "round {round}");
    }
    assert_eq!(double_registrations(&server).await, Vec::<String>::new());
}
