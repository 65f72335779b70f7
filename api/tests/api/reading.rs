//! The push path and URL locations read only what `reading.allow` lists: a loopback
//! target is refused without a connection, a URL with user info is refused before it is
//! recorded, and no answer (result, location, processing error, event) shows a
//! credential or a byte of a refused read. A listed host is read.

use super::support::{reading_server, ADMIN};
use almanac_ingest::read::AllowRule;
use almanac_ingest::ReadPolicy;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BODY: &str = "openapi: 3.0.0 # fetched-marker-4410\n";

/// A listener on 127.0.0.1 that answers every request with [`BODY`] and counts the
/// connections it accepts.
async fn counting_target() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (authority, count)
}

fn api_document(name: &str, target: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  \
         type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: {target}\n"
    )
}

const APPLY: &str = r#"mutation($d: String!) { applyEntities(documents: $d) {
    __typename
    ... on ApplySuccess { entities { ref ... on Api { definition } } }
    ... on InvalidDescriptors { message errors { field message } } } }"#;

const ADD: &str = r#"mutation($t: String!) { addLocation(type: "url", target: $t) {
    __typename
    ... on InvalidInput { message }
    ... on LocationSuccess { location { target } summary { registered errors { source message } } } } }"#;

const EVERYTHING: &str = r#"{ locations { type target } processingErrors { source message }
    events(first: 50) { nodes { source actor } } }"#;

#[tokio::test]
async fn a_push_and_a_url_location_read_nothing_unlisted_and_show_no_credential() {
    let (authority, connections) = counting_target().await;
    let server = reading_server(ReadPolicy::default()).await;
    let metrics = format!("http://{authority}/metrics");

    let pushed = server
        .mutate(APPLY, json!({ "d": api_document("probe", &metrics) }))
        .await;
    let result = &pushed["applyEntities"];
    assert_eq!(result["__typename"], "InvalidDescriptors", "{result:#}");
    assert_eq!(
        result["errors"][0]["message"],
        format!(
            "spec.definition: cannot read $text {metrics}: url:{metrics}: refused by \
             reading.allow: host {authority} is not listed"
        )
    );

    let with_credential = format!("http://probe:hunter2@{authority}/catalog-info.yaml");
    let added = server
        .mutate_as(ADMIN, ADD, json!({ "t": with_credential }))
        .await;
    assert_eq!(
        added["addLocation"]["__typename"], "InvalidInput",
        "{added:#}"
    );
    assert!(added["addLocation"]["message"]
        .as_str()
        .unwrap()
        .contains("carries user info"));

    let unlisted = format!("http://{authority}/catalog-info.yaml");
    let added_unlisted = server.mutate_as(ADMIN, ADD, json!({ "t": unlisted })).await;
    let summary = &added_unlisted["addLocation"]["summary"];
    assert_eq!(
        summary["errors"][0]["message"],
        format!("refused by reading.allow: host {authority} is not listed"),
        "{added_unlisted:#}"
    );

    let seen = server.data(EVERYTHING, json!({})).await;
    assert_eq!(
        seen["locations"],
        json!([{ "type": "url", "target": unlisted }])
    );
    let said = format!("{pushed}{added}{added_unlisted}{seen}");
    assert!(!said.contains("hunter2"), "{said}");
    assert!(!said.contains("fetched-marker"), "{said}");
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_listed_host_is_read_by_a_push() {
    let (authority, connections) = counting_target().await;
    let server = reading_server(ReadPolicy {
        allow: vec![AllowRule {
            host: authority.clone(),
            paths: vec!["/specs/".into()],
            private: false,
        }],
        ..ReadPolicy::default()
    })
    .await;

    let pushed = server
        .mutate(
            APPLY,
            json!({ "d": api_document("listed", &format!("http://{authority}/specs/a.yaml")) }),
        )
        .await;

    let result = &pushed["applyEntities"];
    assert_eq!(result["__typename"], "ApplySuccess", "{result:#}");
    assert_eq!(result["entities"][0]["definition"], BODY);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}
