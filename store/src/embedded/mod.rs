//! The embedded database: a PostgreSQL cluster in a data directory Almanac owns,
//! reached over a private Unix socket (no TCP port).
//!
//! Several Almanac processes may use one data directory at once (`serve` and
//! `ingest`, say). Each holds a shared lock on `almanac.lock` while it uses the
//! cluster; whoever starts it when it is down starts it, and the last one out
//! stops it. A cluster left running by a killed process is adopted, and a stale
//! `postmaster.pid` from a killed postmaster is cleared before starting.
//! A long-running process (`almanac serve`) also [supervises](EmbeddedPostgres::supervise)
//! the postmaster and restarts it if it dies.
//! It does not tune PostgreSQL for production: point `DATABASE_URL` at a managed
//! server for that.

mod binaries;
mod health;
mod os_user;
mod roles;
mod run;
mod supervise;

pub use binaries::PgBinaries;
pub use health::{DatabaseHealth, DatabaseState};
pub use os_user::{effective_uid, OsUser};
pub use roles::{
    ensure_roles as ensure_roles_for_tests, APP_ROLE, DATABASE, OWNER_ROLE, SERVER_ROLE,
};
pub use supervise::Supervision;

use sqlx::postgres::PgConnectOptions;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// The superuser `initdb` creates; only Almanac's setup code connects as it.
pub const SUPERUSER: &str = "postgres";
const SOCKET_PORT: u16 = 5432;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in ALMANAC_PG_BIN, \
         on PATH or in /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: \
         `apt-get install postgresql`), or set DATABASE_URL to use an existing PostgreSQL 14+"
    )]
    BinariesMissing,
    #[error("running as root, but no unprivileged account to run PostgreSQL as (set ALMANAC_PG_USER to one)")]
    NoUnprivilegedUser,
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {detail}")]
    Command { command: String, detail: String },
    #[error("cannot set up the embedded database: {0}")]
    Setup(#[from] sqlx::Error),
}

/// How the cluster trades durability for speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is on disk: the default for `almanac serve`.
    Durable,
    /// fsync off: for throwaway test clusters only.
    Throwaway,
}

#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub max_connections: u32,
}

impl EmbeddedOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            durability: Durability::Durable,
            max_connections: 100,
        }
    }
}

enum Mode {
    Shared,
    Exclusive,
}

/// Blocks (off the async threads) until the file lock is ours.
async fn lock(file: File, mode: Mode, cluster: &run::Cluster) -> Result<File, EmbeddedError> {
    let locked = tokio::task::spawn_blocking(move || {
        match mode {
            Mode::Shared => file.lock_shared(),
            Mode::Exclusive => file.lock(),
        }
        .map(|()| file)
    })
    .await
    .map_err(|err| EmbeddedError::Command {
        command: "lock".into(),
        detail: err.to_string(),
    })?;
    locked.map_err(|source| EmbeddedError::DataDir {
        path: cluster.root.clone(),
        source,
    })
}

/// A running embedded cluster, used by this process until [`stop`](Self::stop).
#[derive(Debug)]
pub struct EmbeddedPostgres {
    cluster: Arc<run::Cluster>,
    options: EmbeddedOptions,
    /// Held shared while this process uses the cluster.
    usage_lock: File,
    /// False when the cluster was already running (adopted).
    pub started_here: bool,
    health: DatabaseHealth,
    supervisor: Option<Supervisor>,
}

#[derive(Debug)]
struct Supervisor {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// A process that drops its handle without `stop` (it is dying) must not leave
/// a task restarting the cluster behind.
impl Drop for Supervisor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EmbeddedPostgres {
    /// Creates the cluster on first use, starts or adopts it, and makes sure the
    /// roles and the `almanac` database exist.
    pub async fn start(options: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let cluster = run::Cluster::prepare(&options)?;
        // Shared while we use the cluster: a process stopping it holds it
        // exclusively, so we wait for that stop to finish before starting again.
        let usage_lock = lock(cluster.lock_file("almanac.lock")?, Mode::Shared, &cluster).await?;
        // Exclusive while starting: two processes must not initdb or start at once.
        let start_lock = lock(cluster.lock_file("start.lock")?, Mode::Exclusive, &cluster).await?;
        let started = cluster.ensure_running(&options).await;
        let ready = match started {
            Ok(started_here) => roles::ensure(&cluster.options_for(SUPERUSER, "postgres"))
                .await
                .map(|()| started_here)
                .map_err(EmbeddedError::from),
            Err(err) => Err(err),
        };
        drop(start_lock);
        Ok(Self {
            started_here: ready?,
            cluster: Arc::new(cluster),
            options,
            usage_lock,
            health: DatabaseHealth::new(),
            supervisor: None,
        })
    }

    /// Starts watching the postmaster and restarting it when it dies (see
    /// [`Supervision`]); the returned handle reports what the supervisor sees.
    /// Calling it again replaces nothing: one supervisor per process.
    pub fn supervise(&mut self, settings: Supervision) -> DatabaseHealth {
        if self.supervisor.is_none() {
            let (stop, stopped) = watch::channel(false);
            let task = tokio::spawn(supervise::run(
                self.cluster.clone(),
                self.options.clone(),
                settings,
                self.health.clone(),
                stopped,
            ));
            self.supervisor = Some(Supervisor { stop, task });
        }
        self.health.clone()
    }

    /// The supervisor's view of the database; `Up` for good when unsupervised.
    /// Give it to [`DatabaseHealth::guard`] for every pool on this cluster.
    pub fn health(&self) -> DatabaseHealth {
        self.health.clone()
    }

    /// Connection options for a role and database on the private socket.
    pub fn connect_options(&self, role: &str, database: &str) -> PgConnectOptions {
        self.cluster.options_for(role, database)
    }

    /// The schema owner, for migrations.
    pub fn owner_options(&self) -> PgConnectOptions {
        self.connect_options(OWNER_ROLE, roles::DATABASE)
    }

    /// The server's restricted role: read and append on the log.
    pub fn server_options(&self) -> PgConnectOptions {
        self.connect_options(SERVER_ROLE, roles::DATABASE)
    }

    pub fn data_dir(&self) -> &Path {
        &self.cluster.root
    }

    pub fn socket_dir(&self) -> &Path {
        &self.cluster.socket_dir
    }

    /// Stops the cluster if no other Almanac process is using it.
    pub async fn stop(self) -> Result<(), EmbeddedError> {
        let Self {
            cluster,
            usage_lock,
            supervisor,
            ..
        } = self;
        // First, or it would restart the cluster we are about to stop.
        if let Some(mut supervisor) = supervisor {
            let _ = supervisor.stop.send(true);
            let _ = (&mut supervisor.task).await;
        }
        let sole_user = usage_lock.unlock().is_ok() && usage_lock.try_lock().is_ok();
        if sole_user {
            cluster.stop().await?;
        } else {
            tracing::info!("embedded database left running for the other processes using it");
        }
        drop(usage_lock);
        Ok(())
    }
}
