//! Driving the real `almanac` binary: building it (release, into this
//! benchmark's own target directory), starting `serve` on a free loopback port,
//! and timing one-shot commands (`ingest`, `replay`) against the same database.
//!
//! Every child gets the same environment: the data directory (or database URL),
//! JSON logs, and its stderr in a log file of the run directory.

use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Builds `almanac` in release mode next to this binary unless a path is given.
pub fn locate_or_build(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    eprintln!("building almanac (release) ...");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "almanac", "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p almanac failed");
    }
    let exe = std::env::current_exe()?;
    let built = exe.with_file_name("almanac");
    if !built.is_file() {
        bail!(
            "built almanac not found at {}; pass --almanac PATH",
            built.display()
        );
    }
    Ok(built)
}

/// Where a run's almanac processes find their database.
#[derive(Clone, Debug)]
pub enum Target {
    DataDir(PathBuf),
    Url(String),
}

#[derive(Clone, Debug)]
pub struct Almanac {
    pub exe: PathBuf,
    pub target: Target,
    /// `--config FILE` for every child (experiments with service settings).
    pub config: Option<PathBuf>,
    /// Children's stderr goes to `<logs>/<name>.log`.
    pub logs: PathBuf,
}

/// A finished one-shot command.
pub struct Finished {
    pub seconds: f64,
    pub stdout: String,
    /// Why the command failed (exit status and its last error line).
    pub failure: Option<String>,
}

impl Almanac {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .env("ALMANAC_LOG_JSON", "true")
            .env("RUST_LOG", "info")
            // The bench measures what one client can get; the per-client rate
            // limit would measure the limit.
            .env("ALMANAC_RATE_LIMIT_PER_SECOND", "0")
            .env_remove("ALMANAC_CONFIG");
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        match &self.target {
            Target::DataDir(dir) => {
                command
                    .env_remove("DATABASE_URL")
                    .env_remove("ALMANAC_OWNER_DATABASE_URL")
                    .arg("--data-dir")
                    .arg(dir);
            }
            Target::Url(url) => {
                command
                    .env("DATABASE_URL", url)
                    .env("ALMANAC_OWNER_DATABASE_URL", url);
            }
        }
        command
    }

    fn log_file(&self, name: &str) -> anyhow::Result<std::fs::File> {
        let path = self.logs.join(format!("{name}.log"));
        std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))
    }

    /// `almanac --version`, or empty when it cannot run.
    pub fn version_of(exe: &Path) -> String {
        Command::new(exe)
            .arg("--version")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Runs `almanac <args>` to completion and times it. A non-zero exit is
    /// not an error here: `Finished::failure` says what went wrong.
    pub async fn run(&self, name: &str, args: &[&str]) -> anyhow::Result<Finished> {
        self.run_telling(name, args, &AtomicU32::new(0)).await
    }

    /// [`Almanac::run`], storing the command's pid in `pid` once it runs (for its CPU).
    pub async fn run_telling(
        &self,
        name: &str,
        args: &[&str],
        pid: &AtomicU32,
    ) -> anyhow::Result<Finished> {
        let log = self.logs.join(format!("{name}.log"));
        let mut command = tokio::process::Command::from(self.command());
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(self.log_file(name)?);
        let start = Instant::now();
        // `spawn` keeps the stderr file; tokio's `output()` would pipe it.
        let child = command.spawn().context("cannot run almanac")?;
        pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
        let output = child.wait_with_output().await?;
        let seconds = start.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let failure = (!output.status.success()).then(|| {
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.starts_with('{'))
                .unwrap_or("");
            format!(
                "almanac {} exited with {}: {last} (see {})",
                args.first().copied().unwrap_or(""),
                output.status,
                log.display()
            )
        });
        Ok(Finished {
            seconds,
            stdout,
            failure,
        })
    }

    /// Starts `almanac serve --listen 127.0.0.1:0` and waits until it listens;
    /// its stderr goes to `<logs>/<name>.log`.
    pub fn serve(&self, name: &str) -> anyhow::Result<Server> {
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start almanac serve")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut log = self.log_file(name)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Write;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                let parsed = serde_json::from_str::<serde_json::Value>(&line);
                if let Some(address) = parsed
                    .ok()
                    .and_then(|v| v["address"].as_str().map(String::from))
                {
                    let _ = tx.send(address);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(address) => Ok(Server { child, address }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "almanac serve did not start listening; see {}",
                    self.logs.join(format!("{name}.log")).display()
                )
            }
        }
    }
}

pub struct Server {
    child: Child,
    pub address: String,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// SIGTERM, then up to 30 s for a clean exit (SIGKILL after that).
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("almanac serve did not stop within 30 s of SIGTERM; killed")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
