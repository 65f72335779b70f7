//! `almanac export [--ref REF] [--since TIME]` writes the log as NDJSON to
//! stdout; `almanac import FILE` rebuilds a database from such a file (into an
//! empty log only) and projects it.

use crate::config::Settings;
use crate::database::Connected;
use almanac_domain::EntityRef;
use almanac_store::log::seal::Sealer;
use almanac_store::projection::Projector;
use almanac_store::EventLog;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only this entity's stream (`kind:namespace/name`; namespace defaults to `default`).
    #[arg(long = "ref")]
    entity_ref: Option<String>,
    /// Only events recorded at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// An NDJSON file written by `almanac export` (`-` for stdin).
    file: PathBuf,
}

pub async fn export(settings: Settings, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let stream = match &args.entity_ref {
        Some(text) => Some(
            EntityRef::parse(text, None, "default")
                .with_context(|| format!("--ref {text:?} is not an entity ref"))?
                .canonical(),
        ),
        None => None,
    };
    let connected = Connected::open(&settings).await?;
    let log = EventLog::new(connected.database.pool.clone());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = log
        .export(stream.as_deref(), args.since, |event| {
            serde_json::to_writer(&mut out, event)?;
            out.write_all(b"\n")
        })
        .await;
    let flushed = out.flush();
    drop(out);
    connected.close().await?;
    let count = result?;
    flushed?;
    eprintln!("exported {count} events");
    Ok(ExitCode::SUCCESS)
}

pub async fn import(
    settings: Settings,
    sealer: Arc<Sealer>,
    args: ImportArgs,
) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let lines = reader
        .lines()
        .enumerate()
        .map(|(i, line)| line.map(|text| (i + 1, text)))
        .collect::<Result<Vec<_>, _>>()
        .context("cannot read the import file")?;
    let connected = Connected::open(&settings).await?;
    let result = async {
        connected.migrate().await?;
        // Setting the position sequence needs the schema owner.
        let owner = connected.owner_pool().await?;
        let imported = EventLog::new(owner.clone())
            .with_sealer(sealer)
            .import(lines)
            .await;
        owner.close().await;
        let imported = imported?;
        Projector::new(connected.database.pool.clone())
            .catch_up()
            .await?;
        anyhow::Ok(imported)
    }
    .await;
    connected.close().await?;
    outln!("imported {} events; projections rebuilt", result?)?;
    Ok(ExitCode::SUCCESS)
}
