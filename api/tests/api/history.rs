//! History and audit over HTTP: an entity edited through a file and through
//! `applyEntities` with two tokens, then read back as history, as it was at
//! each point, as diffs, through the audit feed, and checked for tampering.

use super::support::{auth, server, TestServer, WRITER};
use almanac_api::{token_hash, GraphqlLimits, Scope, TokenConfig};
use almanac_ingest::{Ingestor, Source};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Connection};
use std::path::PathBuf;

/// Token of `release-bot`, a second writer.
pub const SECOND_WRITER: &str = "second-writer-token";
const REF: &str = "component:default/audited";

/// Both writers own the push source `api:shared`.
pub async fn writers_server(limits: GraphqlLimits) -> TestServer {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["api:shared".into()];
    config.tokens.push(TokenConfig {
        subject: "release-bot".into(),
        sha256: token_hash(SECOND_WRITER),
        scopes: vec![Scope::Read, Scope::Write],
        sources: vec!["shared".into()],
    });
    server(config, limits, false).await
}

fn component(name: &str, description: &str, owner: &str, depends_on: &[&str]) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  \
         description: {description}\nspec:\n  type: service\n  lifecycle: production\n  \
         owner: {owner}\n  dependsOn: {depends_on:?}\n"
    )
}

async fn ingest_file(server: &TestServer, path: &PathBuf, text: &str) {
    std::fs::write(path, text).unwrap();
    let ingestor = Ingestor::new(server.db.log());
    let report = ingestor.ingest(&Source::File(path.clone())).await.unwrap();
    ingestor.wait_visible(report.last_position).await.unwrap();
    if let Some(position) = report.last_position {
        server.caught_up(position).await;
    }
}

pub async fn apply(server: &TestServer, token: &str, documents: &str) {
    let body = server
        .call(
            r#"mutation($d: String!) { applyEntities(documents: $d, source: "shared") { __typename } }"#,
            json!({ "d": documents }),
            Some(token),
        )
        .await;
    assert_eq!(
        body["data"]["applyEntities"]["__typename"], "ApplySuccess",
        "{body:#}"
    );
}

/// `audited`: two file versions, removed from the file, registered again by
/// `ci-bot`, then re-owned by `release-bot`. `gone`: from the file, removed.
async fn edited() -> (TestServer, String) {
    let server = writers_server(GraphqlLimits::default()).await;
    let path = std::env::temp_dir().join(format!("{}-catalog.yaml", server.db.name));
    let gone = component("gone", "short-lived", "team-a", &[]);
    let v1 = component("audited", "first", "team-a", &[]);
    ingest_file(&server, &path, &format!("{v1}---\n{gone}")).await;
    let v2 = component("audited", "second", "team-a", &["component:billing"]);
    ingest_file(&server, &path, &format!("{v2}---\n{gone}")).await;
    ingest_file(&server, &path, &component("other", "x", "team-a", &[])).await;
    let pushed = component("audited", "pushed", "team-a", &["component:billing"]);
    apply(&server, WRITER, &pushed).await;
    let reowned = component("audited", "pushed", "team-b", &["component:billing"]);
    apply(&server, SECOND_WRITER, &reowned).await;
    let _ = std::fs::remove_file(&path);
    (server, format!("ingest:file:{}", path.display()))
}

const HISTORY: &str = r#"query($ref: String!, $after: String, $order: HistoryOrder, $first: Int) {
  entity(ref: $ref) { history(first: $first, after: $after, order: $order) {
    pageInfo { hasNextPage endCursor }
    nodes { position version type recordedAt actor source correlationId ref entity { name }
      changes { path op oldValue newValue }
      relationsAdded { type targetRef field } relationsRemoved { type targetRef } } } } }"#;

