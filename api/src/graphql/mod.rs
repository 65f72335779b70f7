//! The GraphQL schema: query and mutation roots, entity types, the gate
//! extension and per-request loaders. Transport (HTTP, WebSocket) is
//! `crate::http`'s; this module knows nothing of requests' bytes or headers.

mod batches;
mod connection;
mod cost;
mod dependencies;
pub mod entity;
mod filter;
pub mod gate;
mod history;
mod ids;
pub mod loaders;
mod long;
mod memo;
mod mutation;
mod operational;
mod ownership;
mod push;
mod query;
mod results;
mod size;

use crate::limits::Limits;
use almanac_store::catalog::Catalog;
use almanac_store::PgPool;
use async_graphql::{Schema, SchemaBuilder};
pub use history::ConnectionSlots;
use history::{Subscription, WakeHub};

/// Queries, mutations and the live history subscriptions (over WebSocket).
pub type AlmanacSchema = Schema<query::Query, mutation::Mutation, Subscription>;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, Subscription> {
    Schema::build(query::Query, mutation::Mutation, Subscription).extension(gate::Gate)
}

/// The read pool, for what reads the log (history, subscriptions) rather
/// than the projections.
#[derive(Clone)]
pub struct ReadPool(pub PgPool);

/// The schema the server runs: reads go through `catalog`, writes use
/// `pool`, the log's history `reads`; subscriptions share one event listener.
pub fn build(
    catalog: Catalog,
    pool: PgPool,
    reads: PgPool,
    limits: Limits,
    reading: almanac_ingest::ReadPolicy,
) -> AlmanacSchema {
    let hub = WakeHub::new(reads.clone(), limits.subscription_poll());
    builder()
        .data(reading)
        .data(catalog)
        .data(pool)
        .data(ReadPool(reads))
        .data(limits)
        .data(hub)
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
