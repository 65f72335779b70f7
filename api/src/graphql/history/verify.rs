//! `verifyIntegrity`: one stream's hash chain recomputed from the stored rows.
//! The whole log and the table's guards are `almanac verify`'s job.

use super::event_log;
use crate::error::Result;
use crate::graphql::long::Long;
use async_graphql::{Context, SimpleObject};

/// The first broken link of a stream.
#[derive(Clone, Debug, SimpleObject)]
pub struct ChainBreak {
    pub stream: String,
    pub version: i64,
    pub position: Long,
    /// What did not match, e.g. the stored hash or the previous link.
    pub reason: String,
}

/// The outcome of a hash-chain check.
#[derive(Clone, Debug, SimpleObject)]
pub struct IntegrityReport {
    /// True when no link is broken.
    pub intact: bool,
    /// Events checked.
    pub events: Long,
    /// The first broken link of each broken stream (at most one here).
    pub breaks: Vec<ChainBreak>,
}

pub async fn verify_integrity(ctx: &Context<'_>, stream: &str) -> Result<IntegrityReport> {
    let report = event_log(ctx)?.verify(Some(stream)).await?;
    Ok(IntegrityReport {
        intact: report.is_intact(),
        events: Long(i64::try_from(report.events).unwrap_or(i64::MAX)),
        breaks: report
            .breaks
            .into_iter()
            .map(|b| ChainBreak {
                stream: b.stream,
                version: b.version,
                position: Long(b.position),
                reason: b.reason,
            })
            .collect(),
    })
}
