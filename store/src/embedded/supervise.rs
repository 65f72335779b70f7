//! The supervisor of the embedded PostgreSQL: a task that checks every
//! `interval` that the postmaster is alive and, when it is not, restarts it on
//! the same data directory and socket (crash recovery replays the WAL, so
//! nothing committed is lost). After `max_restarts` attempts within `window`
//! it gives up and says so through [`DatabaseHealth`], so that the process can
//! exit and an outside supervisor restart it.
//!
//! It checks the process (pid file and procfs), not queries: a slow database
//! under load is not restarted. It does not supervise a `DATABASE_URL` server.

use super::health::{DatabaseHealth, DatabaseState};
use super::run::Cluster;
use super::{lock, EmbeddedOptions, Mode};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the supervisor watches and how long it keeps trying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervision {
    /// How often the postmaster is checked.
    pub interval: Duration,
    /// Restart attempts allowed within `window`; the next death gives up.
    pub max_restarts: u32,
    pub window: Duration,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

pub(super) async fn run(
    cluster: Arc<Cluster>,
    options: EmbeddedOptions,
    settings: Supervision,
    health: DatabaseHealth,
    mut stop: watch::Receiver<bool>,
) {
    let mut attempts: VecDeque<Instant> = VecDeque::new();
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(settings.interval) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        if cluster.postmaster_is_alive() {
            if health.state() != DatabaseState::Up {
                health.set(DatabaseState::Up);
            }
            continue;
        }
        health.mark_lost();
        if health.state() == DatabaseState::Up {
            tracing::error!(
                data_dir = %cluster.root.display(),
                "embedded PostgreSQL is not running; restarting it"
            );
        }
        while attempts
            .front()
            .is_some_and(|at| at.elapsed() > settings.window)
        {
            attempts.pop_front();
        }
        if attempts.len() >= settings.max_restarts as usize {
            let reason = format!(
                "embedded PostgreSQL in {} died and {} restart attempts within {} s did not keep \
                 it running{}",
                cluster.root.display(),
                attempts.len(),
                settings.window.as_secs(),
                last_error
                    .as_deref()
                    .map(|err| format!("; last error: {err}"))
                    .unwrap_or_default()
            );
            tracing::error!(%reason, "giving up on the embedded database");
            health.set(DatabaseState::Failed { reason });
            return;
        }
        attempts.push_back(Instant::now());
        health.set(DatabaseState::Restarting {
            attempts: attempts.len() as u32,
            last_error: last_error.clone(),
        });
        match restart(&cluster, &options).await {
            Ok(started_here) => {
                tracing::info!(
                    started_here,
                    attempt = attempts.len(),
                    "embedded PostgreSQL is running again"
                );
                last_error = None;
                health.set(DatabaseState::Up);
            }
            Err(err) => {
                tracing::error!(error = %err, attempt = attempts.len(), "restarting the embedded PostgreSQL failed");
                last_error = Some(err.to_string());
                health.set(DatabaseState::Restarting {
                    attempts: attempts.len() as u32,
                    last_error: last_error.clone(),
                });
            }
        }
    }
}

/// Under the start lock, like a first start: another Almanac process on the
/// same data directory may be restarting it at the same moment.
async fn restart(
    cluster: &Cluster,
    options: &EmbeddedOptions,
) -> Result<bool, super::EmbeddedError> {
    let start_lock = lock(cluster.lock_file("start.lock")?, Mode::Exclusive, cluster).await?;
    let restarted = cluster.restart(options).await;
    drop(start_lock);
    restarted
}
