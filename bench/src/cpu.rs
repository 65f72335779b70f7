//! CPU seconds of the processes a phase runs in, from `/proc/<pid>/stat` (user + system
//! time), so that a phase's cost can be read on a machine shared with other work: the
//! almanac command the bench runs (`ingest`, `replay`), the server, and PostgreSQL
//! (the postmaster, every live backend, and the backends that already exited, which
//! the kernel adds to the postmaster's children's times when it reaps them).
//!
//! Linux only; elsewhere, or for a database the bench did not start (`DATABASE_URL`),
//! a figure is absent. It measures nothing else (no wall clock, no memory).

use serde::Serialize;
use std::path::{Path, PathBuf};

/// `USER_HZ`: the unit of the times in `/proc/<pid>/stat` (100 on every Linux the bench
/// runs on; the kernel's ABI fixes it, whatever CONFIG_HZ is).
const TICKS_PER_SECOND: f64 = 100.0;

/// (utime + stime, cutime + cstime, ppid) of `pid`, in ticks.
fn stat(pid: u32) -> Option<(u64, u64, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Counted from field 3 (state): ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ppid = u32::try_from(field(4)?).ok()?;
    Some((field(14)? + field(15)?, field(16)? + field(17)?, ppid))
}

/// CPU seconds `pid` itself has used so far.
pub fn process_seconds(pid: u32) -> Option<f64> {
    stat(pid).map(|(own, _, _)| own as f64 / TICKS_PER_SECOND)
}

/// CPU seconds of this process's children that have exited and were waited for (the
/// commands the bench ran to completion).
pub fn finished_children_seconds() -> Option<f64> {
    stat(std::process::id()).map(|(_, children, _)| children as f64 / TICKS_PER_SECOND)
}

/// The PostgreSQL cluster of an embedded data directory, found by its `postmaster.pid`.
#[derive(Clone, Debug)]
pub struct Postgres {
    pid_file: PathBuf,
}

impl Postgres {
    /// `data_dir` as given to `almanac --data-dir` (the cluster is in `pg/`).
    pub fn embedded(data_dir: &Path) -> Postgres {
        Postgres {
            pid_file: data_dir.join("pg").join("postmaster.pid"),
        }
    }

    /// CPU seconds of the whole cluster so far: the postmaster, its exited children and
    /// its live ones. Reads every `/proc/<pid>/stat` once.
    pub fn seconds(&self) -> Option<f64> {
        let text = std::fs::read_to_string(&self.pid_file).ok()?;
        let postmaster: u32 = text.lines().next()?.trim().parse().ok()?;
        let (own, exited, _) = stat(postmaster)?;
        let mut ticks = own + exited;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((own, _, ppid)) = stat(pid) {
                if ppid == postmaster {
                    ticks += own;
                }
            }
        }
        Some(ticks as f64 / TICKS_PER_SECOND)
    }
}

/// One reading of every process's CPU seconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Sample {
    /// The running command (while it runs), else `None`.
    pub command_s: Option<f64>,
    pub server_s: Option<f64>,
    pub postgres_s: Option<f64>,
}

/// The processes to read.
#[derive(Clone, Debug)]
pub struct Probe {
    pub server: u32,
    pub postgres: Option<Postgres>,
}

impl Probe {
    pub fn sample(&self, command: Option<u32>) -> Sample {
        Sample {
            command_s: command.and_then(process_seconds),
            server_s: process_seconds(self.server),
            postgres_s: self.postgres.as_ref().and_then(Postgres::seconds),
        }
    }
}

/// CPU seconds per process between two samples, and per 1,000 entities of the catalog.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct PhaseCpu {
    pub command_s: Option<f64>,
    pub server_s: Option<f64>,
    pub postgres_s: Option<f64>,
    pub command_s_per_1000_entities: Option<f64>,
    pub server_s_per_1000_entities: Option<f64>,
    pub postgres_s_per_1000_entities: Option<f64>,
}

impl PhaseCpu {
    pub fn between(from: &Sample, to: &Sample, entities: usize) -> PhaseCpu {
        let delta = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        PhaseCpu::of(
            delta(from.command_s, to.command_s),
            delta(from.server_s, to.server_s),
            delta(from.postgres_s, to.postgres_s),
            entities,
        )
    }

    pub fn of(
        command_s: Option<f64>,
        server_s: Option<f64>,
        postgres_s: Option<f64>,
        entities: usize,
    ) -> PhaseCpu {
        let thousands = entities.max(1) as f64 / 1000.0;
        let per = |s: Option<f64>| s.map(|s| s / thousands);
        PhaseCpu {
            command_s,
            server_s,
            postgres_s,
            command_s_per_1000_entities: per(command_s),
            server_s_per_1000_entities: per(server_s),
            postgres_s_per_1000_entities: per(postgres_s),
        }
    }
}
