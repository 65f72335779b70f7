//! Almanac's HTTP surface: health and readiness now, GraphQL over HTTP and
//! WebSocket as it lands.
//!
//! It serves what the store and its projections hold; it never writes SQL of
//! its own against the event log.

mod health;
mod server;

pub use server::{router, serve, AppState};