async fn history(server: &TestServer) -> Vec<Value> {
    let data = server
        .data(HISTORY, json!({ "ref": REF, "order": "OLDEST_FIRST" }))
        .await;
    data["entity"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn history_lists_every_change_with_its_actor_and_source() {
    let (server, file_actor) = edited().await;
    let events = history(&server).await;
    let summary: Vec<(i64, &str, &str, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e["version"].as_i64().unwrap(),
                e["type"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["source"].as_str(),
            )
        })
        .collect();
    let file_source = file_actor.strip_prefix("ingest:");
    assert_eq!(
        summary,
        vec![
            (1, "EntityRegistered", file_actor.as_str(), file_source),
            (2, "EntityUpdated", file_actor.as_str(), file_source),
            (3, "EntityRemoved", file_actor.as_str(), file_source),
            (4, "EntityRegistered", "ci-bot", Some("api:shared")),
            (5, "EntityUpdated", "release-bot", Some("api:shared")),
        ],
        "{events:#?}"
    );
    // A registration is one ADD of the whole descriptor at "".
    let registered = &events[0]["changes"];
    assert_eq!(registered.as_array().unwrap().len(), 1);
    assert_eq!(registered[0]["op"], "ADD");
    assert_eq!(registered[0]["path"], "");
    assert_eq!(
        registered[0]["newValue"]["metadata"]["description"],
        "first"
    );
    assert_eq!(
        events[0]["relationsAdded"],
        json!([{ "type": "ownedBy", "targetRef": "group:default/team-a", "field": "spec.owner" }])
    );
    // An update lists its fields, and the relation its reference field added.
    let mut changed: Vec<(String, String)> = events[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().into(),
                c["op"].as_str().unwrap().into(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![
            ("/metadata/description".into(), "REPLACE".into()),
            ("/spec/dependsOn".into(), "REPLACE".into()),
        ]
    );
    assert_eq!(
        events[1]["relationsAdded"],
        json!([{ "type": "dependsOn", "targetRef": "component:default/billing", "field": "spec.dependsOn" }])
    );
    assert_eq!(events[1]["relationsRemoved"], json!([]));
    // A removal is one REMOVE of the last descriptor; every relation goes.
    assert_eq!(events[2]["changes"][0]["op"], "REMOVE");
    assert_eq!(
        events[2]["changes"][0]["oldValue"]["metadata"]["description"],
        "second"
    );
    assert_eq!(events[2]["relationsRemoved"].as_array().unwrap().len(), 2);
    // The re-owning swaps one ownedBy for another.
    assert_eq!(
        events[4]["relationsAdded"],
        json!([{ "type": "ownedBy", "targetRef": "group:default/team-b", "field": "spec.owner" }])
    );
    assert_eq!(
        events[4]["relationsRemoved"],
        json!([{ "type": "ownedBy", "targetRef": "group:default/team-a" }])
    );
    assert_eq!(events[4]["ref"], REF);
    assert_eq!(events[4]["entity"]["name"], "audited");
    // Ingest and mutations record no correlation id yet; the field is there.
    assert!(events[4].get("correlationId").is_some());

    // Newest first, two at a time, through cursors.
    let mut versions = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = server
            .data(HISTORY, json!({ "ref": REF, "first": 2, "after": after }))
            .await;
        let page = &data["entity"]["history"];
        versions.extend(
            page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["version"].as_i64().unwrap()),
        );
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(versions, vec![5, 4, 3, 2, 1]);
}

const THEN: &str = r#"query($ref: String!, $asOf: DateTime, $version: Int) {
  entity(ref: $ref, asOf: $asOf, version: $version) {
    version description ... on Component { owner { ref } }
    relations { type targetRef } dependsOn: relations(type: "dependsOn") { targetRef } } }"#;

async fn then(server: &TestServer, reference: &str, as_of: Value, version: Value) -> Value {
    let data = server
        .data(
            THEN,
            json!({ "ref": reference, "asOf": as_of, "version": version }),
        )
        .await;
    data["entity"].clone()
}

