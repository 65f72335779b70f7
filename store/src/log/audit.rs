//! One verdict over the log: the per-stream chains, the signed checkpoints and
//! the append-only guards, as `almanac verify` and `verifyIntegrity` report it.
//! It only reads; what to do about a finding is the caller's business.

use super::seal::{SealReport, Trust};
use super::verify::{GuardReport, VerifyReport};
use super::EventLog;
use crate::StoreError;

#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    pub chains: VerifyReport,
    pub seal: SealReport,
    pub guards: GuardReport,
}

impl Audit {
    pub fn is_intact(&self) -> bool {
        self.chains.is_intact() && self.seal.is_intact() && self.guards.is_intact()
    }

    /// Every finding as one line of text, chains first.
    pub fn lines(&self) -> Vec<String> {
        let chains = self.chains.breaks.iter().map(|b| {
            format!(
                "broken: stream {} version {} (position {}): {}",
                b.stream, b.version, b.position, b.reason
            )
        });
        let seal = self.seal.findings.iter().map(|f| format!("unproven: {f}"));
        let missing = self
            .guards
            .missing_or_disabled
            .iter()
            .map(|g| format!("guard missing or disabled: trigger {g}"));
        let altered = self
            .guards
            .altered
            .iter()
            .map(|g| format!("guard altered: {g}"));
        chains.chain(seal).chain(missing).chain(altered).collect()
    }
}

impl EventLog {
    /// Chains, checkpoints (against `trust`) and guards; one stream or all.
    pub async fn audit(&self, trust: &Trust, stream: Option<&str>) -> Result<Audit, StoreError> {
        Ok(Audit {
            chains: self.verify(stream).await?,
            seal: self.verify_seal(trust, stream).await?,
            guards: self.check_guards().await?,
        })
    }
}
