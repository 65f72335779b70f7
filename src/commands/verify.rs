//! `almanac verify`: walk every stream's hash chain and check that the events
//! table is still guarded; exit non-zero on any break.

use crate::config::Settings;
use crate::database::Connected;
use almanac_store::log::{GuardReport, VerifyReport};
use almanac_store::EventLog;
use std::process::ExitCode;

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let connected = Connected::open(&settings).await?;
    let result = check(&connected).await;
    connected.close().await?;
    let (chains, guards) = result?;
    outln!(
        "checked {} events in {} streams: {} broken",
        chains.events,
        chains.streams,
        chains.breaks.len()
    )?;
    for broken in &chains.breaks {
        outln!(
            "broken: stream {} version {} (position {}): {}",
            broken.stream,
            broken.version,
            broken.position,
            broken.reason
        )?;
    }
    for guard in &guards.missing_or_disabled {
        outln!("guard missing or disabled: trigger {guard} on events")?;
    }
    if guards.missing_or_disabled.is_empty() {
        outln!("append-only guards in place")?;
    }
    Ok(
        if chains.is_intact() && guards.missing_or_disabled.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

async fn check(connected: &Connected) -> anyhow::Result<(VerifyReport, GuardReport)> {
    connected.migrate().await?;
    let log = EventLog::new(connected.database.pool.clone());
    Ok((log.verify(None).await?, log.check_guards().await?))
}
