//! `almanac replay [--verify]`: rebuild every projection from the log and swap it
//! in, or rebuild alongside and report any difference from the live tables and
//! between the in-memory catalog a server follows and the whole log folded at once.

use crate::config::Settings;
use crate::database::Connected;
use almanac_store::follow::{check_followed, FollowCheck};
use almanac_store::projection::{replay, ReplayMode, ReplayReport};
use almanac_store::EventLog;
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
    let followed = match (&result, args.verify) {
        (Ok(_), true) => {
            Some(check_followed(&EventLog::new(connected.database.pool.clone())).await)
        }
        _ => None,
    };
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
    let in_memory = match followed {
        Some(check) => report_followed(&check?)?,
        None => true,
    };
    if report.differences.is_empty() {
        outln!("no difference from the live projections")?;
        return Ok(if in_memory {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    outln!("{} differences (first ones):", report.differences.len())?;
    for difference in &report.differences {
        outln!("  {difference}")?;
    }
    Ok(ExitCode::FAILURE)
}

/// Prints the in-memory catalog's check; true when it equals the whole log folded.
fn report_followed(check: &FollowCheck) -> anyhow::Result<bool> {
    if check.equal {
        outln!(
            "in-memory catalog at position {}: {} entities, no difference from the log folded at once",
            check.position,
            check.entities
        )?;
        return Ok(true);
    }
    outln!(
        "in-memory catalog at position {} differs from the log folded at once in {} entities:",
        check.position,
        check.differing.len()
    )?;
    if check.differing.is_empty() {
        outln!("  (no entity differs; an index does)")?;
    }
    for entity_ref in check.differing.iter().take(MAX_LISTED) {
        outln!("  {entity_ref}")?;
    }
    Ok(false)
}

/// Differing entities listed at most (the count says how many there are).
const MAX_LISTED: usize = 50;

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
