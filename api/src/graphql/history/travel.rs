//! Time travel: an entity as it was at a time or a version, and the changes
//! between two versions. The past is folded from the entity's stream (by
//! `domain::history`, read through `store::history`), so an entity removed
//! since travels too.
//!
//! A snapshot is an [`EntityData`] over the store's [`Snapshot`](almanac_store::history::Snapshot):
//! the row the projection would build from the old descriptor and the
//! relations that descriptor declared, outgoing only: inverses other entities
//! declared then are not reconstructed. Fields that hop to other entities
//! resolve the targets as they are now.

use super::event::Change;
use super::event_log;
use crate::error::{ApiError, Result};
use crate::graphql::entity::{Entity, EntityData};
use almanac_domain::diff;
use almanac_store::history::{descriptor_at, PointInTime};
use async_graphql::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;

/// The entity `stream` names as it was at `as_of` or `version` (exactly one of
/// them); null before it existed and while it was removed.
pub async fn entity_then(
    ctx: &Context<'_>,
    stream: &str,
    as_of: Option<DateTime<Utc>>,
    version: Option<i32>,
) -> Result<Option<Entity>> {
    let point = match (as_of, version) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give asOf or version, not both"));
        }
        (Some(time), None) => PointInTime::AsOf(time),
        (None, Some(v)) if v < 1 => return Err(ApiError::invalid("version starts at 1")),
        (None, Some(v)) => PointInTime::Version(i64::from(v)),
        (None, None) => return Err(ApiError::invalid("give asOf or version")),
    };
    let Some(snapshot) = event_log(ctx)?.snapshot(stream, point).await? else {
        return Ok(None);
    };
    Ok(Some(Entity::from_data(EntityData(
        Arc::new(snapshot.record),
        Some(Arc::new(snapshot.relations)),
    ))))
}

/// The changes that turn the descriptor at `from` into the one at `to`. A side
/// where the entity did not exist (or was removed) counts as `null`, so the
/// diff is one change at `""`.
pub async fn entity_diff(
    ctx: &Context<'_>,
    stream: &str,
    from: i32,
    to: i32,
) -> Result<Vec<Change>> {
    if from < 0 || to < 0 {
        return Err(ApiError::invalid("versions are not negative"));
    }
    let (from, to) = (i64::from(from), i64::from(to));
    let events = event_log(ctx)?
        .read_stream_through(stream, from.max(to))
        .await?;
    let newest = events.last().map_or(0, |e| e.version);
    if from.max(to) > newest {
        return Err(ApiError::invalid(format!(
            "{stream} has {newest} version(s); there is no version {}",
            from.max(to)
        )));
    }
    let at =
        |version| -> Result<Value> { Ok(descriptor_at(&events, version)?.unwrap_or(Value::Null)) };
    let (old, new) = (at(from)?, at(to)?);
    Ok(diff(&old, &new).iter().map(Change::from).collect())
}
