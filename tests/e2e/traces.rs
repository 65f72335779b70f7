//! Traces leave the process over OTLP only when an endpoint is configured: a
//! server pointed at a collector (here a minimal HTTP listener standing in for
//! one) sends its request's spans there.

use super::support::{scratch_dir, Server};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes) and
/// answers 200; `None` when the peer closed.
async fn one_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[header_end..header_end + length].to_vec();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .ok()?;
    Some((path, body))
}

async fn collector() -> (String, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(request) = one_request(&mut stream).await {
                    let _ = tx.send(request);
                }
            });
        }
    });
    (url, rx)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_set() {
    let (endpoint, mut received) = collector().await;
    let dir = scratch_dir("traces");
    let server = Server::start_env(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "almanac-e2e-traces"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let response = reqwest::Client::new()
        .post(server.url("/graphql"))
        .json(&serde_json::json!({ "query": "query TracedProbe { __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Batches leave every 100 ms here (OTEL_BSP_SCHEDULE_DELAY): wait for the
    // service, both spans and the operation's name to have arrived.
    let wanted: [&[u8]; 4] = [b"almanac-e2e-traces", b"graphql", b"TracedProbe", b"http"];
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !wanted.iter().all(|w| contains(&all, w)) {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            Ok(Some((path, body))) => {
                assert!(path.ends_with("/v1/traces"), "{path}");
                all.extend(body);
            }
            _ => break,
        }
    }
    for needle in wanted {
        assert!(
            contains(&all, needle),
            "{:?} not in the {} bytes exported",
            String::from_utf8_lossy(needle),
            all.len()
        );
    }
    assert!(server.terminate().success());
}
