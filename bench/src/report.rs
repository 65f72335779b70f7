//! The benchmark's output: one JSON document with every figure, and the same
//! figures as human tables (one column per catalog size).

use crate::catalog::CatalogStats;
use crate::cpu::PhaseCpu;
use crate::floor::CopyFloor;
use crate::load::Measured;
use crate::memory::MemoryReport;
use crate::scenarios::ScenarioReport;
use crate::startup::Startup;
use crate::timeline::Timeline;
use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Document {
    pub date: String,
    pub seed: u64,
    pub machine: Machine,
    pub versions: Versions,
    /// `embedded` or `DATABASE_URL`.
    pub database: String,
    /// The `--config` file given to every almanac process, with its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub almanac_config: Option<String>,
    pub load: LoadSettings,
    pub runs: Vec<RunReport>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_mib: f64,
    /// `/proc/loadavg` when the benchmark started: other work on the machine.
    pub load_average_at_start: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Versions {
    pub almanac: String,
    /// The checkout's commit when the benchmark ran (`-dirty` with local
    /// changes); the measured binary is built from it unless `--almanac` is given.
    pub workspace_commit: String,
    pub postgresql: String,
    pub rustc: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadSettings {
    pub requests_per_run: usize,
    pub max_seconds_per_run: f64,
    pub warmup_requests: usize,
    pub concurrency: Vec<usize>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    /// Entities asked for (Location entities come on top: `catalog.locations`).
    pub entities: usize,
    pub catalog: CatalogStats,
    pub generate_seconds: f64,
    pub cold_ingest: Ingest,
    pub reingest_unchanged: Ingest,
    pub edit_one_percent: Ingest,
    pub replay: Replay,
    pub queries: Vec<ScenarioReport>,
    pub memory: MemoryReport,
    /// `serve` started again on the ingested catalog: times and memory.
    pub startup: Startup,
    pub floor: Floor,
    pub ratios: Ratios,
    /// What went wrong without stopping the run (a command that failed, say).
    pub notes: Vec<String>,
}

/// One `almanac ingest` run, timed from spawn to exit (the command returns
/// once everything it appended is projected, i.e. queryable).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ingest {
    pub seconds: f64,
    /// The command failed; `seconds` is then the bench's own wait until the
    /// projection reached the log head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_error: Option<String>,
    pub files_read: usize,
    pub registered: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Log head after minus log head before.
    pub events_appended: i64,
    pub log_head: i64,
    pub entities_per_second: f64,
    pub events_per_second: f64,
    /// Projected rows after the command returned.
    pub entities_projected: i64,
    pub relation_rows_projected: i64,
    /// Edit only: edited entities whose new description was visible on return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes_visible: Option<String>,
    pub timeline: Timeline,
    /// CPU seconds of the whole step: the `almanac ingest` command, the server and
    /// PostgreSQL, and each per 1,000 entities of the catalog (per phase: `timeline`).
    pub cpu: PhaseCpu,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Replay {
    pub seconds: f64,
    pub events: u64,
    pub events_per_second: f64,
    pub entities: i64,
    pub relation_rows: i64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Floor {
    /// COPY of the cold ingest's event rows into a table shaped like `events`.
    pub copy_events: Option<CopyFloor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_events_error: Option<String>,
    /// `SELECT descriptor FROM entities WHERE ref = $1`, one per concurrency.
    pub lookup_by_ref: Vec<Measured>,
}

/// Almanac over PostgreSQL alone: how many times the database-only cost.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ratios {
    pub cold_ingest_seconds_over_copy_seconds: Option<f64>,
    pub entity_by_ref_p50_over_sql_p50_at_1: Option<f64>,
    pub sql_rps_over_entity_by_ref_rps_at_10: Option<f64>,
}

fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.digits$}"))
}

fn row(out: &mut String, label: &str, values: Vec<String>) {
    out.push_str(&format!("| {label} |"));
    for value in values {
        out.push_str(&format!(" {value} |"));
    }
    out.push('\n');
}

