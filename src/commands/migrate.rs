//! `almanac migrate`: apply the schema and exit.

use crate::config::Settings;
use crate::database::Connected;
use std::process::ExitCode;

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let connected = Connected::open(&settings).await?;
    let result = connected.migrate().await;
    connected.close().await?;
    result?;
    outln!("migrations applied")?;
    Ok(ExitCode::SUCCESS)
}
