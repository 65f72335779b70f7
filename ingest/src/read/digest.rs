//! Source digests on the read side: a file whose bytes hash to the digest its last
//! decision was recorded with, and whose decision still holds, is not parsed again.
//!
//! The digest is sha-256 over the reader's settings (this crate's version and
//! [`DIGEST_FORMAT`], the document limits), the origin, the key and the bytes: the same
//! bytes read through another root, or under other limits, or by another release, are a
//! different digest. Only a file that wants nothing from elsewhere gets one (no
//! placeholder, not pushed text): what such a file decides depends on its bytes and on
//! the streams recorded with the digest, nothing else. A Location file's targets, as its
//! entities write them, are recorded with its digest: a skipped Location's targets are
//! resolved from them against its address (what parsing it would give: the same bytes
//! under the same settings) and read as usual, so a Location is skipped too.
//!
//! A match while reading is only a candidate for a skip: after the file is read, one
//! statement per batch of candidates (`store::source_digests::still_valid`, batches
//! checked while the read goes on) confirms that each recorded digest is still the one
//! on record and that every stream its decision depended on is still at the recorded
//! version; the rest are read and parsed after all. It records nothing (the
//! reconciler does, in each chunk's transaction) and decides nothing.

use std::collections::HashMap;
use std::sync::Arc;

use almanac_domain::KindRules;
use almanac_store::{PgPool, StoreError};
use sha2::{Digest as _, Sha256};

use super::location::Written;
use super::source::ReadLimits;

/// Bump when what a digest stands for changes (what is hashed, or how a file is read
/// into candidates without a release version change).
// v2: the last of a ref's documents wins; kinds are judged by the rules.
pub const DIGEST_FORMAT: &str = "almanac source digest v2";

/// The digests recorded for one origin, and how to check them. Cloned per file read
/// (into its blocking call): one shared allocation.
#[derive(Clone, Debug)]
pub struct Digests(Arc<Recorded>);

#[derive(Debug)]
struct Recorded {
    settings: [u8; 32],
    recorded: HashMap<String, almanac_store::source_digests::Recorded>,
    pool: PgPool,
}

impl Digests {
    /// The digests recorded for sources read through `origin` (one statement).
    pub async fn load(
        pool: &PgPool,
        origin: &str,
        limits: &ReadLimits,
        rules: &KindRules,
    ) -> Result<Digests, StoreError> {
        Ok(Digests(Arc::new(Recorded {
            settings: settings(limits, rules),
            recorded: almanac_store::source_digests::recorded(pool, origin).await?,
            pool: pool.clone(),
        })))
    }

    /// The digest of `text` read as `key` through `origin`.
    pub(crate) fn of(&self, key: &str, origin: &str, text: &str) -> Vec<u8> {
        let mut hasher = Sha256::new();
        hasher.update(self.0.settings);
        for part in [key, origin, text] {
            // Lengths first, so that no two (key, origin, text) run together alike.
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().to_vec()
    }

    /// When `digest` is the one recorded for `key` (a candidate for a skip): the
    /// targets recorded with it, as written (empty for a file that leads nowhere).
    /// `None` when it is not, or when its targets cannot be read back (then the file
    /// is parsed, which finds them).
    pub(crate) fn matches(&self, key: &str, digest: &[u8]) -> Option<Vec<Written>> {
        let recorded = self.0.recorded.get(key).filter(|r| r.digest == digest)?;
        match &recorded.targets {
            None => Some(Vec::new()),
            Some(targets) => serde_json::from_str(targets).ok(),
        }
    }

    /// Of the candidates, those whose decision still holds, with the number of
    /// candidates each held. A failed check skips nothing (everything is parsed).
    pub(crate) async fn still_valid(
        &self,
        candidates: &[(String, Vec<u8>)],
    ) -> HashMap<String, i32> {
        match almanac_store::source_digests::still_valid(&self.0.pool, candidates).await {
            Ok(valid) => valid,
            Err(error) => {
                tracing::warn!(%error, "could not check source digests; reading every source in full");
                HashMap::new()
            }
        }
    }
}

/// What besides the bytes decides a file's candidates.
fn settings(limits: &ReadLimits, rules: &KindRules) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(DIGEST_FORMAT.as_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(limits.max_file_bytes.to_le_bytes());
    hasher.update((limits.max_documents as u64).to_le_bytes());
    hasher.update(limits.max_placeholder_bytes.to_le_bytes());
    hasher.update(rules.fingerprint().as_bytes());
    hasher.finalize().into()
}
