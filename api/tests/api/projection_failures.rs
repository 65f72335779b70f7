//! An event the projector could not project is visible where operators and users look:
//! `processingErrors`, the entity's `errors`, `/metrics` and `/readyz` (ready, with a
//! warning: the catalog goes on serving and updating everything else).

use super::support::{auth, server};
use almanac_api::GraphqlLimits;
use almanac_domain::{diff, CatalogEvent};
use almanac_store::projection::Projector;
use almanac_store::{AppendMeta, NewEvent, StreamAppend};
use serde_json::{json, Value};

fn component(spec_type: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "svc", "namespace": "default"},
        "spec": {"type": spec_type, "lifecycle": "production", "owner": "team-a"},
    })
}

#[tokio::test]
async fn a_projection_failure_shows_in_errors_metrics_and_readiness() {
    let server = server(auth(true), GraphqlLimits::default(), false).await;
    server.db.refuse_long_spec_types().await;
    let good = component("service");
    // Past validation, as a descriptor stored before the limits: 10,000 characters that
    // no index row can hold.
    let mut state = 0x2545_f491_u32;
    let long: String = (0..10_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let poison = component(&long);
    let events = [
        CatalogEvent::EntityRegistered {
            descriptor: good.clone(),
        },
        CatalogEvent::EntityUpdated {
            changes: diff(&good, &poison),
        },
    ];
    let append = StreamAppend {
        stream: "component:default/svc".into(),
        expected_version: 0,
        events: events
            .iter()
            .map(|event| NewEvent {
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                payload: event.to_payload(),
            })
            .collect(),
        source: None,
    };
    let meta = AppendMeta {
        actor: "test".into(),
        ..AppendMeta::default()
    };
    let log = server.db.log();
    let appended = log.append(&[append], &meta).await.unwrap();
    Projector::new(server.db.pool.clone())
        .catch_up()
        .await
        .unwrap();
    // Appended beside the server: wait until its snapshot holds it.
    server
        .caught_up(appended.last_position().expect("two events appended"))
        .await;

    let data = server
        .data(
            r#"{ entity(ref: "component:svc") { version ... on Component { type }
                   errors { source message } }
                 processingErrors(source: "projector") { entityRef } }"#,
            json!({}),
        )
        .await;
    // The in-memory catalog follows the log, which holds the event: the entity is at
    // version 2 there, though PostgreSQL's row could not take it (the long leaf is held
    // elided in memory; the whole entity at version 2 is folded from its stream).
    assert_eq!(data["entity"]["version"], json!(2));
    assert_eq!(data["entity"]["type"], json!(long));
    assert_eq!(data["entity"]["errors"][0]["source"], json!("projector"));
    let message = data["entity"]["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("event at position 2 (version 2 of component:default/svc, EntityUpdated) could not be stored"),
        "{message}"
    );
    assert_eq!(
        data["processingErrors"],
        json!([{"entityRef": "component:default/svc"}])
    );

    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("almanac_projection_failures{stage=\"write\"} 1\n")
            && metrics.contains("almanac_projection_failures{stage=\"fold\"} 0\n"),
        "{metrics}"
    );
    let ready = reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], json!("ready"));
    assert_eq!(body["projection"]["failures"], json!(1));
    assert_eq!(body["projection"]["lag_events"], json!(0));
    assert!(body["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("1 events could not be projected"));
}
