//! `almanac replay [--verify] [--json]`: rebuild every projection from the log and swap
//! it in, or rebuild alongside and report any difference from the live tables and
//! between the in-memory catalog a server follows and the whole log folded at once.
//! On a terminal (stderr) it shows the events folded, the rate and the time left; it
//! is quiet when stderr is not a terminal or with `--json`.

use crate::config::Settings;
use crate::database::Connected;
use almanac_store::follow::{check_followed, FollowCheck};
use almanac_store::projection::{replay, ReplayMode, ReplayReport};
use almanac_store::EventLog;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Rebuild alongside and compare; change nothing. Exits 1 on a difference.
    #[arg(long)]
    verify: bool,
    /// Print the outcome as one JSON document (and no progress).
    #[arg(long)]
    json: bool,
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
    if args.json {
        return print_json(&report, args.verify, followed.transpose()?.as_ref());
    }
    outln!(
        "replayed {} events up to position {}: {} entities",
        report.events,
        report.up_to,
        report.entities
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
    let bar = progress_bar(!args.json && std::io::stderr().is_terminal());
    let report = replay(&connected.database.pool, mode, |events, up_to| {
        bar.set_length(up_to.max(0) as u64);
        bar.set_position(events);
        if events >= up_to.max(0) as u64 {
            bar.set_message(match mode {
                ReplayMode::Verify => "folded; loading and comparing",
                ReplayMode::Swap => "folded; loading and writing what differs",
            });
        }
    })
    .await;
    bar.finish_and_clear();
    Ok(report?)
}

/// Events folded out of the log's head, the rate and the time left; hidden (drawing
/// nothing) unless `shown`.
fn progress_bar(shown: bool) -> ProgressBar {
    if !shown {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "replaying {bar:30} {human_pos}/{human_len} events, {per_sec}, {eta} left {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The outcome as one JSON document; exit 1 on any difference, as the text form.
fn print_json(
    report: &ReplayReport,
    verify: bool,
    followed: Option<&FollowCheck>,
) -> anyhow::Result<ExitCode> {
    let in_memory = followed.map(|check| {
        json!({
            "position": check.position,
            "entities": check.entities,
            "equal": check.equal,
            "differing": check.differing.iter().take(MAX_LISTED).collect::<Vec<_>>(),
        })
    });
    let clean = report.differences.is_empty() && followed.is_none_or(|check| check.equal);
    let document = json!({
        "mode": if verify { "verify" } else { "swap" },
        "events": report.events,
        "up_to": report.up_to,
        "entities": report.entities,
        "differences": report.differences,
        "in_memory": in_memory,
    });
    outln!("{}", serde_json::to_string_pretty(&document)?)?;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
