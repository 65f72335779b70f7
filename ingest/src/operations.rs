//! Single operations behind the API's mutations and the scheduler: delete one
//! entity, add, remove or refresh a location. Each appends its events, then
//! waits until they are visible to queries (read-your-writes).

use crate::reconcile::new_event;
use crate::{ApplyOptions, IngestError, IngestReport, Ingestor, Source};
use almanac_domain::{location_stream, CatalogEvent, EntityRef, RemovalReason};
use almanac_store::{AppendMeta, EventLog, PgPool, StreamAppend};
use std::path::PathBuf;
use uuid::Uuid;

/// Namespace of location ids: the id is derived from type and target, so adding
/// the same location twice names the same one.
const LOCATION_NAMESPACE: Uuid = Uuid::from_u128(0x1b0c_7e55_39f1_4c4e_8d2a_5f60_a1c3_0e02);

pub fn location_id(location_type: &str, target: &str) -> String {
    Uuid::new_v5(
        &LOCATION_NAMESPACE,
        format!("{location_type}:{target}").as_bytes(),
    )
    .to_string()
}

/// What a location reads: `file` (a file, or a directory searched for
/// catalog-info.yaml) or `url`.
pub fn location_source(location_type: &str, target: &str) -> Result<Source, IngestError> {
    match location_type {
        "file" => {
            let path = PathBuf::from(target);
            Ok(if path.is_dir() {
                Source::directory(path)
            } else {
                Source::File(path)
            })
        }
        "url" if target.starts_with("http://") || target.starts_with("https://") => {
            // Refused before it is recorded: the target is shown to every reader.
            if reqwest::Url::parse(target)
                .is_ok_and(|url| !url.username().is_empty() || url.password().is_some())
            {
                return Err(IngestError::Invalid(format!(
                    "location target {} carries user info; credentials come from \
                     reading.credentials, never from the URL",
                    crate::read::redact(target)
                )));
            }
            Ok(Source::Url(target.to_string()))
        }
        "url" => Err(IngestError::Invalid(format!(
            "location target {:?} is not an http(s) URL",
            crate::read::redact(target)
        ))),
        other => Err(IngestError::Invalid(format!(
            "location type {other:?} is not supported (use file or url)"
        ))),
    }
}

pub use almanac_store::locations::Location;

pub async fn find_location(pool: &PgPool, id: &str) -> Result<Option<Location>, IngestError> {
    Ok(almanac_store::locations::find(pool, id).await?)
}

pub async fn list_locations(pool: &PgPool) -> Result<Vec<Location>, IngestError> {
    Ok(almanac_store::locations::list(pool).await?)
}

/// The version of a stream's last event and its type, from the log itself.
async fn stream_head(log: &EventLog, stream: &str) -> Result<Option<(i64, String)>, IngestError> {
    Ok(log.stream_head(stream).await?)
}

fn meta(actor: &str, source: Option<String>) -> AppendMeta {
    AppendMeta {
        actor: actor.to_string(),
        source,
        ..AppendMeta::default()
    }
}

/// Removes a live entity for a user. `None` when there is no such live entity.
/// A file source that still holds it registers it again at its next read.
/// With `expected_version`, a stream at another version is a `Conflict` (the
/// caller judged the entity at that version, e.g. who may delete it).
pub async fn delete_entity(
    log: &EventLog,
    entity_ref: &EntityRef,
    expected_version: Option<i64>,
    actor: &str,
) -> Result<Option<i64>, IngestError> {
    let stream = almanac_domain::entity_stream(entity_ref);
    let Some((version, last_type)) = stream_head(log, &stream).await? else {
        return Ok(None);
    };
    if last_type == "EntityRemoved" {
        return Ok(None);
    }
    if let Some(expected) = expected_version.filter(|v| *v != version) {
        return Err(IngestError::Conflict(format!(
            "{stream} changed (version {version}, not {expected})"
        )));
    }
    let event = CatalogEvent::EntityRemoved {
        reason: RemovalReason::DeletedByUser,
    };
    let append = StreamAppend {
        stream,
        expected_version: version,
        events: vec![new_event(&event)],
        source: None,
    };
    let outcome = log
        .append(&[append], &meta(actor, Some("api".into())))
        .await
        .map_err(IngestError::from_append)?;
    Ingestor::new(log.clone())
        .wait_visible(outcome.last_position())
        .await?;
    Ok(outcome.last_position())
}

