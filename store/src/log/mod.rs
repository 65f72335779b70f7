//! The event log: one append-only table, read in commit order.
//!
//! Appends are serialised by a transaction-scoped advisory lock, so the global
//! position order is the commit order and a reader's cursor is a single number.
//! This module never updates or deletes a row of the log.

mod append;
mod audit;
mod hash;
mod notify;
mod read;
pub mod seal;
mod transfer;
mod verify;

pub use append::{
    append_in, lock_appends, AppendError, AppendMeta, AppendOutcome, NewEvent, StreamAppend,
};
pub use audit::Audit;
pub use hash::{event_hash, HashInput};
pub use notify::{FeedWaker, EVENTS_CHANNEL};
pub(crate) use read::stream_head;
pub use read::{FeedFilter, StoredEvent, EVENT_COLUMNS};
pub use transfer::TransferError;
pub use verify::{ChainBreak, GuardReport, VerifyReport};

use sqlx::PgPool;

/// Handle on the log. Cheap to clone (it is a pool).
#[derive(Clone, Debug)]
pub struct EventLog {
    pool: PgPool,
}

impl EventLog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The lock every append takes; the same key is in the insert trigger of
/// `migrations/0001_event_log.sql`.
pub const APPEND_LOCK_KEY: i64 = 7_006_001;
