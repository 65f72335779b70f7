//! `almanac ingest PATH_OR_URL...`: read sources once, print a summary, exit
//! non-zero when anything could not be accepted. Works beside a running
//! `almanac serve` on the same data directory (the embedded database is shared).

use super::ingest_progress::draw;
use crate::config::Settings;
use crate::database::Connected;
use almanac_ingest::progress::Progress;
use almanac_ingest::{IngestReport, Ingestor, Source};
use almanac_store::log::seal::Sealer;
use almanac_store::EventLog;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Files, directories (searched recursively) or http(s) URLs.
    #[arg(required = true)]
    sources: Vec<String>,
    /// Which files of a directory to read.
    #[arg(long, default_value = almanac_ingest::read::DEFAULT_DIRECTORY_GLOB)]
    glob: String,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn source_of(text: &str, glob: &str) -> Source {
    if text.starts_with("http://") || text.starts_with("https://") {
        return Source::Url(text.to_string());
    }
    let path = PathBuf::from(text);
    if path.is_dir() {
        Source::Directory {
            root: path,
            glob: glob.to_string(),
        }
    } else {
        Source::File(path)
    }
}

pub async fn run(
    settings: Settings,
    sealer: Arc<Sealer>,
    args: IngestArgs,
) -> anyhow::Result<ExitCode> {
    let connected = Connected::open(&settings).await?;
    let ingestor =
        Ingestor::new(EventLog::new(connected.database.pool.clone()).with_sealer(sealer))
            .with_reading(settings.reading.clone())
            .with_limits(settings.limits.read_limits())
            .with_rules(settings.catalog.kind_rules())
            .with_orphans(settings.catalog.orphan_strategy.unwrap_or_default());
    settings.catalog.report_ignored();
    // Progress only for a person watching: not into a pipe or a log, not with --json.
    let shown = !args.json && std::io::stderr().is_terminal();
    let result = ingest_all(&connected, &ingestor, &args, shown).await;
    connected.close().await?;
    let report = result?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_summary(&report)?;
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn ingest_all(
    connected: &Connected,
    ingestor: &Ingestor,
    args: &IngestArgs,
    shown: bool,
) -> anyhow::Result<IngestReport> {
    connected.migrate().await?;
    let mut total = IngestReport::default();
    for text in &args.sources {
        let source = source_of(text, &args.glob);
        let progress = Arc::new(Progress::default());
        let _drawn = shown.then(|| draw(text, progress.clone()));
        let ingestor = ingestor.clone().with_progress(progress);
        let report = ingestor.ingest(&source).await?;
        if shown {
            eprintln!(
                "{}: {} files, {} events",
                source.origin(),
                report.sources_read,
                report.events()
            );
        }
        total.merge(report);
    }
    // Visible to queries before the command returns.
    let progress = Arc::new(Progress::default());
    let _drawn = shown.then(|| draw("all sources", progress.clone()));
    let ingestor = ingestor.clone().with_progress(progress);
    ingestor.wait_visible(total.last_position).await?;
    Ok(total)
}

fn print_summary(report: &IngestReport) -> std::io::Result<()> {
    outln!(
        "{} sources read: {} registered, {} updated, {} removed, {} unchanged, {} conflicts, {} errors",
        report.sources_read,
        report.registered,
        report.updated,
        report.removed,
        report.unchanged,
        report.conflicts.len(),
        report.errors.len()
    )?;
    for conflict in &report.conflicts {
        outln!(
            "conflict: {} is managed by {}; {} also claims it",
            conflict.entity_ref,
            conflict.existing_source,
            conflict.new_source
        )?;
    }
    for error in &report.errors {
        match &error.entity_ref {
            Some(entity_ref) => outln!(
                "error: {} ({}): {}",
                error.source,
                entity_ref,
                error.message
            )?,
            None => outln!("error: {}: {}", error.source, error.message)?,
        }
    }
    Ok(())
}
