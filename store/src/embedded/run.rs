//! The cluster's files and processes: initdb, pg_ctl start/stop/status, the
//! socket directory, and running them as an unprivileged user when we are root.

use super::binaries::PgBinaries;
use super::os_user::{self, OsUser};
use super::{Durability, EmbeddedError, EmbeddedOptions, SOCKET_PORT, SUPERUSER};
use sqlx::postgres::PgConnectOptions;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;
/// `pg_ctl start` tries at first start (a crashed predecessor may linger)...
const START_TRIES: u32 = 10;
/// ...and per supervised restart, which is itself retried by the supervisor.
const RESTART_TRIES: u32 = 3;
const START_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Debug)]
pub(super) struct Cluster {
    pub root: PathBuf,
    pub pgdata: PathBuf,
    pub socket_dir: PathBuf,
    bins: PgBinaries,
    run_as: Option<OsUser>,
}

impl Cluster {
    pub fn prepare(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let bins = PgBinaries::locate()?;
        let data_dir_error = |source| EmbeddedError::DataDir {
            path: options.data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&options.data_dir).map_err(data_dir_error)?;
        let root = options.data_dir.canonicalize().map_err(data_dir_error)?;
        let run_as = match os_user::effective_uid() {
            Some(0) => {
                Some(os_user::database_user_for_root().ok_or(EmbeddedError::NoUnprivilegedUser)?)
            }
            _ => None,
        };
        let socket_dir = socket_dir_for(&root);
        let cluster = Self {
            pgdata: root.join("pg"),
            root,
            socket_dir,
            bins,
            run_as,
        };
        cluster.make_private_dir(&cluster.root.clone())?;
        cluster.make_private_dir(&cluster.socket_dir.clone())?;
        Ok(cluster)
    }