/// Markdown tables: figures by catalog size, then queries by size.
pub fn human(document: &Document) -> String {
    let runs = &document.runs;
    let mut out = String::new();
    row(
        &mut out,
        "entities",
        runs.iter().map(|r| r.entities.to_string()).collect(),
    );
    row(
        &mut out,
        "---",
        runs.iter().map(|_| "---:".to_string()).collect(),
    );
    let f = |get: &dyn Fn(&RunReport) -> Option<f64>, digits| -> Vec<String> {
        runs.iter().map(|r| cell(get(r), digits)).collect()
    };
    row(
        &mut out,
        "cold ingest, s (until queryable)",
        f(&|r| Some(r.cold_ingest.seconds), 2),
    );
    row(
        &mut out,
        "  entities/s",
        f(&|r| Some(r.cold_ingest.entities_per_second), 0),
    );
    row(
        &mut out,
        "  events/s",
        f(&|r| Some(r.cold_ingest.events_per_second), 0),
    );
    row(
        &mut out,
        "  first event / last event / projected, s",
        runs.iter()
            .map(|r| {
                let t = &r.cold_ingest.timeline;
                format!(
                    "{} / {} / {}",
                    cell(t.first_event_s, 1),
                    cell(t.last_event_s, 1),
                    cell(t.projected_s, 1)
                )
            })
            .collect(),
    );
    let per_1000 = |cpu: Option<&PhaseCpu>| {
        let cpu = cpu.copied().unwrap_or_default();
        format!(
            "{} / {} / {}",
            cell(cpu.command_s_per_1000_entities, 3),
            cell(cpu.server_s_per_1000_entities, 3),
            cell(cpu.postgres_s_per_1000_entities, 3)
        )
    };
    type Phase = fn(&RunReport) -> Option<&PhaseCpu>;
    let phases: [(&str, Phase); 3] = [
        (
            "  CPU s/1k entities, read+parse (ingest / server / PG)",
            |r| r.cold_ingest.timeline.cpu_read_parse.as_ref(),
        ),
        (
            "  CPU s/1k entities, decide+append (ingest / server / PG)",
            |r| r.cold_ingest.timeline.cpu_decide_append.as_ref(),
        ),
        ("  CPU s/1k entities, project (ingest / server / PG)", |r| {
            r.cold_ingest.timeline.cpu_project.as_ref()
        }),
    ];
    for (name, get) in phases {
        row(
            &mut out,
            name,
            runs.iter().map(|r| per_1000(get(r))).collect(),
        );
    }
    row(
        &mut out,
        "  CPU s/1k entities, whole (ingest / server / PG)",
        runs.iter()
            .map(|r| per_1000(Some(&r.cold_ingest.cpu)))
            .collect(),
    );
    row(
        &mut out,
        "  COPY of the same rows (floor), s",
        f(&|r| r.floor.copy_events.as_ref().map(|c| c.seconds), 3),
    );
    row(
        &mut out,
        "  ratio to COPY",
        f(&|r| r.ratios.cold_ingest_seconds_over_copy_seconds, 0),
    );
    row(
        &mut out,
        "re-ingest unchanged, s",
        f(&|r| Some(r.reingest_unchanged.seconds), 2),
    );
    row(
        &mut out,
        "  events appended (must be 0)",
        f(&|r| Some(r.reingest_unchanged.events_appended as f64), 0),
    );
    row(
        &mut out,
        "  CPU s/1k entities (ingest / server / PG)",
        runs.iter()
            .map(|r| per_1000(Some(&r.reingest_unchanged.cpu)))
            .collect(),
    );
    row(
        &mut out,
        "edit 1% of files, s (until visible)",
        f(&|r| Some(r.edit_one_percent.seconds), 2),
    );
    row(
        &mut out,
        "  events appended",
        f(&|r| Some(r.edit_one_percent.events_appended as f64), 0),
    );
    row(
        &mut out,
        "  CPU s/1k entities (ingest / server / PG)",
        runs.iter()
            .map(|r| per_1000(Some(&r.edit_one_percent.cpu)))
            .collect(),
    );
    row(
        &mut out,
        "replay (swap, server running), s",
        f(&|r| Some(r.replay.seconds), 2),
    );
    row(
        &mut out,
        "  events/s",
        f(&|r| Some(r.replay.events_per_second), 0),
    );
    row(
        &mut out,
        "server peak RSS (VmHWM), MiB",
        f(&|r| r.memory.peak_mib, 1),
    );
    row(
        &mut out,
        "restart: listening / ready / first query, s",
        runs.iter()
            .map(|r| {
                let s = &r.startup;
                format!(
                    "{} / {} / {}",
                    cell(s.listening_seconds, 2),
                    cell(s.ready_seconds, 2),
                    cell(s.first_query_seconds, 2)
                )
            })
            .collect(),
    );
    row(
        &mut out,
        "  server RSS after restart (read model), MiB",
        f(&|r| r.startup.rss_after_start_mib, 1),
    );
    row(
        &mut out,
        "SQL lookup by ref, p50 ms (1 client)",
        f(&|r| r.floor.lookup_by_ref.first().map(|m| m.p50_ms), 3),
    );
    out.push('\n');
    row(
        &mut out,
        "query (rps / p50 / p99 ms)",
        runs.iter().map(|r| r.entities.to_string()).collect(),
    );
    row(
        &mut out,
        "---",
        runs.iter().map(|_| "---:".to_string()).collect(),
    );
    let Some(first) = runs.first() else {
        return out;
    };
    for (s, scenario) in first.queries.iter().enumerate() {
        for (c, concurrency) in document.load.concurrency.iter().enumerate() {
            let values = runs
                .iter()
                .map(|r| match r.queries.get(s) {
                    Some(q) if !q.available => "not available".to_string(),
                    Some(q) => q.runs.get(c).map_or("-".to_string(), |m| {
                        let errors = if m.errors > 0 {
                            format!(" ({} errors)", m.errors)
                        } else {
                            String::new()
                        };
                        format!(
                            "{:.0} / {:.1} / {:.1}{errors}",
                            m.requests_per_second, m.p50_ms, m.p99_ms
                        )
                    }),
                    None => "-".to_string(),
                })
                .collect();
            row(
                &mut out,
                &format!("{} @{concurrency}", scenario.name),
                values,
            );
        }
    }
    for (c, concurrency) in document.load.concurrency.iter().enumerate() {
        let values = runs
            .iter()
            .map(|r| {
                r.floor.lookup_by_ref.get(c).map_or("-".to_string(), |m| {
                    format!(
                        "{:.0} / {:.2} / {:.2}",
                        m.requests_per_second, m.p50_ms, m.p99_ms
                    )
                })
            })
            .collect();
        row(
            &mut out,
            &format!("(floor) SQL lookup by ref @{concurrency}"),
            values,
        );
    }
    for note in runs.iter().flat_map(|r| &r.notes) {
        out.push_str(&format!("\nnote: {note}\n"));
    }
    out
}
