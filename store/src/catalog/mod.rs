//! Catalog queries: read-only SQL over the projection tables (`entities`,
//! `locations`, `processing_errors`, `conflicts`), shaped for the GraphQL layer:
//! whole entity rows by ref (for entities the in-memory catalog holds elided, and
//! a mutation's own writes). Lists, filters, counts, facets, search, relation hops,
//! ownership and dependency walks are not here: the API answers them from the
//! in-memory snapshot (`almanac_readmodel`).
//!
//! Every call is one statement, or one statement per level of a walk, whatever
//! the number of keys it is given: callers batch (DataLoader) and this module
//! never loops over rows issuing queries. Values always travel as bind
//! parameters; only fixed SQL fragments chosen from enums are spliced in.
//! It never writes, and it knows nothing of GraphQL, cursors' encoding or tokens.

mod entities;
mod operational;
mod relations;

pub use entities::EntityRecord;
pub use operational::{ConflictRecord, ProcessingErrorRecord};
pub use relations::RelationRecord;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog query failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The request's deadline passed before the statement could start.
    #[error("the request's deadline passed before the catalog query ran")]
    DeadlinePassed,
}

impl CatalogError {
    /// True when the statement ran out of time: the request's deadline passed
    /// before it started, or PostgreSQL cancelled it (`statement_timeout`).
    /// No connection within the pool's wait is not a timeout of the request but
    /// the database out of reach (`UNAVAILABLE` at the API).
    pub fn is_timeout(&self) -> bool {
        match self {
            CatalogError::DeadlinePassed => true,
            CatalogError::Database(sqlx::Error::Database(db)) => {
                db.code().as_deref() == Some("57014")
            }
            CatalogError::Database(_) => false,
        }
    }
}

/// What one request may spend on catalog statements: how many it runs at
/// once (the rest wait inside that request, not for the pool) and until when.
/// Shared by the request's clones of the [`Catalog`].
#[derive(Debug)]
pub struct ReadBudget {
    permits: Arc<Semaphore>,
    deadline: Mutex<Option<Instant>>,
}

impl ReadBudget {
    pub fn new(concurrent_statements: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent_statements.max(1))),
            deadline: Mutex::new(None),
        }
    }

    /// Statements started from now on must end by `deadline`.
    pub fn set_deadline(&self, deadline: Instant) {
        if let Ok(mut slot) = self.deadline.lock() {
            *slot = Some(deadline);
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }
}

/// One statement's connection: a read-only transaction whose
/// `statement_timeout` is what is left of the request's time, and the
/// request's permit to run it. Both are given back on drop.
pub(crate) struct Reader {
    transaction: Transaction<'static, Postgres>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl std::ops::Deref for Reader {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.transaction
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.transaction
    }
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
    /// The pool's name in the figures (`pool` label): `read` unless told.
    pool_name: &'static str,
    statements: StatementCounter,
    budget: Option<Arc<ReadBudget>>,
}

impl Catalog {
    pub fn new(pool: PgPool) -> Self {
        Self::with_counter(pool, StatementCounter::default())
    }

    pub fn with_counter(pool: PgPool, statements: StatementCounter) -> Self {
        Self {
            pool,
            pool_name: "read",
            statements,
            budget: None,
        }
    }

    /// Its waits for a connection are counted under `pool=name` (the server
    /// names its pools `read` and `write`).
    pub fn on_pool(self, name: &'static str) -> Self {
        Self {
            pool_name: name,
            ..self
        }
    }

    /// This catalog for one request: its statements share `budget`.
    pub fn with_budget(&self, budget: Arc<ReadBudget>) -> Self {
        Self {
            budget: Some(budget),
            ..self.clone()
        }
    }

    pub fn statements(&self) -> &StatementCounter {
        &self.statements
    }

    /// A connection for the statement about to run (counted): first the
    /// request's permit, then a connection in a read-only transaction with a
    /// `statement_timeout` of the time the request has left, set in the same
    /// round trip as `BEGIN`. Without a budget, no timeout is set here.
    pub(crate) async fn reader(&self) -> Result<Reader, CatalogError> {
        self.statements.bump();
        let (permit, deadline) = match &self.budget {
            Some(budget) => {
                let permit = budget
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| CatalogError::DeadlinePassed)?;
                (Some(permit), budget.deadline())
            }
            None => (None, None),
        };
        let begin = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let ms = left.as_millis();
                if ms == 0 {
                    return Err(CatalogError::DeadlinePassed);
                }
                format!("BEGIN READ ONLY; SET LOCAL statement_timeout = {ms}")
            }
            None => "BEGIN READ ONLY".to_string(),
        };
        let transaction = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), self.begin(begin))
                .await
                .map_err(|_| CatalogError::DeadlinePassed)??,
            None => self.begin(begin).await?,
        };
        Ok(Reader {
            transaction,
            _permit: permit,
        })
    }
}

impl Catalog {
    /// A connection from the pool, its wait counted while it lasts (this is
    /// where a request waits when the pool is exhausted), then `begin` on it.
    async fn begin(&self, begin: String) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let waiting = crate::metrics::Waiting::start(self.pool_name);
        let connection = self.pool.acquire().await?;
        waiting.acquired();
        Transaction::begin(connection, Some(begin.into())).await
    }
}

/// Kind part of a canonical ref (`component:default/x` -> `component`).
pub fn kind_of_ref(canonical: &str) -> &str {
    canonical.split_once(':').map_or("", |(kind, _)| kind)
}
