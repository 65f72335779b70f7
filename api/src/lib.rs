//! Almanac's HTTP surface: health and readiness, and GraphQL over HTTP
//! (`POST`/`GET /graphql`) and WebSocket (`graphql-transport-ws` on the same
//! path).
//!
//! It serves what the store's projections hold (read through
//! `almanac_store::catalog`, history and metrics through their store modules)
//! and writes only through `almanac-ingest`. It speaks no SQL: `sqlx` is not
//! among its dependencies. Its one HTML page, the GraphQL explorer, and
//! the page's assets are compiled in: it loads nothing from a CDN, since
//! Almanac must work on air-gapped networks.

mod auth;
mod error;
mod graphql;
mod health;
mod http;
mod limits;
mod metrics;
mod operations;
mod rest;
mod server;

pub use auth::{token_hash, AuthConfig, Scope, TokenConfig};
pub use error::ErrorCode;
pub use http::{CorsConfig, RateLimitConfig};
pub use limits::GraphqlLimits;
pub use server::{router, serve, AppState};

/// The GraphQL schema in SDL; `almanac schema` prints it and `schema.graphql`
/// at the repository root holds it.
pub fn schema_sdl() -> String {
    graphql::sdl()
}
