//! A store-owned transaction, so that callers outside the store (ingest) can
//! hold one across several store calls without speaking SQL or naming `sqlx`.
//! Dropping it without [`Tx::commit`] rolls it back. It runs no statement of
//! its own beyond begin and commit: the modules that own the tables do. It keeps
//! the stream heads read under the append lock for its appends (read once per
//! ingest chunk, not twice).

use crate::error::StoreError;
use crate::log::seal::Sealer;
use crate::log::{
    append_known, lock_appends, stream_head, AppendError, AppendMeta, AppendOutcome, EventLog,
    KnownHeads, StreamAppend,
};
use sqlx::{PgConnection, Postgres, Transaction};
use std::sync::Arc;

/// The transaction, the key of the log it was begun on (for its appends), and
/// what it knows of stream heads.
pub struct Tx {
    tx: Transaction<'static, Postgres>,
    sealer: Option<Arc<Sealer>>,
    /// True once it holds the append lock: from then on no other writer can move
    /// a stream until it ends.
    locked: bool,
    /// Stream heads read under the lock (by [`crate::ingest_state`]) and kept
    /// current by this transaction's appends, so an append does not read them
    /// again. Only ever filled while `locked`; cleared when an append fails.
    heads: KnownHeads,
}

impl Tx {
    /// Begins on `log`'s pool; appends sign with `log`'s key.
    pub async fn begin(log: &EventLog) -> Result<Tx, StoreError> {
        Ok(Tx {
            tx: log.pool().begin().await?,
            sealer: log.sealer.clone(),
            locked: false,
            heads: KnownHeads::new(),
        })
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// Takes the append lock for the rest of this transaction ([`lock_appends`]).
    pub async fn lock_appends(&mut self) -> Result<(), StoreError> {
        lock_appends(&mut self.tx).await?;
        self.locked = true;
        Ok(())
    }

    /// Appends inside this transaction ([`crate::log::append_in`]), with the stream heads
    /// it read under the lock.
    pub async fn append(
        &mut self,
        batch: &[StreamAppend],
        meta: &AppendMeta,
    ) -> Result<AppendOutcome, AppendError> {
        let outcome = append_known(
            &mut self.tx,
            batch,
            meta,
            self.sealer.as_deref(),
            &mut self.heads,
        )
        .await;
        if outcome.is_err() {
            // Part of a plan may have been applied to the heads: read them again.
            self.heads.clear();
        }
        // The append took the lock, if the caller had not.
        self.locked = true;
        outcome
    }

    /// Remembers heads read in this transaction, if it holds the append lock
    /// (without it they could move before the append).
    pub(crate) fn know_heads(&mut self, heads: impl IntoIterator<Item = (String, (i64, Vec<u8>))>) {
        if self.locked {
            self.heads.extend(heads);
        }
    }

    /// The version of `stream`'s last event and its type; `None` for an empty stream.
    pub async fn stream_head(&mut self, stream: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(stream_head(&mut self.tx, stream).await?)
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
