//! The signing key from the configuration: installed for the commands that
//! append (serve, ingest, import), read for its public half by the commands
//! that check (verify, export-checkpoint). Never created by a command that only
//! reads, so an auditor's `verify` cannot mint a key by accident.

use crate::config::Settings;
use almanac_store::log::seal::{self, Sealer, TrustedKey};
use anyhow::Context;

/// Loads the key (creating it on first start) and makes every append of this
/// process sign with it.
pub fn install(settings: &Settings) -> anyhow::Result<()> {
    let path = settings.signing_key_path();
    let sealer = Sealer::load_or_create(&path).context("cannot load the signing key")?;
    tracing::info!(key_id = sealer.key_id(), path = %path.display(), "checkpoints are signed");
    // A second install (never in the binary) would keep the first key.
    let _ = seal::install(sealer);
    Ok(())
}

/// The public half of the configured key, if its file exists.
pub fn local_key(settings: &Settings) -> anyhow::Result<Option<TrustedKey>> {
    let path = settings.signing_key_path();
    if !path.exists() {
        return Ok(None);
    }
    let sealer = Sealer::load(&path).context("cannot load the signing key")?;
    Ok(Some(sealer.trusted().clone()))
}
