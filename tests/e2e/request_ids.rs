//! A request's id: taken from the client's `x-request-id`, returned in the
//! response, and present in the log lines the request wrote.

use super::support::{scratch_dir, Server};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_request_id_is_returned_and_in_every_log_line_of_its_request() {
    let dir = scratch_dir("request-ids");
    let server = Server::start_env(&dir, &[("RUST_LOG", "info,almanac_api=debug")]);
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/graphql"))
        .header("x-request-id", "e2e-trace-7f3a")
        .json(&serde_json::json!({ "query": "query Probe { __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "e2e-trace-7f3a");

    // Without one (or with one that is not sane), the server gives a new one.
    let response = client
        .get(server.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let given = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid_like(given), "a new UUID, got {given}");

    // The request's own line ("request answered"), written in its span.
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let found = server
            .logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("request answered") && l.contains("e2e-trace-7f3a"))
            .cloned();
        if let Some(line) = found {
            break line;
        }
        assert!(Instant::now() < deadline, "no log line of the request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["span"]["request_id"], "e2e-trace-7f3a", "{line}");
    assert_eq!(line["span"]["route"], "/graphql", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    server.terminate();
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}
