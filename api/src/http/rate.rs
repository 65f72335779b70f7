//! The per-client request rate limit (`rate_limit:`): a token bucket per
//! client, refilled at `requests_per_second` up to `burst`. A client is the
//! subject of the bearer token it presents (a known token), else its peer
//! address: anonymous clients, and requests with a token this server does not
//! know (they are refused anyway), are limited by address. A request over the
//! limit gets 429 with `Retry-After` (whole seconds until a token is back) and,
//! on `/graphql`, a GraphQL error with code `RATE_LIMITED`; it is counted in
//! `almanac_requests_rejected_total{limit="rate"}`.
//!
//! Memory is bounded: at most `max_clients` buckets are held. When the map is
//! full, buckets that have refilled (idle clients, indistinguishable from new
//! ones) are dropped; if none has, a new client shares one overflow bucket, so
//! an attacker rotating addresses exhausts that bucket, never the memory or the
//! buckets of the clients already known.
//!
//! The same layer counts every request by client
//! (`almanac_client_requests_total{client,status}`: the token's subject,
//! `anonymous`, or `unknown_token`; the subjects are the configured tokens', so
//! the series stay bounded), whether the limit is on or off: the dashboard's
//! answer to "which client is the trouble".
//!
//! It does not limit `/metrics`, `/healthz` or `/readyz` (scrapes and probes), nor
//! the messages on an open WebSocket (its upgrade is one request), nor the cost
//! of a request (the `graphql:` limits do that).

use crate::auth::{authorization_header, AuthConfig};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::recorder::{CLIENT_REQUESTS, REJECTED};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `rate_limit:` in the configuration file; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests per second one client may sustain; 0 turns the limit off.
    pub requests_per_second: f64,
    /// Requests one client may send at once before the rate applies.
    pub burst: u32,
    /// Clients tracked at once (bounds the limiter's memory, about 100 bytes each).
    pub max_clients: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 100.0,
            burst: 200,
            max_clients: 10_000,
        }
    }
}

impl RateLimitConfig {
    /// No limit: what a server built in code (`AppState::new`) has until told.
    pub fn off() -> Self {
        Self {
            requests_per_second: 0.0,
            ..Self::default()
        }
    }

    pub fn is_off(&self) -> bool {
        self.requests_per_second <= 0.0 || !self.requests_per_second.is_finite()
    }

    /// A clear error naming the field, for the configuration's check.
    pub fn validate(&self) -> Result<(), String> {
        if self.requests_per_second < 0.0 || self.requests_per_second.is_nan() {
            return Err(format!(
                "rate_limit.requests_per_second must be 0 (off) or more, got {}",
                self.requests_per_second
            ));
        }
        if !self.is_off() && (self.burst == 0 || self.max_clients == 0) {
            return Err(format!(
                "rate_limit.burst ({}) and rate_limit.max_clients ({}) must be at least 1 \
                 while the limit is on (requests_per_second: 0 turns it off)",
                self.burst, self.max_clients
            ));
        }
        Ok(())
    }
}

/// Who a bucket belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Client {
    Subject(String),
    Address(IpAddr),
    /// Every new client while the map is full of active ones.
    Overflow,
    /// No peer address known (a router served without connect info).
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every client, shared by the server's requests.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token of `client`'s bucket, or says how long until one is back.
    fn take(&self, client: Client, now: Instant) -> Result<(), Duration> {
        let rate = self.config.requests_per_second;
        let burst = f64::from(self.config.burst);
        // A poisoned map only means a panic elsewhere; its buckets are whole.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let refilled = |b: &Bucket| {
            (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(burst)
        };
        let client = if buckets.contains_key(&client) || buckets.len() < self.config.max_clients {
            client
        } else {
            buckets.retain(|_, b| refilled(b) < burst);
            if buckets.len() < self.config.max_clients {
                client
            } else {
                Client::Overflow
            }
        };
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens = refilled(bucket);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }
}

/// What the layer needs: the limiter (none when off) and the tokens that name
/// a client.
#[derive(Clone, Debug)]
pub struct RateLimit {
    pub limiter: Option<Arc<RateLimiter>>,
    pub auth: Arc<AuthConfig>,
}

/// Routes a client may always call: scrapes and probes.
fn exempt(path: &str) -> bool {
    matches!(path, "/metrics" | "/healthz" | "/readyz")
}

