//! The store's database error, for crates that must not name `sqlx`: it wraps
//! the driver's error and answers the questions callers ask of it (could the
//! database be reached?). It does not classify errors of other kinds.

/// A statement or connection failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(sqlx::Error);

impl From<sqlx::Error> for StoreError {
    /// Counts the statements PostgreSQL cancelled for `statement_timeout`
    /// (SQLSTATE 57014) on their way up, the one place every store error passes.
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.code().as_deref() == Some("57014") {
                metrics::counter!(crate::metrics::STATEMENT_TIMEOUTS).increment(1);
            }
        }
        StoreError(error)
    }
}

impl StoreError {
    /// Whether the database could not be reached (see [`is_unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        unavailable(&self.0)
    }
}

/// Whether a database error in `cause`'s chain says the database could not be
/// reached: no connection in time, a broken one, or a server shutting down or
/// starting up (SQLSTATE class 57P: 01 admin, 02 crash shutdown, 03 cannot
/// connect now). Typed matches only, never message text.
pub fn is_unavailable(cause: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(cause);
    while let Some(error) = next {
        if let Some(sqlx) = error.downcast_ref::<sqlx::Error>() {
            return unavailable(sqlx);
        }
        next = error.source();
    }
    false
}

fn unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}
