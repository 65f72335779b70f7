//! What the embedded database's supervisor knows, shared with whoever must act
//! on it: readiness and liveness probes, the pools, the serve loop.
//!
//! It holds state only; the supervisor (`supervise.rs`) changes it. It does not
//! probe the database itself: a handle that nothing supervises stays `Up`.

use sqlx::postgres::PgPoolOptions;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// The embedded PostgreSQL as its supervisor last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseState {
    /// The postmaster is running.
    Up,
    /// The postmaster died; the supervisor is starting it again.
    Restarting {
        /// Restart attempts in the current window, this one included.
        attempts: u32,
        /// Why the previous attempt failed, if one did.
        last_error: Option<String>,
    },
    /// The supervisor gave up: the process should exit so that an outside
    /// supervisor (systemd, Kubernetes) restarts it.
    Failed { reason: String },
}

/// A cheap clonable handle on the supervised database's state.
#[derive(Clone, Debug)]
pub struct DatabaseHealth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: watch::Sender<DatabaseState>,
    /// When the postmaster was last seen gone: every connection opened before
    /// that talks to a dead server.
    lost_at: Mutex<Option<Instant>>,
}

impl Default for DatabaseHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl DatabaseHealth {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: watch::Sender::new(DatabaseState::Up),
                lost_at: Mutex::new(None),
            }),
        }
    }

    pub fn state(&self) -> DatabaseState {
        self.inner.state.borrow().clone()
    }

    /// Resolves, with the reason, once the supervisor has given up.
    pub async fn failed(&self) -> String {
        let mut states = self.inner.state.subscribe();
        loop {
            if let DatabaseState::Failed { reason } = &*states.borrow_and_update() {
                return reason.clone();
            }
            if states.changed().await.is_err() {
                // Nothing can change the state any more, so it never fails.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Makes a pool drop, on acquire, every idle connection opened before the
    /// postmaster was last lost, instead of handing it to a query that would
    /// fail on it. A clock comparison, not a ping: pools skip the per-acquire
    /// round trip for speed, and only a restart makes idle connections dead
    /// in bulk. (A connection in use when the server died fails its query, and
    /// sqlx's ping on release discards it.)
    pub fn guard(&self, options: PgPoolOptions) -> PgPoolOptions {
        let health = self.clone();
        options.before_acquire(move |_conn, meta| {
            let fresh = match health.lost_at() {
                Some(lost) => meta.age < lost.elapsed(),
                None => true,
            };
            Box::pin(async move { Ok(fresh) })
        })
    }

    pub(super) fn set(&self, state: DatabaseState) {
        self.inner.state.send_replace(state);
    }

    pub(super) fn mark_lost(&self) {
        if let Ok(mut lost) = self.inner.lost_at.lock() {
            *lost = Some(Instant::now());
        }
    }

    fn lost_at(&self) -> Option<Instant> {
        self.inner.lost_at.lock().ok().and_then(|lost| *lost)
    }
}