pub async fn layer(State(rate): State<RateLimit>, request: Request, next: Next) -> Response {
    if exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let (client, label) = client_of(&rate.auth, &request);
    let taken = match &rate.limiter {
        Some(limiter) => limiter
            .take(client, Instant::now())
            .map_err(|wait| (wait, &limiter.config)),
        None => Ok(()),
    };
    let response = match taken {
        Ok(()) => next.run(request).await,
        Err((wait, config)) => {
            metrics::counter!(REJECTED, "limit" => "rate").increment(1);
            too_many(request.uri().path(), wait, config)
        }
    };
    metrics::counter!(
        CLIENT_REQUESTS,
        "client" => label,
        "status" => status_class(response.status())
    )
    .increment(1);
    response
}

/// `2xx`, `4xx`, ...: a client's trouble by class, not by code.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The client for the limit (the token's subject when it is one this server
/// knows, else the peer address) and for the figures (the subject, `anonymous`
/// or `unknown_token`).
fn client_of(auth: &AuthConfig, request: &Request) -> (Client, String) {
    let header = authorization_header(request.headers()).ok().flatten();
    let subject = header
        .and_then(|header| auth.authenticate(Some(header)).ok())
        .and_then(|principal| principal.subject().map(str::to_string));
    if let Some(subject) = subject {
        return (Client::Subject(subject.clone()), subject);
    }
    let label = if header.is_some() {
        "unknown_token"
    } else {
        "anonymous"
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(Client::Unknown, |ConnectInfo(peer)| {
            Client::Address(peer.ip())
        });
    (client, label.to_string())
}

/// 429 with `Retry-After`; a GraphQL error body on `/graphql`, else Backstage's
/// REST error shape.
fn too_many(path: &str, wait: Duration, config: &RateLimitConfig) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let message = format!(
        "too many requests from this client: the limit is {} per second with bursts of {} \
         (rate_limit); retry after {seconds} s",
        config.requests_per_second, config.burst
    );
    let mut response = if path == "/graphql" {
        let error = ApiError::new(ErrorCode::RateLimited, message);
        let body = serde_json::json!({ "errors": [error.into_server_error()] });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    } else {
        let body = serde_json::json!({
            "error": { "name": "TooManyRequestsError", "message": message },
            "response": { "statusCode": 429 },
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        response
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64, burst: u32, max_clients: usize) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            requests_per_second: rate,
            burst,
            max_clients,
        })
    }

    fn address(last: u8) -> Client {
        Client::Address(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = limiter(2.0, 3, 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take(address(1), start), Ok(()));
        }
        assert_eq!(
            limiter.take(address(1), start),
            Err(Duration::from_millis(500)),
            "one token comes back in 1/rate seconds"
        );
        assert_eq!(limiter.take(address(2), start), Ok(()), "another client");
        let later = start + Duration::from_millis(500);
        assert_eq!(limiter.take(address(1), later), Ok(()));
        assert!(limiter.take(address(1), later).is_err());
    }

    #[test]
    fn new_clients_beyond_the_bound_share_one_bucket() {
        let limiter = limiter(1.0, 2, 2);
        let now = Instant::now();
        assert_eq!(limiter.take(address(1), now), Ok(()));
        assert_eq!(limiter.take(address(2), now), Ok(()));
        // Both known clients are active: 3, 4 and 5 share the overflow bucket.
        assert_eq!(limiter.take(address(3), now), Ok(()));
        assert_eq!(limiter.take(address(4), now), Ok(()));
        assert!(limiter.take(address(5), now).is_err());
        assert_eq!(limiter.clients(), 3, "two clients and the overflow");
        assert_eq!(
            limiter.take(address(1), now),
            Ok(()),
            "a known client keeps its bucket"
        );
        // Once a bucket has refilled, its client is dropped to make room.
        let later = now + Duration::from_secs(3);
        assert_eq!(limiter.take(address(6), later), Ok(()));
        assert!(limiter.clients() <= 3);
    }

    #[test]
    fn the_configuration_names_a_bad_field() {
        let bad = RateLimitConfig {
            requests_per_second: -1.0,
            ..RateLimitConfig::default()
        };
        assert!(bad
            .validate()
            .expect_err("a negative rate")
            .contains("rate_limit.requests_per_second"));
        let off = RateLimitConfig {
            requests_per_second: 0.0,
            burst: 0,
            ..RateLimitConfig::default()
        };
        assert!(off.is_off());
        assert_eq!(off.validate(), Ok(()));
    }
}
