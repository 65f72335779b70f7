//! Almanac's PostgreSQL layer: the append-only event log, the projections read by
//! queries, and the embedded database used when no `DATABASE_URL` is given.
//!
//! It knows SQL and connections; it does not parse descriptors or decide what
//! changed (that is `almanac-domain`), and it serves no HTTP.

pub mod catalog;
pub mod db;
pub mod embedded;
pub mod history;
pub mod log;
pub mod projection;

#[cfg(feature = "test-harness")]
pub mod testing;

pub use db::{connect, connect_with, pool_options, Database, DbError, MIGRATOR};
pub use log::{
    AppendError, AppendMeta, AppendOutcome, EventLog, NewEvent, StoredEvent, StreamAppend,
};
