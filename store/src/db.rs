//! Connections, migrations and readiness.
//!
//! Two roles matter: the owner runs migrations (DDL); the server role may only
//! read and append to the log. Which URL plays which part is the caller's choice.

use crate::embedded::{DatabaseHealth, DatabaseState};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::time::Duration;

/// The schema, embedded at compile time from the workspace's `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// How long a query waits for a connection before it fails: when the database
/// is down (or restarting) a client gets an error in about this time, not after
/// a long hang.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a pool. Small by default: Almanac's queries are short and batched.
pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<PgPool, DbError> {
    connect_with(pool_options(max_connections), options).await
}

/// The pool settings [`connect`] uses, for callers that add to them (a
/// supervised database's [`guard`](crate::embedded::DatabaseHealth::guard)).
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // A ping on every acquire costs a round trip per query; a broken
        // connection fails its query and is replaced anyway.
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

pub async fn connect_with(
    pool: PgPoolOptions,
    options: PgConnectOptions,
) -> Result<PgPool, DbError> {
    pool.connect_with(options).await.map_err(DbError::Connect)
}

/// A connected database with what the server needs to know about it.
#[derive(Clone, Debug)]
pub struct Database {
    pub pool: PgPool,
    /// The embedded database's supervisor, when there is one.
    pub health: Option<DatabaseHealth>,
}

impl Database {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, health: None }
    }

    pub fn with_health(mut self, health: DatabaseHealth) -> Self {
        self.health = Some(health);
        self
    }

    /// What the supervisor sees; `Up` when nothing supervises the database.
    pub fn state(&self) -> DatabaseState {
        self.health
            .as_ref()
            .map_or(DatabaseState::Up, DatabaseHealth::state)
    }

    /// Applies every pending migration. Run it as the schema owner.
    pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
        MIGRATOR.run(pool).await?;
        Ok(())
    }

    /// Ready means: the database answers, and every migration this binary knows
    /// has been applied successfully (an older schema would fail queries later).
    pub async fn readiness(&self) -> Result<Readiness, DbError> {
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations")
                .fetch_all(&self.pool)
                .await
                .or_else(|err| match &err {
                    // No migrations table yet: nothing applied.
                    sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
                        Ok(Vec::new())
                    }
                    _ => Err(err),
                })?;
        let pending: Vec<i64> = MIGRATOR
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.iter().any(|(a, ok)| a == v && *ok))
            .collect();
        Ok(Readiness { pending })
    }
}

#[derive(Debug)]
pub struct Readiness {
    /// Versions of migrations this binary expects that the database lacks.
    pub pending: Vec<i64>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.pending.is_empty()
    }
}
