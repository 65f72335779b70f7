//! The GraphQL schema: query and mutation roots, entity types, the gate
//! extension and per-request loaders. Transport (HTTP, WebSocket) is
//! `crate::http`'s; this module knows nothing of requests' bytes or headers.

mod apply;
mod batches;
mod connection;
mod dependencies;
pub mod entity;
mod filter;
pub mod gate;
mod history;
mod ids;
pub mod loaders;
mod memo;
mod mutation;
mod operational;
mod ownership;
mod query;
mod results;

use crate::limits::Limits;
use almanac_store::catalog::Catalog;
use async_graphql::{Schema, SchemaBuilder};
use history::{Subscription, WakeHub};
use sqlx::PgPool;

/// Queries, mutations and the live history subscriptions (over WebSocket).
pub type AlmanacSchema = Schema<query::Query, mutation::Mutation, Subscription>;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, Subscription> {
    Schema::build(query::Query, mutation::Mutation, Subscription).extension(gate::Gate)
}

/// The schema the server runs: reads go through `catalog`, writes and the
/// log's history use `pool`; subscriptions share one event listener.
pub fn build(
    catalog: Catalog,
    pool: PgPool,
    limits: Limits,
    reading: almanac_ingest::ReadPolicy,
) -> AlmanacSchema {
    let hub = WakeHub::new(pool.clone(), limits.subscription_poll());
    builder()
        .data(reading)
        .data(catalog)
        .data(pool)
        .data(limits)
        .data(hub)
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
