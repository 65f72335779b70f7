//! Running the real `almanac` binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn almanac() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_almanac"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("ALMANAC_OWNER_DATABASE_URL")
        .env("ALMANAC_LOG_JSON", "true")
        .env("RUST_LOG", "info");
    command
}

/// A scratch directory the embedded PostgreSQL user can reach (under /tmp).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("almanac-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Server {
    pub child: Child,
    pub address: String,
    /// Every line the server wrote to stderr so far.
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `almanac serve` on a free port and waits until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// With extra global arguments (`--config FILE`, say).
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        let mut command = almanac();
        command.arg("--data-dir").arg(data_dir).args(extra);
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        Server::spawn(command)
    }

    /// `almanac --data-dir DIR serve ... SERVE_ARGS`, run from `cwd`.
    pub fn start_in(cwd: &Path, data_dir: &Path, serve_args: &[&str]) -> Server {
        let mut command = almanac();
        command.current_dir(cwd).arg("--data-dir").arg(data_dir);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve_args);
        Server::spawn(command)
    }

    /// `start`, with these environment variables set (`RUST_LOG`, `OTEL_...`).
    pub fn start_env(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut command = almanac();
        command
            .envs(env.iter().copied())
            .arg("--data-dir")
            .arg(data_dir);
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        Server::spawn(command)
    }

    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(address) = value.get("address").and_then(|a| a.as_str()) {
                        let _ = tx.send(address.to_string());
                    }
                }
                kept.lock().unwrap().push(line);
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("almanac serve did not start listening");
        Server {
            child,
            address,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        wait_with_timeout(&mut self.child, Duration::from_secs(30))
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that fails part-way must not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < timeout, "almanac did not exit in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}