/// Registers a location (once: the id follows from type and target) and reads
/// it with `ingestor`'s policy, recording `actor` on every event (an API user adding
/// a location).
pub async fn add_location(
    ingestor: &Ingestor,
    location_type: &str,
    target: &str,
    actor: &str,
) -> Result<(String, IngestReport), IngestError> {
    let (id, source) = register_location(ingestor.log(), location_type, target, actor).await?;
    let report = read_location(ingestor, &source, actor).await?;
    Ok((id, report))
}

/// Records `LocationAdded` unless the location is already registered; reads
/// nothing. Returns its id and what it reads.
pub async fn register_location(
    log: &EventLog,
    location_type: &str,
    target: &str,
    actor: &str,
) -> Result<(String, Source), IngestError> {
    let source = location_source(location_type, target)?;
    let id = location_id(location_type, target);
    let stream = location_stream(&id);
    let head = stream_head(log, &stream).await?;
    if head.as_ref().is_some_and(|(_, t)| t == "LocationAdded") {
        return Ok((id, source));
    }
    let event = CatalogEvent::LocationAdded {
        id: id.clone(),
        location_type: location_type.to_string(),
        target: target.to_string(),
    };
    let append = StreamAppend {
        stream,
        expected_version: head.map_or(0, |(v, _)| v),
        events: vec![new_event(&event)],
        source: None,
    };
    log.append(&[append], &meta(actor, Some(source.origin())))
        .await
        .map_err(IngestError::from_append)?;
    Ok((id, source))
}

/// The actor of a scheduled read: `ingest:<origin>`.
pub fn scheduled_actor(source: &Source) -> String {
    format!("ingest:{}", source.origin())
}

/// Reads a registered location again now. `None` when there is no such location.
pub async fn refresh_location(
    ingestor: &Ingestor,
    id: &str,
    actor: &str,
) -> Result<Option<IngestReport>, IngestError> {
    let pool = ingestor.pool();
    ingestor.reconciler().sync_projection().await?;
    let Some(location) = find_location(pool, id).await? else {
        return Ok(None);
    };
    let source = location_source(&location.location_type, &location.target)?;
    Ok(Some(read_location(ingestor, &source, actor).await?))
}

/// Unregisters a location and removes every entity read through it, in one
/// append. `None` when there is no such location.
pub async fn remove_location(
    log: &EventLog,
    id: &str,
    actor: &str,
) -> Result<Option<usize>, IngestError> {
    let pool = log.pool();
    let ingestor = Ingestor::new(log.clone());
    ingestor.reconciler().sync_projection().await?;
    let Some(location) = find_location(pool, id).await? else {
        return Ok(None);
    };
    let origin = location_source(&location.location_type, &location.target)?.origin();
    let stream = location_stream(id);
    let Some((version, _)) = stream_head(log, &stream).await? else {
        return Ok(None);
    };
    let entities = almanac_store::locations::entities_of_origin(pool, &origin).await?;
    let removed = CatalogEvent::EntityRemoved {
        reason: RemovalReason::SourceDeleted,
    };
    let mut appends: Vec<StreamAppend> = entities
        .iter()
        .map(|(entity_ref, version)| StreamAppend {
            stream: entity_ref.clone(),
            expected_version: *version,
            events: vec![new_event(&removed)],
            source: None,
        })
        .collect();
    appends.push(StreamAppend {
        stream,
        expected_version: version,
        events: vec![new_event(&CatalogEvent::LocationRemoved {
            id: id.to_string(),
        })],
        source: None,
    });
    let outcome = log
        .append(&appends, &meta(actor, Some(origin)))
        .await
        .map_err(IngestError::from_append)?;
    ingestor.wait_visible(outcome.last_position()).await?;
    Ok(Some(entities.len()))
}

/// Reads one location with `ingestor`'s limits and policy and applies it.
pub async fn read_location(
    ingestor: &Ingestor,
    source: &Source,
    actor: &str,
) -> Result<IngestReport, IngestError> {
    let outcome = ingestor.read(std::slice::from_ref(source)).await;
    let options = ApplyOptions {
        actor: actor.to_string(),
        remove_missing: true,
        correlation_id: Some(Uuid::new_v4()),
        origins: vec![source.origin()],
        all_or_nothing: false,
        expected_versions: Default::default(),
    };
    let report = ingestor.apply(&outcome, &options).await?;
    ingestor.wait_visible(report.last_position).await?;
    Ok(report)
}
