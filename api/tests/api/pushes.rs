//! Pushes under concurrency: all or nothing, never two registrations of a
//! live entity, and expected versions for read-modify-write.

use super::support::{auth, server, TestServer};
use almanac_api::AuthConfig;
use almanac_api::GraphqlLimits;
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

/// The writer token owns the sources these tests push to (pushes go only to owned sources).
fn pushing_auth() -> AuthConfig {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["alpha".into(), "beta".into(), "bot".into()];
    config
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
    let server = server(pushing_auth(), GraphqlLimits::default(), false).await;
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

const APPLY_EXPECTING: &str = r#"
mutation Apply($documents: String!, $expected: [ExpectedVersion!]) {
  applyEntities(documents: $documents, source: "bot", expectedVersions: $expected) {
    __typename
    ... on ApplySuccess { registered updated unchanged entities { ref version } }
    ... on InvalidDescriptors { message errors { entityRef field message } }
    ... on VersionConflict { message conflicts { ref expected actual } }
  }
}"#;

async fn push_expecting(server: &TestServer, documents: String, expected: Value) -> Value {
    let data = server
        .mutate(
            APPLY_EXPECTING,
            json!({ "documents": documents, "expected": expected }),
        )
        .await;
    data["applyEntities"].clone()
}

#[tokio::test]
async fn a_matching_expected_version_applies() {
    let server = server(pushing_auth(), GraphqlLimits::default(), false).await;
    // 0: the entity must not be in the catalog yet.
    let created = push_expecting(
        &server,
        component("billing", "experimental"),
        json!([{ "ref": "component:billing", "version": 0 }]),
    )
    .await;
    assert_eq!(created["__typename"], "ApplySuccess", "{created:#}");
    assert_eq!(
        created["entities"],
        json!([{ "ref": "component:default/billing", "version": 1 }])
    );

    let edited = push_expecting(
        &server,
        component("billing", "production"),
        json!([{ "ref": "Component:default/billing", "version": 1 }]),
    )
    .await;
    assert_eq!(edited["__typename"], "ApplySuccess", "{edited:#}");
    assert_eq!(edited["updated"], 1);
    assert_eq!(
        edited["entities"],
        json!([{ "ref": "component:default/billing", "version": 2 }])
    );
    assert_eq!(
        events_of(&server, "component:default/billing").await,
        ["EntityRegistered", "EntityUpdated"]
    );
}

#[tokio::test]
async fn a_stale_expected_version_is_a_typed_conflict_and_writes_nothing() {
    let server = server(pushing_auth(), GraphqlLimits::default(), false).await;
    let first = push_expecting(&server, component("billing", "experimental"), json!([])).await;
    assert_eq!(first["__typename"], "ApplySuccess", "{first:#}");
    // Another writer moves it to version 2 meanwhile.
    let other = push_expecting(&server, component("billing", "production"), json!(null)).await;
    assert_eq!(other["updated"], 1, "{other:#}");

    // A bot that read version 1 pushes its edit and a new entity.
    let documents = format!(
        "{}---\n{}",
        component("billing", "deprecated"),
        component("invoicing", "experimental")
    );
    let stale = push_expecting(
        &server,
        documents.clone(),
        json!([{ "ref": "component:billing", "version": 1 }]),
    )
    .await;
    assert_eq!(
        stale,
        json!({
            "__typename": "VersionConflict",
            "message": "1 entities are not at the expected version; nothing was applied",
            "conflicts": [{ "ref": "component:default/billing", "expected": 1, "actual": 2 }],
        })
    );
    assert_eq!(
        events_of(&server, "component:default/billing").await,
        ["EntityRegistered", "EntityUpdated"]
    );
    assert!(events_of(&server, "component:default/invoicing")
        .await
        .is_empty());
    let read = server
        .data(
            r#"{ entity(ref: "component:billing") { version ... on Component { lifecycle } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        read["entity"],
        json!({ "version": 2, "lifecycle": "production" })
    );

    // Expecting absence of an entity that exists is a conflict too.
    let exists = push_expecting(
        &server,
        component("billing", "deprecated"),
        json!([{ "ref": "component:billing", "version": 0 }]),
    )
    .await;
    assert_eq!(exists["__typename"], "VersionConflict");
    assert_eq!(exists["conflicts"][0]["actual"], 2);

    // An expected version for an entity the push does not hold is bad input.
    let unrelated = push_expecting(
        &server,
        component("billing", "production"),
        json!([{ "ref": "component:nope", "version": 3 }]),
    )
    .await;
    assert_eq!(unrelated["__typename"], "InvalidDescriptors");
    assert_eq!(
        unrelated["errors"],
        json!([{
            "entityRef": "component:nope",
            "field": "expectedVersions",
            "message": "expected version given for component:default/nope, \
                        which the pushed documents do not hold",
        }])
    );
}

/// Read limits (`limits:`) belong to the server's state, not to the process: a server
/// given a small `max_file_bytes` refuses a push that another server of the same
/// process, with the default limits, takes.
#[tokio::test]
async fn each_server_reads_pushes_under_its_own_limits() {
    let mut strict = server(pushing_auth(), GraphqlLimits::default(), false).await;
    let small = almanac_ingest::ReadLimits {
        max_file_bytes: 100,
        ..almanac_ingest::ReadLimits::default()
    };
    let state = strict.state.clone().with_read_limits(small);
    strict.restart_with(state).await;
    let lenient = server(pushing_auth(), GraphqlLimits::default(), false).await;
    let documents = component("big", "production");

    let refused = strict
        .mutate(
            r#"mutation Apply($documents: String!) {
  applyEntities(documents: $documents, source: "alpha") {
    ... on InvalidDescriptors { message errors { document field message } }
  }
}"#,
            json!({ "documents": documents }),
        )
        .await;
    let taken = push(&lenient, documents.clone(), "alpha").await;

    assert_eq!(
        refused["applyEntities"],
        json!({
            "message": "1 error(s) in the pushed documents; nothing was applied",
            "errors": [{
                "document": null,
                "field": "",
                "message": format!("input is {} bytes, over the limit of 100", documents.len()),
            }],
        })
    );
    assert_eq!(taken["__typename"], "ApplySuccess");
    assert_eq!(taken["registered"], 1);
}