    pub fn lock_file(&self, name: &str) -> Result<File, EmbeddedError> {
        let path = self.root.join(name);
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| EmbeddedError::DataDir { path, source })
    }

    pub fn options_for(&self, role: &str, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(SOCKET_PORT)
            .username(role)
            .database(database)
    }

    /// Returns true when this call started the postmaster, false when it adopted
    /// one already running on this data directory.
    pub async fn ensure_running(&self, options: &EmbeddedOptions) -> Result<bool, EmbeddedError> {
        if !self.pgdata.join("PG_VERSION").is_file() {
            self.initdb(options.durability).await?;
        }
        self.write_config(options)?;
        if self.is_running().await? {
            return Ok(false);
        }
        self.start(START_TRIES).await
    }

    /// Starts the postmaster of an existing cluster again after it died: never
    /// runs initdb (a missing cluster is an error, not something to re-create
    /// over lost data). Returns false when another process restarted it first.
    pub async fn restart(&self, options: &EmbeddedOptions) -> Result<bool, EmbeddedError> {
        let version = self.pgdata.join("PG_VERSION");
        if !version.is_file() {
            return Err(EmbeddedError::DataDir {
                path: self.pgdata.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the cluster is gone (no PG_VERSION); not re-creating it",
                ),
            });
        }
        // The socket directory may live under a cleaned temporary directory.
        self.make_private_dir(&self.socket_dir.clone())?;
        self.write_config(options)?;
        if self.is_running().await? {
            return Ok(false);
        }
        self.start(RESTART_TRIES).await
    }

    /// `pg_ctl start`, tried up to `tries` times: after a crash the old
    /// postmaster's children may hold its shared memory for a moment, and
    /// PostgreSQL refuses to start until they are gone.
    async fn start(&self, tries: u32) -> Result<bool, EmbeddedError> {
        let log = self.root.join("postgresql.log");
        let mut attempt = 0;
        loop {
            self.clear_stale_pid_file();
            let start = self.pg_ctl_start(&log).await?;
            if start.status.success() {
                return Ok(true);
            }
            // Another process may have started it between our check and our start.
            if self.is_running().await? {
                return Ok(false);
            }
            attempt += 1;
            if attempt >= tries {
                return Err(EmbeddedError::Command {
                    command: "pg_ctl start".into(),
                    detail: format!(
                        "{}; last lines of {}:\n{}",
                        String::from_utf8_lossy(&start.stderr).trim(),
                        log.display(),
                        tail(&log, 15)
                    ),
                });
            }
            tokio::time::sleep(START_RETRY_DELAY).await;
        }
    }

    /// Whether the postmaster named in `postmaster.pid` is a live process: a
    /// file and a procfs read, cheap enough to poll every second.
    pub fn postmaster_is_alive(&self) -> bool {
        self.postmaster_pid().is_some_and(postmaster_alive)
    }

    async fn pg_ctl_start(&self, log: &Path) -> Result<Output, EmbeddedError> {
        self.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-D".as_ref(),
                self.pgdata.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "120".as_ref(),
                "-s".as_ref(),
            ],
        )
        .await
    }

    pub async fn stop(&self) -> Result<(), EmbeddedError> {
        let out = self
            .run(
                "pg_ctl",
                &[
                    "stop".as_ref(),
                    "-D".as_ref(),
                    self.pgdata.as_os_str(),
                    "-m".as_ref(),
                    "fast".as_ref(),
                    "-w".as_ref(),
                    "-s".as_ref(),
                ],
            )
            .await?;
        if out.status.success() || !self.is_running().await? {
            Ok(())
        } else {
            Err(command_failed("pg_ctl stop", &out))
        }
    }

    /// `pg_ctl status` alone is fooled by a killed postmaster that lingers as a
    /// zombie (nothing reaps it in a container), so the process must be alive too.
    async fn is_running(&self) -> Result<bool, EmbeddedError> {
        let out = self
            .run(
                "pg_ctl",
                &["status".as_ref(), "-D".as_ref(), self.pgdata.as_os_str()],
            )
            .await?;
        Ok(out.status.success() && self.postmaster_is_alive())
    }

    fn major_version(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.pgdata.join("PG_VERSION")).ok()?;
        text.trim().parse().ok()
    }

    fn postmaster_pid(&self) -> Option<u32> {
        pid_in(&self.pgdata.join("postmaster.pid"))
    }

    async fn initdb(&self, durability: Durability) -> Result<(), EmbeddedError> {
        if self.pgdata.exists() {
            // A half-made cluster from an interrupted initdb: it holds no data.
            std::fs::remove_dir_all(&self.pgdata).map_err(|source| EmbeddedError::DataDir {
                path: self.pgdata.clone(),
                source,
            })?;
        }
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "-D".as_ref(),
            self.pgdata.as_os_str(),
            "-U".as_ref(),
            SUPERUSER.as_ref(),
            "-A".as_ref(),
            "trust".as_ref(),
            "-E".as_ref(),
            "UTF8".as_ref(),
            // Byte-order collation (PostgreSQL 15 compares "C" with memcmp:
            // refs and keys sort and index faster); UTF-8 character classes
            // so lower() and text search still know non-ASCII letters.
            "--locale=C.UTF-8".as_ref(),
            "--lc-collate=C".as_ref(),
            "--no-instructions".as_ref(),
        ];
        if durability == Durability::Throwaway {
            // No waiting for the files to reach the disk: seconds on a busy machine.
            args.push("--no-sync".as_ref());
        }
        let out = self.run("initdb", &args).await?;
        if !out.status.success() {
            let mut err = command_failed("initdb", &out);
            if let (Some(user), EmbeddedError::Command { detail, .. }) = (&self.run_as, &mut err) {
                detail.push_str(&format!(
                    " (PostgreSQL runs as `{}`: every directory above {} must be traversable by it)",
                    user.name,
                    self.root.display()
                ));
            }
            return Err(err);
        }
        let conf = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|source| EmbeddedError::DataDir {
            path: conf.clone(),
            source,
        })?;
        text.push_str("\ninclude_if_exists = 'almanac.conf'\n");
        std::fs::write(&conf, text).map_err(|source| EmbeddedError::DataDir { path: conf, source })
    }

    /// Rewritten at every start: the socket directory follows the data directory.
    fn write_config(&self, options: &EmbeddedOptions) -> Result<(), EmbeddedError> {
        let mut conf = format!(
            "# Written by Almanac at every start; edit postgresql.conf for your own settings.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             port = {SOCKET_PORT}\n\
             max_connections = {}\n\
             max_wal_size = '2GB'\n",
            self.socket_dir.display(),
            options.max_connections
        );
        // After a crash PostgreSQL fsyncs every file of the cluster before it
        // recovers: one syncfs() instead takes a supervised restart from many
        // seconds to about one on a busy disk (PostgreSQL 14 and later).
        if self.major_version().is_some_and(|v| v >= 14) {
            conf.push_str("recovery_init_sync_method = syncfs\n");
        }
        if options.durability == Durability::Throwaway {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.pgdata.join("almanac.conf");
        std::fs::write(&path, conf).map_err(|source| EmbeddedError::DataDir {
            path: path.clone(),
            source,
        })?;
        self.give_to_db_user(&path)
    }

    /// After a crash the pid file and the socket's lock file may name a process
    /// that is gone, a zombie, or an unrelated process that reused the pid;
    /// PostgreSQL refuses to start over the last two, so the files go.
    fn clear_stale_pid_file(&self) {
        let socket_lock = self.socket_dir.join(format!(".s.PGSQL.{SOCKET_PORT}.lock"));
        for file in [self.pgdata.join("postmaster.pid"), socket_lock] {
            let Some(pid) = pid_in(&file) else {
                continue;
            };
            if !postmaster_alive(pid) {
                tracing::info!(pid, file = %file.display(), "removing a stale lock file");
                let _ = std::fs::remove_file(&file);
            }
        }
    }

    fn make_private_dir(&self, dir: &Path) -> Result<(), EmbeddedError> {
        use std::os::unix::fs::PermissionsExt;
        let result = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)));
        result.map_err(|source| EmbeddedError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        self.give_to_db_user(dir)
    }

    fn give_to_db_user(&self, path: &Path) -> Result<(), EmbeddedError> {
        match &self.run_as {
            Some(user) => os_user::give_to(path, user).map_err(|source| EmbeddedError::DataDir {
                path: path.to_path_buf(),
                source,
            }),
            None => Ok(()),
        }
    }

    /// Runs a PostgreSQL binary, through `runuser` when we are root so that it
    /// runs with the unprivileged user's identity and groups.
    async fn run(&self, binary: &str, args: &[&std::ffi::OsStr]) -> Result<Output, EmbeddedError> {
        let program = self.bins.path(binary);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.arg("-u").arg(&user.name).arg("--").arg(&program);
                command
            }
            None => Command::new(&program),
        };
        command
            .args(args)
            .current_dir(&self.root)
            .env_remove("PGDATA")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(false);
        command
            .output()
            .await
            .map_err(|err| EmbeddedError::Command {
                command: format!("{}", program.display()),
                detail: err.to_string(),
            })
    }
}

/// The pid on the first line of a PostgreSQL lock file.
fn pid_in(file: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// A live (not zombie) process named postgres, from procfs.
fn postmaster_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ...": comm may hold spaces, so split at the last ')'.
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let is_postgres = head.contains("(postgres");
    let state = rest.trim_start().chars().next().unwrap_or('X');
    is_postgres && !matches!(state, 'Z' | 'X' | 'x')
}

fn socket_dir_for(root: &Path) -> PathBuf {
    let beside = root.join("socket");
    if beside.as_os_str().len() + ".s.PGSQL.5432".len() < MAX_SOCKET_PATH {
        return beside;
    }
    // Too long for a socket path: a short private directory named by the data dir.
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut hasher);
    std::env::temp_dir().join(format!("almanac-{:016x}", hasher.finish()))
}

fn command_failed(command: &str, out: &Output) -> EmbeddedError {
    EmbeddedError::Command {
        command: command.into(),
        detail: format!(
            "exit {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
