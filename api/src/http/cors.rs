//! Cross-origin access for browser portals: the `cors:` section, in the shape
//! Backstage users know from `backend.cors` (`origin`, `methods`,
//! `credentials`, `maxAge`), and the layer that applies it.
//!
//! Off by default (no origin allowed). A preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) from an allowed origin gets 204 and the
//! `Access-Control-Allow-*` headers; from any other origin 403 and none. An
//! actual request from an allowed origin gets `Access-Control-Allow-Origin`
//! (the origin itself, never `*`) and the rest; from any other origin it is
//! still answered (CORS is the browser's rule, not authentication) but without
//! those headers, so a browser keeps the answer from the page. WebSocket
//! upgrades check `Origin` with [`CorsConfig::allows_socket`]: the same list,
//! plus the server's own origin.
//!
//! An origin entry is an exact origin (`https://portal.corp`) or a pattern in
//! which `*` stands for any run of characters other than `/`
//! (`https://*.corp.example`, `http://localhost:*`). It does not do regular
//! expressions, brace alternatives or per-route policies.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;

/// The `cors:` section.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct CorsConfig {
    /// Origins allowed to call the API from a browser: exact origins or
    /// patterns with `*`; one string or a list. Empty (the default): none.
    #[serde(deserialize_with = "one_or_many")]
    pub origin: Vec<String>,
    /// Methods a preflight allows; default `GET`, `POST`.
    pub methods: Vec<String>,
    /// Whether a browser may send cookies or HTTP auth along
    /// (`Access-Control-Allow-Credentials: true`). Bearer tokens in
    /// `Authorization` need no credentials mode.
    pub credentials: bool,
    /// Seconds a browser may cache a preflight's answer; none by default.
    pub max_age: Option<u64>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origin: Vec::new(),
            methods: vec!["GET".into(), "POST".into()],
            credentials: false,
            max_age: None,
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(origin) => vec![origin],
        OneOrMany::Many(origins) => origins,
    })
}

/// Response headers a browser may read besides the safelisted ones.
const EXPOSED: &str = "etag, www-authenticate";

impl CorsConfig {
    /// Whether the section is usable, naming the first bad entry: an origin is
    /// `scheme://host[:port]` (no path, no trailing slash), a method a token.
    pub fn validate(&self) -> Result<(), String> {
        for (i, origin) in self.origin.iter().enumerate() {
            let bad = |why: &str| format!("cors.origin[{i}]: {origin:?} {why}");
            let Some((scheme, rest)) = origin.split_once("://") else {
                return Err(bad("is not an origin (scheme://host[:port])"));
            };
            if scheme.is_empty()
                || !scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*')
            {
                return Err(bad("has no valid scheme (http or https)"));
            }
            if rest.is_empty() || rest.contains('/') {
                return Err(bad(
                    "must be scheme://host[:port] with no path or trailing slash",
                ));
            }
            if HeaderValue::from_str(origin).is_err() || origin.contains(char::is_whitespace) {
                return Err(bad("holds characters an Origin header cannot"));
            }
        }
        for (i, method) in self.methods.iter().enumerate() {
            if method.parse::<Method>().is_err() || method.is_empty() {
                return Err(format!(
                    "cors.methods[{i}]: {method:?} is not an HTTP method"
                ));
            }
        }
        Ok(())
    }

    /// Whether `origin` (an `Origin` header's text) is on the list.
    pub fn allows(&self, origin: &str) -> bool {
        self.origin
            .iter()
            .any(|allowed| matches_pattern(allowed.as_bytes(), origin.as_bytes()))
    }

    /// Whether a WebSocket upgrade with these headers may open: no `Origin`
    /// (not a browser), the server's own origin (its `Host`), or one on the list.
    pub fn allows_socket(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        (host.is_some() && authority.is_some_and(|a| a.eq_ignore_ascii_case(host.unwrap_or(""))))
            || self.allows(origin)
    }

    fn methods_header(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.methods.join(", ")).ok()
    }
}

/// `*` matches any run of bytes other than `/`; everything else compares
/// ASCII case-insensitively (schemes and hosts are case-insensitive).
fn matches_pattern(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            // Try every length the star can take, stopping at a `/`.
            let mut i = 0;
            loop {
                if matches_pattern(rest, &text[i..]) {
                    return true;
                }
                if i == text.len() || text[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((first, rest)) => text
            .split_first()
            .is_some_and(|(t, text)| t.eq_ignore_ascii_case(first) && matches_pattern(rest, text)),
    }
}

/// The layer: answers preflights, decorates answers to allowed origins.
pub async fn layer(State(cors): State<Arc<CorsConfig>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let allowed = origin.to_str().is_ok_and(|o| cors.allows(o));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !allowed {
            let mut refused = StatusCode::FORBIDDEN.into_response();
            vary_origin(refused.headers_mut());
            return refused;
        }
        let mut answer = StatusCode::NO_CONTENT.into_response();
        let requested = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned();
        let headers = answer.headers_mut();
        allow_origin(&cors, headers, origin);
        if let Some(methods) = cors.methods_header() {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        // As Backstage's `cors` package does: the headers the page asked for
        // (the origin is trusted; a header the server ignores does no harm).
        if let Some(requested) = requested {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
        }
        if let Some(max_age) = cors.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age));
        }
        headers.append(
            header::VARY,
            HeaderValue::from_static(
                "access-control-request-method, access-control-request-headers",
            ),
        );
        return answer;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    vary_origin(headers);
    if allowed {
        allow_origin(&cors, headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    response
}

fn allow_origin(cors: &CorsConfig, headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    if cors.credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    vary_origin(headers);
}

/// The answer depends on `Origin`: caches must not hand one origin's to another.
fn vary_origin(headers: &mut HeaderMap) {
    let already = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("origin"))
    });
    if !already {
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(origins: &[&str]) -> CorsConfig {
        CorsConfig {
            origin: origins.iter().map(|o| o.to_string()).collect(),
            ..CorsConfig::default()
        }
    }

    #[test]
    fn exact_origins_and_patterns_match_whole_origins() {
        let cors = config(&["http://localhost:3000", "https://*.corp.example"]);
        assert!(cors.allows("http://localhost:3000"));
        assert!(cors.allows("HTTP://LOCALHOST:3000"));
        assert!(!cors.allows("http://localhost:30001"));
        assert!(!cors.allows("http://localhost"));
        assert!(cors.allows("https://portal.corp.example"));
        assert!(cors.allows("https://a.b.corp.example"));
        assert!(!cors.allows("https://corp.example"));
        assert!(!cors.allows("https://evil.example/.corp.example"));
        assert!(!cors.allows("http://portal.corp.example"));
        assert!(!CorsConfig::default().allows("http://localhost:3000"));
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(
            config(&["http://localhost:3000/"]).validate(),
            Err("cors.origin[0]: \"http://localhost:3000/\" must be scheme://host[:port] with no path or trailing slash".into())
        );
        assert!(config(&["localhost:3000"]).validate().is_err());
        assert!(config(&["https://*.corp.example", "http://localhost:*"])
            .validate()
            .is_ok());
        let bad_method = CorsConfig {
            methods: vec!["GET POST".into()],
            ..CorsConfig::default()
        };
        assert!(bad_method.validate().is_err());
    }
}
