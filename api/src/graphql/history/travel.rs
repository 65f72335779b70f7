//! Time travel: an entity as it was at a time or a version, and the changes
//! between two versions. The past is folded from the entity's stream, so an
//! entity removed since travels too.
//!
//! A snapshot is an [`EntityData`] whose row is built from the old descriptor
//! (the projection's own `EntityRow::derive`) and whose relations are the ones that
//! descriptor declared, outgoing only: inverses other entities declared then
//! are not reconstructed. Fields that hop to other entities resolve the
//! targets as they are now.

use super::event::{declared, Change};
use super::event_log;
use crate::error::{ApiError, Result};
use crate::graphql::entity::{Entity, EntityData};
use almanac_domain::{diff, fold, CatalogEvent, RelationType};
use almanac_store::catalog::{EntityRecord, RelationRecord};
use almanac_store::entity_row::{EntityRow, LoggedEntity};
use almanac_store::history::{decode, HistoryError, PointInTime};
use almanac_store::projection::rows::entity_uid;
use async_graphql::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;

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
    let log = event_log(ctx)?;
    let Some(past) = log.entity_at(stream, point).await? else {
        return Ok(None);
    };
    let Some(descriptor) = past.descriptor.clone() else {
        return Ok(None);
    };
    // A version past the end is not a point of the stream's past.
    if matches!(point, PointInTime::Version(v) if v != past.version) {
        return Ok(None);
    }
    // The registration that started this life of the entity: its uid and creation.
    let events = log
        .read_stream_through(stream, past.version)
        .await
        .map_err(almanac_store::StoreError::from)?;
    let registered = events
        .iter()
        .rev()
        .find(|e| e.event_type == "EntityRegistered")
        .ok_or_else(|| {
            ApiError::internal(std::io::Error::other("a live stream with no registration"))
        })?;
    let last_position = events.last().map_or(registered.position, |e| e.position);
    let record: EntityRecord = EntityRow::derive(LoggedEntity {
        entity_ref: stream.to_string(),
        uid: entity_uid(stream, registered.position),
        descriptor,
        version: past.version,
        last_position,
        created_at: registered.recorded_at,
        updated_at: past.recorded_at,
    })
    .into();
    // `declared` orders them as history does; its types are Backstage's spelling.
    let relations: Vec<RelationRecord> = declared(Some(&record.descriptor))
        .into_iter()
        .filter_map(|r| {
            Some(RelationRecord {
                source_ref: stream.to_string(),
                relation: RelationType::parse(&r.relation_type)?,
                target_ref: r.target_ref,
                declared_by: stream.to_string(),
                field: r.field,
            })
        })
        .collect();
    Ok(Some(Entity::from_data(EntityData::past(record, relations))))
}

/// The descriptor after `version` (`Null` when removed then or not yet there).
fn descriptor_at(
    events: &[almanac_store::StoredEvent],
    version: i64,
) -> std::result::Result<Value, HistoryError> {
    let upto: Vec<CatalogEvent> = events
        .iter()
        .filter(|e| e.version <= version)
        .map(decode)
        .collect::<std::result::Result<_, _>>()?;
    let state = fold(upto.iter()).map_err(|err| HistoryError::Corrupt {
        position: events.last().map_or(0, |e| e.position),
        message: err.to_string(),
    })?;
    Ok(state.and_then(|s| s.descriptor).unwrap_or(Value::Null))
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
        .await
        .map_err(almanac_store::StoreError::from)?;
    let newest = events.last().map_or(0, |e| e.version);
    if from.max(to) > newest {
        return Err(ApiError::invalid(format!(
            "{stream} has {newest} version(s); there is no version {}",
            from.max(to)
        )));
    }
    let (old, new) = (descriptor_at(&events, from)?, descriptor_at(&events, to)?);
    Ok(diff(&old, &new).iter().map(Change::from).collect())
}
