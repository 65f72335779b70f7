//! `almanac-bench`: measures Almanac's ingest, replay and query speed against a
//! real `almanac serve` on a real PostgreSQL, for synthetic catalogs of the
//! given sizes, and writes one JSON document plus a human table.
//!
//! It is run on purpose (`cargo run --release -p almanac-bench`), never by the
//! test suite, and asserts nothing about timings. See `bench/README.md`.

mod almanac;
mod catalog;
mod cpu;
mod database;
mod floor;
mod load;
mod memory;
mod report;
mod run;
mod scenarios;
mod startup;
mod timeline;

use anyhow::Context;
use clap::Parser;
use report::{Document, LoadSettings, Machine, Versions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "almanac-bench",
    about = "Ingest, replay and query speed of Almanac"
)]
struct Args {
    /// Catalog sizes to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    entities: Vec<usize>,
    /// Seed of the synthetic catalog (same seed, same catalog).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the JSON document [default: bench/results/<date>.json].
    #[arg(long)]
    out: Option<PathBuf>,
    /// The almanac binary to measure [default: build it with cargo, release].
    #[arg(long)]
    almanac: Option<PathBuf>,
    /// Measured requests per scenario and concurrency (at most).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Longest a scenario may run at one concurrency, in seconds.
    #[arg(long, default_value_t = 10.0)]
    max_seconds: f64,
    /// Concurrent clients per scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,10,64")]
    concurrency: Vec<usize>,
    /// Only these query scenarios (by name); all when not given.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Where run directories (catalog, data, logs) go.
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    work_dir: PathBuf,
    /// A service configuration file passed to every almanac process
    /// (`--config`); by default none, so every setting is at its default.
    #[arg(long)]
    almanac_config: Option<PathBuf>,
    /// Keep each run's directory (catalog, database, logs) afterwards.
    #[arg(long)]
    keep: bool,
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn workspace_commit() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let commit = command_line("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let dirty = !command_line("git", &["-C", dir, "status", "--porcelain"]).is_empty();
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or(String::new(), |(_, v)| v.trim().to_string());
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        memory_mib: memory::status_mib_of_file("/proc/meminfo", "MemTotal:").unwrap_or(0.0),
        load_average_at_start: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now = chrono::Local::now();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("results")
            .join(format!("{}.json", now.format("%Y-%m-%d")))
    });
    let bounds = load::Bounds {
        requests: args.requests,
        max_duration: Duration::from_secs_f64(args.max_seconds),
        warmup: 50,
    };
    let exe = almanac::locate_or_build(args.almanac.clone())?;
    let database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let settings = run::Settings {
        exe: exe.clone(),
        work_dir: args.work_dir.clone(),
        seed: args.seed,
        bounds,
        concurrency: args.concurrency.clone(),
        database_url: database_url.clone(),
        almanac_config: args.almanac_config.clone(),
        scenarios: args.scenarios.clone(),
        keep: args.keep,
    };
    let mut document = Document {
        date: now.to_rfc3339(),
        seed: args.seed,
        machine: machine(),
        versions: Versions {
            almanac: almanac::Almanac::version_of(&exe),
            workspace_commit: workspace_commit(),
            postgresql: String::new(),
            rustc: command_line("rustc", &["--version"]),
        },
        database: if database_url.is_some() {
            "DATABASE_URL"
        } else {
            "embedded"
        }
        .to_string(),
        almanac_config: args.almanac_config.as_ref().map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            format!("{}:\n{text}", path.display())
        }),
        load: LoadSettings {
            requests_per_run: bounds.requests,
            max_seconds_per_run: args.max_seconds,
            warmup_requests: bounds.warmup,
            concurrency: args.concurrency.clone(),
        },
        runs: Vec::new(),
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    for &entities in &args.entities {
        let report = run::run(&settings, entities, &mut document.versions.postgresql)
            .await
            .with_context(|| format!("run with {entities} entities"))?;
        document.runs.push(report);
        // Written after every size, so a later failure keeps what was measured.
        std::fs::write(&out, serde_json::to_string_pretty(&document)?)?;
        println!("\n{}", report::human(&document));
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
