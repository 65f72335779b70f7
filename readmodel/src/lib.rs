//! Almanac's catalog read model: the catalog's current state held in memory as an
//! immutable [`Snapshot`], folded from the log, and the catalog queries answered from it
//! (entities by ref, relation hops both ways, ownership through group trees, dependency
//! walks, filters, sorting with keyset pages, facets, ranked search).
//!
//! Pure, like `almanac_domain`: no IO, no async, no SQL, no clock. Reading the log,
//! publishing a new snapshot per batch, waking on NOTIFY and serving GraphQL are the
//! server's; history, time travel and the full text of large fields stay in PostgreSQL.
//! The queries mirror `store::catalog`'s semantics so either can answer a request.

pub mod entity;
mod fast;
pub mod filter;
pub mod graph;
pub mod list;
pub mod search;
mod set;
pub mod snapshot;

pub use entity::{Entity, Link, RelationRow, StringMap, ELIDE_BYTES};
pub use filter::Filter;
pub use graph::{
    Ancestor, Direction, OwnedScope, Reached, RootedPage, Walk, WalkEdge, WalkLimits, MAX_ANCESTRY,
};
pub use list::{
    Facet, FacetField, ListPage, Listed, OrderDirection, OrderField, OrderKey, Scored, SearchPage,
};
pub use search::{TextQuery, TextQueryError, MAX_SEARCH_BYTES, MAX_SEARCH_TERMS};
pub use snapshot::{Advanced, LogEvent, Skipped, Snapshot};
