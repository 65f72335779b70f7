//! The GraphQL explorer: `GET /graphql` with `Accept: text/html` serves a small
//! page of our own (query editor, variables, headers with a token, run, result,
//! schema docs from introspection); its script and style are served from
//! `/graphql/explorer.js` and `/graphql/explorer.css`, compiled into the binary.
//!
//! It loads nothing from any other host, so it works on an air-gapped network.
//! It is not GraphiQL: no autocompletion or syntax highlighting, and no
//! third-party code. The page is static and holds no data: it is served
//! without authentication, and every query it runs is authenticated as usual.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("explorer/index.html");
const SCRIPT: &str = include_str!("explorer/explorer.js");
const STYLE: &str = include_str!("explorer/explorer.css");

/// The path of the explorer's script (the page links it).
pub const SCRIPT_PATH: &str = "/graphql/explorer.js";
/// The path of the explorer's style sheet.
pub const STYLE_PATH: &str = "/graphql/explorer.css";

/// Whether a GET asks for a page rather than a GraphQL response: `text/html`
/// named in `Accept` and preferred to both JSON types (a browser's address
/// bar; `*/*` alone stays JSON).
pub fn wants_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let html = super::media::quality(accept, "text/html");
    let json = super::media::quality(accept, super::media::JSON);
    let graphql = super::media::quality(accept, super::media::GRAPHQL_RESPONSE);
    // Only an explicit `text/html` counts (specificity 3); a tie goes to a
    // JSON type the client named as exactly.
    let beats = |(q, specificity): (f32, u8)| html.0 > q || (html.0 == q && specificity < 3);
    html.1 == 3 && html.0 > 0.0 && beats(json) && beats(graphql)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change only with the binary; a short cache is enough.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub fn page() -> Response {
    let mut response = asset("text/html; charset=utf-8", PAGE);
    // Only this server's own script, style and endpoint.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    response
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
