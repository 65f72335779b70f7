//! The GraphQL schema: query and mutation roots, entity types, the gate
//! extension and per-request loaders. Transport (HTTP, WebSocket) is
//! `crate::http`'s; this module knows nothing of requests' bytes or headers.

mod batches;
mod closed;
mod connection;
mod cost;
mod dependencies;
pub mod descriptors;
pub(crate) mod dry_run;
pub mod entity;
pub(crate) mod filter;
mod flat;
pub mod gate;
mod history;
mod ids;
pub mod loaders;
mod long;
mod memo;
mod mutation;
pub(crate) mod nodes;
mod operational;
mod ownership;
mod paged;
mod parsed;
mod push;
mod query;
pub(crate) mod raw;
mod results;
mod rooted;
mod size;
pub mod walks;

use crate::limits::GraphqlLimits;
use almanac_store::catalog::Catalog;
use almanac_store::follow::Followed;
use almanac_store::{EventLog, PgPool};
use async_graphql::{Schema, SchemaBuilder};
pub use history::ConnectionSlots;
use history::Subscription;
pub use history::WakeHub;

/// Queries, mutations and the live history subscriptions (over WebSocket).
pub type AlmanacSchema = Schema<query::Query, mutation::Mutation, Subscription>;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, Subscription> {
    Schema::build(query::Query, mutation::Mutation, Subscription).extension(gate::Gate::default())
}

/// The read pool, for what reads the log (history, subscriptions) rather
/// than the projections.
#[derive(Clone)]
pub struct ReadPool(pub PgPool);

/// The schema the server runs: reads go through `catalog`, writes append to
/// `log`, the log's history `reads`; subscriptions share one event listener,
/// `hub`. With `followed`, every operation pins the in-memory catalog's
/// current snapshot (see `gate`).
#[allow(clippy::too_many_arguments)]
pub fn build(
    catalog: Catalog,
    log: EventLog,
    reads: PgPool,
    limits: GraphqlLimits,
    reading: almanac_ingest::ReadPolicy,
    (read_limits, catalog_policy): (almanac_ingest::ReadLimits, almanac_ingest::CatalogPolicy),
    hub: WakeHub,
    followed: Option<Followed>,
    descriptors: std::sync::Arc<descriptors::DescriptorCache>,
) -> AlmanacSchema {
    let mut builder = builder();
    if let Some(followed) = followed {
        builder = builder.data(followed);
    }
    builder
        .data(reading)
        .data(read_limits)
        .data(catalog_policy)
        .data(catalog)
        .data(log)
        .data(ReadPool(reads))
        .data(limits)
        .data(hub)
        .data(descriptors)
        // One per server: walks shared across its requests.
        .data(std::sync::Arc::new(walks::RecentWalks::default()))
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
