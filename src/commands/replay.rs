//! `almanac replay [--verify]`: rebuild every projection from the log and swap it
//! in, or rebuild alongside and report any difference from the live tables.

use crate::config::Settings;
use crate::database::Connected;
use almanac_store::projection::{replay, ReplayMode, ReplayReport};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Rebuild alongside and compare; change nothing. Exits 1 on a difference.
    #[arg(long)]
    verify: bool,
}

pub async fn run(settings: Settings, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let connected = Connected::open(&settings).await?;
    let result = rebuild(&connected, &args).await;
    connected.close().await?;
    let report = result?;
    outln!(
        "replayed {} events up to position {}: {} entities, {} relation rows",
        report.events,
        report.up_to,
        report.entities,
        report.relations
    )?;
    if !args.verify {
        outln!("projections swapped in")?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.differences.is_empty() {
        outln!("no difference from the live projections")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{} differences (first ones):", report.differences.len())?;
    for difference in &report.differences {
        outln!("  {difference}")?;
    }
    Ok(ExitCode::FAILURE)
}

async fn rebuild(connected: &Connected, args: &ReplayArgs) -> anyhow::Result<ReplayReport> {
    connected.migrate().await?;
    let mode = if args.verify {
        ReplayMode::Verify
    } else {
        ReplayMode::Swap
    };
    let terminal = std::io::stderr().is_terminal();
    let report = replay(&connected.database.pool, mode, |events, up_to| {
        if terminal {
            eprint!("\rreplaying: {events} events (up to position {up_to})");
        }
    })
    .await?;
    if terminal {
        eprintln!();
    }
    Ok(report)
}