#[tokio::test]
async fn as_of_and_version_give_the_entity_as_it_was() {
    let (server, _) = edited().await;
    let events = history(&server).await;
    let at = |v: usize| events[v - 1]["recordedAt"].clone();
    let descriptions = [
        (1, Some("first")),
        (2, Some("second")),
        (3, None),
        (4, Some("pushed")),
        (5, Some("pushed")),
    ];
    for (version, description) in descriptions {
        let by_time = then(&server, REF, at(version), Value::Null).await;
        let by_version = then(&server, REF, Value::Null, json!(version)).await;
        match description {
            Some(text) => {
                assert_eq!(by_time["description"], text, "asOf version {version}");
                assert_eq!(by_time["version"], version as i64);
                assert_eq!(by_time, by_version, "version {version}");
            }
            None => {
                assert!(
                    by_time.is_null() && by_version.is_null(),
                    "removed at {version}"
                );
            }
        }
    }
    // Relations as declared then, not today's.
    let v1 = then(&server, REF, Value::Null, json!(1)).await;
    assert_eq!(v1["dependsOn"], json!([]));
    assert_eq!(
        v1["relations"],
        json!([{ "type": "ownedBy", "targetRef": "group:default/team-a" }])
    );
    let v2 = then(&server, REF, Value::Null, json!(2)).await;
    assert_eq!(
        v2["dependsOn"],
        json!([{ "targetRef": "component:default/billing" }])
    );
    // Before creation: null; a version it never had: null.
    let first: chrono::DateTime<chrono::Utc> = serde_json::from_value(at(1)).unwrap();
    let before = first - chrono::Duration::seconds(1);
    assert!(then(&server, REF, json!(before), Value::Null)
        .await
        .is_null());
    assert!(then(&server, REF, Value::Null, json!(6)).await.is_null());
    // A removed entity travels.
    let gone = "component:gone";
    assert!(server.data(THEN, json!({ "ref": gone })).await["entity"].is_null());
    let past = then(&server, gone, at(2), Value::Null).await;
    assert_eq!(past["description"], "short-lived");
    assert!(then(&server, gone, at(3), Value::Null).await.is_null());
}

#[tokio::test]
async fn entity_diff_compares_two_versions() {
    let (server, _) = edited().await;
    let query = r#"query($from: Int!, $to: Int!) {
      entityDiff(ref: "component:audited", fromVersion: $from, toVersion: $to) { path op oldValue newValue } }"#;
    let diff = server.data(query, json!({ "from": 2, "to": 5 })).await;
    let mut changes: Vec<Value> = diff["entityDiff"].as_array().unwrap().clone();
    changes.retain(|c| {
        !c["path"]
            .as_str()
            .unwrap()
            .starts_with("/metadata/annotations")
    });
    assert_eq!(
        changes,
        vec![
            json!({ "path": "/metadata/description", "op": "REPLACE", "oldValue": "second", "newValue": "pushed" }),
            json!({ "path": "/spec/owner", "op": "REPLACE", "oldValue": "team-a", "newValue": "team-b" }),
        ]
    );
    let removed = server.data(query, json!({ "from": 2, "to": 3 })).await;
    assert_eq!(removed["entityDiff"][0]["path"], "");
    assert_eq!(removed["entityDiff"][0]["op"], "REPLACE");
    assert!(removed["entityDiff"][0]["newValue"].is_null());
}

const FEED: &str = r#"query($filter: EventFilter, $after: String, $first: Int) {
  events(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { position ref type actor } } }"#;

