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
pub(crate) use append::{append_known, KnownHeads};
pub use audit::Audit;
pub use hash::{event_hash, HashInput};
pub use notify::{FeedWaker, EVENTS_CHANNEL};
pub(crate) use read::stream_head;
pub use read::{FeedFilter, StoredEvent, EVENT_COLUMNS};
pub use transfer::TransferError;
pub use verify::{ChainBreak, GuardReport, VerifyReport};

use crate::tx::Tx;
use crate::StoreError;
use seal::Sealer;
use sqlx::PgPool;
use std::sync::Arc;

/// Handle on the log. Cheap to clone (a pool and a shared key).
#[derive(Clone, Debug)]
pub struct EventLog {
    pool: PgPool,
    /// The key its appends (and imports) sign checkpoints with; without one
    /// they fail with [`seal::SealError::NoKey`]. Reading needs none.
    pub(crate) sealer: Option<Arc<Sealer>>,
}

impl EventLog {
    /// A log that reads, and appends only once given a key ([`Self::with_sealer`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool, sealer: None }
    }

    /// This log, appending with checkpoints signed by `sealer`.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The key this log signs with, if it has one.
    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }

    /// A transaction whose appends sign with this log's key.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Tx::begin(self).await
    }
}

/// The lock every append takes; the same key is in the insert trigger of
/// `migrations/0001_event_log.sql`.
pub const APPEND_LOCK_KEY: i64 = 7_006_001;
