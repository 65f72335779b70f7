//! The embedded database: a PostgreSQL cluster in a data directory Almanac owns,
//! reached over a private Unix socket (no TCP port).
//!
//! Several Almanac processes may use one data directory at once (`serve` and
//! `ingest`, say). Each holds a shared lock on `almanac.lock` while it uses the
//! cluster; whoever starts it when it is down starts it, and the last one out
//! stops it. A cluster left running by a killed process is adopted, and a stale
//! `postmaster.pid` from a killed postmaster is cleared before starting.
//! It does not tune PostgreSQL for production: point `DATABASE_URL` at a managed
//! server for that.

mod binaries;
mod os_user;
mod roles;
mod run;

pub use binaries::PgBinaries;
pub use os_user::{effective_uid, OsUser};
pub use roles::{
    ensure_roles as ensure_roles_for_tests, APP_ROLE, DATABASE, OWNER_ROLE, SERVER_ROLE,
};

use sqlx::postgres::PgConnectOptions;
use std::fs::File;
use std::path::{Path, PathBuf};

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
    cluster: run::Cluster,
    /// Held shared while this process uses the cluster.
    usage_lock: File,
    /// False when the cluster was already running (adopted).
    pub started_here: bool,
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
            cluster,
            usage_lock,
        })
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
            ..
        } = self;
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
