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
use async_graphql::{EmptySubscription, Schema, SchemaBuilder};
use sqlx::PgPool;

/// Subscriptions come with the history issue; the WebSocket transport already
/// runs queries and mutations over `graphql-transport-ws`.
pub type AlmanacSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription).extension(gate::Gate)
}

/// The schema the server runs: reads go through `catalog`, writes use `pool`.
pub fn build(catalog: Catalog, pool: PgPool, limits: Limits) -> AlmanacSchema {
    builder().data(catalog).data(pool).data(limits).finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