#[tokio::test]
async fn the_feed_filters_and_its_cursors_survive_appends() {
    let (server, _) = edited().await;
    let filter = json!({ "actor": "release-bot", "types": ["EntityUpdated"] });
    let data = server.data(FEED, json!({ "filter": filter })).await;
    let nodes = data["events"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["ref"], REF);
    let by_ref = server
        .data(
            FEED,
            json!({ "filter": { "refs": ["component:gone"], "kinds": ["COMPONENT"] } }),
        )
        .await;
    let types: Vec<&str> = by_ref["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["EntityRegistered", "EntityRemoved"]);

    // Walk two at a time while new events are appended between pages.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    for round in 0.. {
        let data = server
            .data(FEED, json!({ "first": 2, "after": after }))
            .await;
        let page = &data["events"];
        seen.extend(
            page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["position"].as_i64().unwrap()),
        );
        if round < 4 {
            apply(
                &server,
                WRITER,
                &component(&format!("extra-{round}"), "x", "team-a", &[]),
            )
            .await;
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let all = server.data(FEED, json!({ "first": 500 })).await;
    let every: Vec<i64> = all["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["position"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, every, "no gap, no duplicate, in order");
}

#[tokio::test]
async fn verify_integrity_names_the_tampered_version() {
    let (server, _) = edited().await;
    let query = r#"{ verifyIntegrity(ref: "component:audited") { intact events breaks { stream version position reason } } }"#;
    let clean = server.data(query, json!({})).await;
    assert_eq!(clean["verifyIntegrity"]["intact"], true);
    assert_eq!(clean["verifyIntegrity"]["events"], 5);
    assert_eq!(clean["verifyIntegrity"]["breaks"], json!([]));

    let mut superuser = server.db.superuser.connect().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut superuser)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE events SET payload = payload || '{\"forged\": true}'::jsonb \
         WHERE stream = $1 AND version = 2",
    )
    .bind(REF)
    .execute(&mut superuser)
    .await
    .unwrap();
    superuser.close().await.unwrap();

    let broken = server.data(query, json!({})).await;
    let report = &broken["verifyIntegrity"];
    assert_eq!(report["intact"], false);
    assert_eq!(report["breaks"].as_array().unwrap().len(), 1);
    assert_eq!(report["breaks"][0]["stream"], REF);
    assert_eq!(report["breaks"][0]["version"], 2);
}

#[tokio::test]
async fn verify_integrity_names_an_event_inserted_by_the_server_role_and_a_replaced_guard() {
    use almanac_store::log::{event_hash, HashInput};
    use almanac_store::EventLog;
    let (server, _) = edited().await;
    let query = r#"{ verifyIntegrity(ref: "component:audited") { intact events breaks { stream version position reason } } }"#;
    // The server's own role appends a forged version with a valid chain link,
    // another actor and a time a day back, through plain SQL.
    let head = EventLog::new(server.db.pool.clone())
        .read_stream(REF, 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let recorded_at = head.recorded_at - chrono::Duration::days(1);
    let payload = json!({"changes": []});
    let hash = event_hash(
        Some(&head.hash),
        &HashInput {
            stream: REF,
            version: head.version + 1,
            event_type: &head.event_type,
            schema_version: head.schema_version,
            payload: &payload,
            actor: "admin",
            source: None,
            correlation_id: None,
            causation_id: None,
            recorded_at,
        },
    );
    sqlx::query(
        "INSERT INTO events (stream, version, event_type, schema_version, payload, actor, \
           recorded_at, hash) VALUES ($1, $2, $3, $4, $5, 'admin', $6, $7)",
    )
    .bind(REF)
    .bind(head.version + 1)
    .bind(&head.event_type)
    .bind(head.schema_version)
    .bind(&payload)
    .bind(recorded_at)
    .bind(hash.as_slice())
    .execute(&server.db.pool)
    .await
    .unwrap();
    let report = server.data(query, json!({})).await["verifyIntegrity"].clone();
    assert_eq!(report["intact"], false, "{report}");
    let breaks = report["breaks"].as_array().unwrap();
    let named: Vec<(i64, &str)> = breaks
        .iter()
        .map(|b| {
            (
                b["version"].as_i64().unwrap(),
                b["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        named
            .iter()
            .any(|(v, r)| *v == head.version + 1 && r.contains("after the last signed checkpoint")),
        "{named:?}"
    );
    assert!(
        named
            .iter()
            .any(|(v, r)| *v == head.version + 1 && r.contains("earlier than")),
        "{named:?}"
    );

    // The owner replaces a guard function with a no-op.
    sqlx::query(
        "CREATE OR REPLACE FUNCTION events_serialise_appends() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    )
    .execute(&server.db.owner)
    .await
    .unwrap();
    let report = server.data(query, json!({})).await["verifyIntegrity"].clone();
    let reasons: Vec<&str> = report["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("guard altered") && r.contains("events_serialise_appends")),
        "{reasons:?}"
    );
}
