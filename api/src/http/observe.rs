//! What every HTTP request passes through first: its request id (the client's
//! `x-request-id` when it is a sane one, else a new UUID), returned in the
//! response's `x-request-id` and carried by a span that every log line of the
//! request is written in; and its figures (count by route, method and status,
//! time to headers, body bytes; `crate::metrics::recorder`).
//!
//! Routes are labelled by their pattern (`/graphql`), never by the path a client
//! sent, so the series stay bounded; a path no route matches is `unmatched`.

use crate::metrics::recorder::{HTTP_DURATION, HTTP_REQUESTS, HTTP_RESPONSE_BYTES};
use axum::body::HttpBody;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// A longer id, or one with other than visible ASCII, is replaced (a log line
/// is not a place for a client's megabyte).
const MAX_REQUEST_ID_BYTES: usize = 128;

/// The client's request id when it is 1..=128 visible ASCII characters.
fn client_id(value: Option<&HeaderValue>) -> Option<HeaderValue> {
    let value = value?;
    let bytes = value.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_BYTES
        && bytes.iter().all(|b| b.is_ascii_graphic());
    sane.then(|| value.clone())
}

pub async fn layer(mut request: Request, next: Next) -> Response {
    let id = client_id(request.headers().get(&REQUEST_ID)).unwrap_or_else(|| {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    });
    request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = method_label(request.method().as_str());
    let span = tracing::info_span!(
        "http",
        request_id = id.to_str().unwrap_or(""),
        method,
        route = %route,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let took = started.elapsed();
    span.record("status", status);
    span.in_scope(|| {
        tracing::debug!(
            status,
            took_ms = took.as_millis() as u64,
            "request answered"
        )
    });
    metrics::histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method)
        .record(took.as_secs_f64());
    metrics::counter!(
        HTTP_REQUESTS,
        "route" => route.clone(),
        "method" => method,
        "status" => status.to_string()
    )
    .increment(1);
    if let Some(bytes) = response.body().size_hint().exact() {
        metrics::histogram!(HTTP_RESPONSE_BYTES, "route" => route).record(bytes as f64);
    }
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}

/// Methods as labels: the standard ones, anything else `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_only_when_sane() {
        let ok = HeaderValue::from_static("abc-123");
        assert_eq!(client_id(Some(&ok)), Some(ok));
        assert_eq!(
            client_id(Some(&HeaderValue::from_static("has space"))),
            None
        );
        assert_eq!(client_id(Some(&HeaderValue::from_static(""))), None);
        let long = HeaderValue::from_str(&"a".repeat(MAX_REQUEST_ID_BYTES + 1))
            .expect("visible ASCII is a header value");
        assert_eq!(client_id(Some(&long)), None);
        assert_eq!(client_id(None), None);
    }
}
