//! Catalog queries: read-only SQL over the projection tables (`entities`,
//! `relations`, `locations`, `processing_errors`, `conflicts`), shaped for the
//! GraphQL layer: entities by ref, filtered and keyset-paginated lists, search,
//! facets, relation hops in batches, ownership and dependency walks.
//!
//! Every call is one statement, or one statement per level of a walk, whatever
//! the number of keys it is given: callers batch (DataLoader) and this module
//! never loops over rows issuing queries. Values always travel as bind
//! parameters; only fixed SQL fragments chosen from enums are spliced in.
//! It never writes, and it knows nothing of GraphQL, cursors' encoding or tokens.

mod dependencies;
mod entities;
mod filter;
mod list;
mod operational;
mod ownership;
mod relations;
mod search;

pub use dependencies::{Direction, Reached, Walk, WalkEdge, WalkLimits};
pub use entities::EntityRecord;
pub use filter::{Filter, TextQuery};
pub use list::{Facet, FacetField, ListPage, Listed, OrderDirection, OrderField, OrderKey};
pub use operational::{ConflictRecord, LocationRecord, ProcessingErrorRecord};
pub use ownership::{Ancestor, OwnedScope, Rooted};
pub use relations::RelationRecord;
pub use search::Scored;

use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog query failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// Counts the statements this module sends, so a test can prove that a page
/// costs a handful of queries, not one per row. Shared by clones.
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The read side of the catalog, over the server's pool.
#[derive(Clone, Debug)]
pub struct Catalog {
    pool: PgPool,
    statements: StatementCounter,
}

impl Catalog {
    pub fn new(pool: PgPool) -> Self {
        Self::with_counter(pool, StatementCounter::default())
    }

    pub fn with_counter(pool: PgPool, statements: StatementCounter) -> Self {
        Self { pool, statements }
    }

    pub fn statements(&self) -> &StatementCounter {
        &self.statements
    }

    /// The pool, counting the statement about to run on it.
    fn counted(&self) -> &PgPool {
        self.statements.bump();
        &self.pool
    }
}

/// Kind part of a canonical ref (`component:default/x` -> `component`).
pub fn kind_of_ref(canonical: &str) -> &str {
    canonical.split_once(':').map_or("", |(kind, _)| kind)
}
