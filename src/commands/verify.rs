//! `almanac verify [--checkpoint FILE]`: walk every stream's hash chain, check
//! the log against its signed checkpoints (and an auditor's checkpoint file),
//! and check that the log is still guarded; exit non-zero on any finding.
//! `almanac export-checkpoint` prints the latest checkpoint for an auditor.

use crate::config::Settings;
use crate::database::Connected;
use crate::signing;
use almanac_store::log::seal::{CheckpointFile, Trust};
use almanac_store::log::Audit;
use almanac_store::EventLog;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A checkpoint file an auditor kept (`almanac export-checkpoint`): the log
    /// up to its position must reproduce its signed head, and its public key is
    /// trusted for the database's checkpoints.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

pub async fn run(settings: Settings, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut trust = Trust::default();
    if let Some(key) = signing::local_key(&settings)? {
        trust.add_key(key);
    }
    if let Some(path) = &args.checkpoint {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the checkpoint file {}", path.display()))?;
        let (checkpoint, key) = CheckpointFile::parse(&text)
            .with_context(|| format!("checkpoint file {}", path.display()))?;
        trust.add_key(key);
        trust.auditor = Some(checkpoint);
    }
    if trust.keys.is_empty() {
        anyhow::bail!(
            "no key to check the checkpoints' signatures with: give --checkpoint FILE (exported \
             with `almanac export-checkpoint`) or run where {} is readable",
            settings.signing_key_path().display()
        );
    }
    let connected = Connected::open(&settings).await?;
    let result = check(&connected, &trust).await;
    connected.close().await?;
    let audit = result?;
    print(&audit, &trust)?;
    Ok(if audit.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print(audit: &Audit, trust: &Trust) -> std::io::Result<()> {
    let chains = &audit.chains;
    outln!(
        "checked {} events in {} streams: {} broken",
        chains.events,
        chains.streams,
        chains.breaks.len()
    )?;
    let seal = &audit.seal;
    let keys: Vec<&str> = trust.keys.iter().map(|k| k.key_id.as_str()).collect();
    outln!(
        "checked {} signed checkpoints (trusted keys: {}): {} events sealed, up to position {}",
        seal.checkpoints,
        keys.join(", "),
        seal.sealed_events,
        seal.sealed_to.unwrap_or(0)
    )?;
    if seal.backlog_events > 0 {
        outln!(
            "note: {} events were sealed after they were written (an import or an upgrade): \
             they are proven from then on, not from when they were recorded",
            seal.backlog_events
        )?;
    }
    if let Some(auditor) = &trust.auditor {
        match seal.auditor_verified_to {
            Some(position) => outln!(
                "the log reproduces the auditor's checkpoint at position {position} ({} events)",
                auditor.event_count
            )?,
            None => outln!(
                "the log does NOT reproduce the auditor's checkpoint at position {}",
                auditor.position
            )?,
        }
    }
    for line in audit.lines() {
        outln!("{line}")?;
    }
    if audit.guards.is_intact() {
        outln!("append-only guards in place")?;
    }
    Ok(())
}

async fn check(connected: &Connected, trust: &Trust) -> anyhow::Result<Audit> {
    connected.migrate().await?;
    let log = EventLog::new(connected.database.pool.clone());
    Ok(log.audit(trust, None).await?)
}

pub async fn export_checkpoint(settings: Settings) -> anyhow::Result<ExitCode> {
    let key = signing::local_key(&settings)?.with_context(|| {
        format!(
            "no signing key at {}: export where the server's key is",
            settings.signing_key_path().display()
        )
    })?;
    let connected = Connected::open(&settings).await?;
    let result = async {
        connected.migrate().await?;
        let log = EventLog::new(connected.database.pool.clone());
        anyhow::Ok(log.export_checkpoint(&key).await?)
    }
    .await;
    connected.close().await?;
    let file = result?;
    outln!("{}", serde_json::to_string_pretty(&file)?)?;
    eprintln!(
        "checkpoint at position {} ({} events), key {}: keep this file and the key id",
        file.position, file.event_count, file.key_id
    );
    Ok(ExitCode::SUCCESS)
}
