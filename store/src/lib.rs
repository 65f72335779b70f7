//! Almanac's PostgreSQL layer: the append-only event log, the projections read by
//! queries, and the embedded database used when no `DATABASE_URL` is given.
//!
//! It knows SQL and connections; it does not parse descriptors or decide what
//! changed (that is `almanac-domain`), and it serves no HTTP.

pub mod catalog;
pub mod db;
pub mod embedded;
pub mod entity_row;
mod error;
pub mod follow;
pub mod history;
pub mod ingest_state;
pub mod location_reads;
pub mod locations;
pub mod log;
pub mod metrics;
pub mod operational;
pub mod projection;
pub mod source_digests;
mod stored_relation;
mod tx;

#[cfg(feature = "test-harness")]
pub mod testing;

pub use error::{is_unavailable, StoreError};
/// The connection pool every store call takes; re-exported so that callers do
/// not depend on `sqlx` themselves.
pub use sqlx::PgPool;
pub use tx::Tx;

pub use db::{connect, connect_with, pool_options, Database, DbError, MIGRATOR};
pub use log::{
    AppendError, AppendMeta, AppendOutcome, EventLog, NewEvent, StoredEvent, StreamAppend,
};
