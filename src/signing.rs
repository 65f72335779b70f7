//! The signing key from the configuration: loaded for the commands that
//! append (serve, ingest, import) and handed to their event logs, read for its public half by the commands
//! that check (verify, export-checkpoint). Never created by a command that only
//! reads, so an auditor's `verify` cannot mint a key by accident.

use crate::config::Settings;
use almanac_store::log::seal::{Sealer, TrustedKey};
use anyhow::Context;
use std::sync::Arc;

/// Loads the key (creating it on first start), for the event logs that append.
pub fn sealer(settings: &Settings) -> anyhow::Result<Arc<Sealer>> {
    let path = settings.signing_key_path();
    let sealer = Sealer::load_or_create(&path).context("cannot load the signing key")?;
    tracing::info!(key_id = sealer.key_id(), path = %path.display(), "checkpoints are signed");
    Ok(Arc::new(sealer))
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
