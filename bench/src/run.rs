//! One catalog size, start to finish: generate, serve, cold ingest, unchanged
//! re-ingest, a 1% edit, replay, the query scenarios, the floor, memory; then
//! stop the server, start it again on the ingested catalog (start-up time and
//! memory) and clean up. Each step is timed as the user would see it.

use crate::almanac::{Almanac, Target};
use crate::catalog::{Catalog, EDIT_MARK};
use crate::cpu::{self, PhaseCpu, Probe};
use crate::database::BenchDb;
use crate::load::Bounds;
use crate::memory::Sampler;
use crate::report::{Floor, Ingest, Ratios, Replay, RunReport};
use crate::{floor, scenarios, startup, timeline};
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Instant;

pub struct Settings {
    pub exe: PathBuf,
    pub work_dir: PathBuf,
    pub seed: u64,
    pub bounds: Bounds,
    pub concurrency: Vec<usize>,
    pub database_url: Option<String>,
    pub almanac_config: Option<PathBuf>,
    /// Query scenarios to run by name; empty for all.
    pub scenarios: Vec<String>,
    pub keep: bool,
}

pub async fn run(
    settings: &Settings,
    entities: usize,
    postgres: &mut String,
) -> anyhow::Result<RunReport> {
    let dir = settings
        .work_dir
        .join(format!("almanac-bench-{}-{entities}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    eprintln!("[{entities}] generating the catalog in {}", dir.display());
    let start = Instant::now();
    let catalog = Catalog::generate(entities, settings.seed, &dir.join("catalog"))?;
    let mut report = RunReport {
        entities,
        generate_seconds: start.elapsed().as_secs_f64(),
        catalog: catalog.stats.clone(),
        ..RunReport::default()
    };
    let run_database = format!("almanac_bench_{}_{entities}", std::process::id());
    let target = match &settings.database_url {
        Some(url) => Target::Url(BenchDb::create_run_database(url, &run_database).await?),
        None => Target::DataDir(dir.join("data")),
    };
    let almanac = Almanac {
        exe: settings.exe.clone(),
        target: target.clone(),
        config: settings.almanac_config.clone(),
        logs,
    };
    eprintln!("[{entities}] starting almanac serve");
    let server = almanac.serve("serve")?;
    let sampler = Sampler::start(server.pid());
    let db = match (&target, &settings.database_url) {
        (Target::Url(run_url), Some(base)) => BenchDb::url(base, run_url, &run_database).await?,
        (Target::DataDir(data), _) => BenchDb::embedded(data).await?,
        (Target::Url(_), None) => bail!("no DATABASE_URL"),
    };
    if postgres.is_empty() {
        *postgres = db.server_version().await?;
    }
    let probe = Probe {
        server: server.pid(),
        postgres: match &target {
            Target::DataDir(data) => Some(cpu::Postgres::embedded(data)),
            Target::Url(_) => None,
        },
    };
    let measured = steps(
        settings,
        &almanac,
        &catalog,
        &db,
        (&server, &probe),
        &sampler,
        &mut report,
    )
    .await;
    report.memory = sampler.finish();
    let stopped = server.terminate();
    db.close().await?;
    measured?;
    stopped?;
    // After the bench's own connection is closed: with the embedded database
    // the restarted server starts PostgreSQL again itself.
    eprintln!("[{entities}] restart: start-up time and memory");
    let first = serde_json::json!({ "ref": catalog.component_ref(0) });
    report.startup = startup::measure(&almanac, scenarios::ENTITY_BY_REF, first).await;
    if let Some(error) = &report.startup.error {
        report
            .notes
            .push(format!("{entities} entities, restart: {error}"));
    }
    if !settings.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(report)
}

async fn steps(
    settings: &Settings,
    almanac: &Almanac,
    catalog: &Catalog,
    db: &BenchDb,
    (server, probe): (&crate::almanac::Server, &Probe),
    sampler: &Sampler,
    report: &mut RunReport,
) -> anyhow::Result<()> {
    let n = report.entities;
    let ingest = |name: &'static str| {
        let root = catalog.root.display().to_string();
        async move { ingest(almanac, db, name, &root, probe, n).await }
    };
    eprintln!("[{n}] cold ingest");
    sampler.phase("cold_ingest");
    report.cold_ingest = ingest("ingest-cold").await?;
    let cold_head = report.cold_ingest.log_head;
    // Right after the ingest it is compared with (see `floor`).
    eprintln!("[{n}] floor: COPY of the same event rows");
    sampler.phase("floor_copy");
    let copy = floor::copy_events(db, cold_head).await;
    eprintln!("[{n}] re-ingest, unchanged");
    sampler.phase("reingest_unchanged");
    report.reingest_unchanged = ingest("ingest-unchanged").await?;
    eprintln!("[{n}] edit 1% of the files, re-ingest");
    sampler.phase("edit_one_percent");
    let edited = catalog.edit_one_percent()?;
    report.edit_one_percent = ingest("ingest-edit").await?;
    let visible = db.visible_with(&edited, EDIT_MARK).await?;
    report.edit_one_percent.changes_visible = Some(format!("{visible} of {}", edited.len()));
    eprintln!("[{n}] replay");
    sampler.phase("replay");
    report.replay = replay(almanac).await?;
    eprintln!("[{n}] queries");
    sampler.phase("queries");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()?;
    let url = server.url("/graphql");
    let chosen =
        |name: &str| settings.scenarios.is_empty() || settings.scenarios.iter().any(|s| s == name);
    for scenario in scenarios::all(catalog)
        .into_iter()
        .filter(|s| chosen(s.name))
    {
        eprintln!("[{n}]   {}", scenario.name);
        let measured = scenarios::measure(
            &client,
            &url,
            scenario,
            &settings.concurrency,
            settings.bounds,
        )
        .await;
        report.queries.push(measured);
    }
    eprintln!("[{n}] floor: SQL lookups");
    sampler.phase("floor");
    report.floor = measure_floor(settings, catalog, db, copy).await;
    report.ratios = ratios(report);
    let ingests = [
        ("cold ingest", &report.cold_ingest),
        ("re-ingest", &report.reingest_unchanged),
        ("1% edit", &report.edit_one_percent),
    ];
    for (step, ingest) in ingests {
        if let Some(error) = &ingest.command_error {
            report.notes.push(format!("{n} entities, {step}: {error}"));
        }
    }
    Ok(())
}

async fn ingest(
    almanac: &Almanac,
    db: &BenchDb,
    name: &str,
    root: &str,
    probe: &Probe,
    catalog_entities: usize,
) -> anyhow::Result<Ingest> {
    let before = db.head().await?;
    let start = Instant::now();
    let (done, watching) = tokio::sync::watch::channel(false);
    let pid = AtomicU32::new(0);
    let cpu_before = (cpu::finished_children_seconds(), probe.sample(None));
    let watch = timeline::CpuWatch {
        probe,
        command: &pid,
        entities: catalog_entities,
    };
    let poll = timeline::watch_ingest(db, before, watching, watch);
    let command = async {
        let finished = almanac
            .run_telling(name, &["ingest", "--json", root], &pid)
            .await;
        let _ = done.send(true);
        finished
    };
    let (mut timeline, finished) = tokio::join!(poll, command);
    let cpu_after = (cpu::finished_children_seconds(), probe.sample(None));
    let finished = finished?;
    let mut seconds = finished.seconds;
    let summary: Value = match &finished.failure {
        None => serde_json::from_str(&finished.stdout)
            .with_context(|| format!("ingest printed no JSON summary: {}", finished.stdout))?,
        Some(failure) => {
            // The command gave up (its wait for the projection timed out, say):
            // what it appended still becomes visible; time that ourselves.
            eprintln!("  {failure}; waiting for the projection");
            wait_projected(db).await?;
            seconds = start.elapsed().as_secs_f64();
            timeline.projected_s = Some(seconds);
            Value::Null
        }
    };
    let count = |key: &str| summary[key].as_u64().unwrap_or(0) as usize;
    let after = db.head().await?;
    let (entities, relations) = db.counts().await?;
    let changed = match finished.failure {
        None => (count("registered") + count("updated")) as f64,
        Some(_) => (after - before) as f64,
    };
    Ok(Ingest {
        seconds,
        command_error: finished.failure,
        files_read: count("sources_read"),
        registered: count("registered"),
        updated: count("updated"),
        unchanged: count("unchanged"),
        events_appended: after - before,
        log_head: after,
        entities_per_second: changed / seconds,
        events_per_second: (after - before) as f64 / seconds,
        entities_projected: entities,
        relation_rows_projected: relations,
        changes_visible: None,
        timeline,
        // The command's CPU from the children this process waited for (it has exited).
        cpu: PhaseCpu::of(
            cpu_after.0.zip(cpu_before.0).map(|(a, b)| a - b),
            cpu_after
                .1
                .server_s
                .zip(cpu_before.1.server_s)
                .map(|(a, b)| a - b),
            cpu_after
                .1
                .postgres_s
                .zip(cpu_before.1.postgres_s)
                .map(|(a, b)| a - b),
            catalog_entities,
        ),
    })
}

/// Polls until the projection checkpoint reaches the log head (30 min at most).
async fn wait_projected(db: &BenchDb) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let lag = almanac_store::projection::lag(&db.pool).await?;
        if lag.checkpoint >= lag.head {
            return Ok(());
        }
        if start.elapsed() > std::time::Duration::from_secs(1800) {
            bail!("the projection did not reach the log head in 30 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `replayed E events up to position P: N entities` (older servers added `, R relation rows`)
async fn replay(almanac: &Almanac) -> anyhow::Result<Replay> {
    let finished = almanac.run("replay", &["replay"]).await?;
    if let Some(failure) = finished.failure {
        bail!(failure);
    }
    let words: Vec<&str> = finished.stdout.split_whitespace().collect();
    let number = |after: &str| -> i64 {
        words
            .iter()
            .position(|w| *w == after)
            .and_then(|i| words.get(i + 1))
            .and_then(|w| w.trim_end_matches(':').parse().ok())
            .unwrap_or(0)
    };
    let events = number("replayed") as u64;
    let entities = words
        .iter()
        .position(|w| w.trim_end_matches(',') == "entities")
        .and_then(|i| words[i - 1].parse().ok())
        .unwrap_or(0);
    let relations = words
        .iter()
        .position(|w| *w == "relation")
        .and_then(|i| words[i - 1].parse().ok())
        .unwrap_or(0);
    Ok(Replay {
        seconds: finished.seconds,
        events,
        events_per_second: events as f64 / finished.seconds,
        entities,
        relation_rows: relations,
    })
}

async fn measure_floor(
    settings: &Settings,
    catalog: &Catalog,
    db: &BenchDb,
    copy: anyhow::Result<floor::CopyFloor>,
) -> Floor {
    let mut floor = Floor::default();
    match copy {
        Ok(copy) => floor.copy_events = Some(copy),
        Err(err) => floor.copy_events_error = Some(format!("{err:#}")),
    }
    let refs: Arc<Vec<String>> = Arc::new(
        (0..catalog.component_count())
            .map(|i| catalog.component_ref(i))
            .collect(),
    );
    for &concurrency in &settings.concurrency {
        floor
            .lookup_by_ref
            .push(floor::lookup_by_ref(db, refs.clone(), concurrency, settings.bounds).await);
    }
    floor
}

fn ratios(report: &RunReport) -> Ratios {
    let copy = report.floor.copy_events.as_ref().map(|c| c.seconds);
    let sql_at = |c: usize| {
        report
            .floor
            .lookup_by_ref
            .iter()
            .find(|m| m.concurrency == c)
    };
    let entity_at = |c: usize| {
        report
            .queries
            .iter()
            .find(|q| q.name == "entity_by_ref" && q.available)
            .and_then(|q| q.runs.iter().find(|m| m.concurrency == c))
    };
    Ratios {
        cold_ingest_seconds_over_copy_seconds: copy.map(|c| report.cold_ingest.seconds / c),
        entity_by_ref_p50_over_sql_p50_at_1: entity_at(1)
            .zip(sql_at(1))
            .map(|(e, s)| e.p50_ms / s.p50_ms),
        sql_rps_over_entity_by_ref_rps_at_10: entity_at(10)
            .zip(sql_at(10))
            .map(|(e, s)| s.requests_per_second / e.requests_per_second),
    }
}
