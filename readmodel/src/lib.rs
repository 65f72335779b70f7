//! Almanac's catalog read model: the catalog's current state held in memory as an
//! immutable [`Snapshot`], folded from the log, and the catalog queries answered from it
//! (entities by ref, relation hops both ways, ownership through group trees, dependency
//! walks, filters, sorting with keyset pages, facets, ranked search).
//!
//! Pure, like `almanac_domain`: no IO, no async, no SQL, no clock. Reading the log,
//! publishing a new snapshot per batch, waking on NOTIFY and serving GraphQL are the
//! server's; history, time travel and the full text of large fields stay in PostgreSQL.
//! It is the one engine that answers the query vocabulary (`query`).

pub mod entity;
mod fast;
pub mod filter;
pub mod footprint;
pub mod graph;
pub mod list;
mod names;
mod path;
pub mod query;
mod rows;
mod search;
mod set;
pub mod snapshot;

pub use entity::{Entity, Link, RelationField, RelationRow, StringMap, ELIDE_BYTES};
pub use graph::{Ancestor, Reached, RootedPage, Walk, WalkEdge, MAX_ANCESTRY};
pub use list::{Facet, ListPage, Listed, Scored, SearchPage};
pub use query::{
    check_count, check_values, Direction, FacetField, FieldPath, Filter, FilterInputError,
    OrderDirection, OrderField, OrderKey, OwnedScope, PathTest, TextQuery, TextQueryError,
    WalkLimits, MAX_FILTER_VALUES, MAX_FILTER_VALUE_BYTES, MAX_PATH_BYTES, MAX_PATH_SEGMENTS,
    MAX_SEARCH_BYTES, MAX_SEARCH_TERMS,
};
pub use rows::RowRef;
pub use snapshot::{Advanced, Build, LogEvent, Relations, Skipped, Snapshot, INDEX_EVERY};

#[cfg(test)]
mod tests {
    /// The server hands one snapshot to every request's task, on any thread.
    #[test]
    fn a_snapshot_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<super::Snapshot>();
        let snapshot = super::Snapshot::empty();
        let reader = snapshot.clone();
        let seen = std::thread::spawn(move || reader.position()).join();
        assert_eq!(seen.ok(), Some(0));
    }
}
