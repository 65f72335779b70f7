//! A store-owned transaction, so that callers outside the store (ingest) can
//! hold one across several store calls without speaking SQL or naming `sqlx`.
//! Dropping it without [`Tx::commit`] rolls it back. It runs no statement of
//! its own beyond begin and commit: the modules that own the tables do.

use crate::error::StoreError;
use crate::log::{
    append_in, lock_appends, stream_head, AppendError, AppendMeta, AppendOutcome, StreamAppend,
};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

pub struct Tx(Transaction<'static, Postgres>);

impl Tx {
    pub async fn begin(pool: &PgPool) -> Result<Tx, StoreError> {
        Ok(Tx(pool.begin().await?))
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }

    /// Takes the append lock for the rest of this transaction ([`lock_appends`]).
    pub async fn lock_appends(&mut self) -> Result<(), StoreError> {
        Ok(lock_appends(&mut self.0).await?)
    }

    /// Appends inside this transaction ([`append_in`]).
    pub async fn append(
        &mut self,
        batch: &[StreamAppend],
        meta: &AppendMeta,
    ) -> Result<AppendOutcome, AppendError> {
        append_in(&mut self.0, batch, meta).await
    }

    /// The version of `stream`'s last event and its type; `None` for an empty stream.
    pub async fn stream_head(&mut self, stream: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(stream_head(&mut self.0, stream).await?)
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}
