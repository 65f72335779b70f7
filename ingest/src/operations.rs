//! Single operations behind the API's mutations and the scheduler: delete one
//! entity, add, remove or refresh a location. Each gathers the state its decision
//! needs under the append lock, lets `domain::decide` decide, appends through the
//! one path reconcile uses (`write`), then waits until the events are visible to
//! queries (read-your-writes). Who may do what is not checked here (the API's).

use crate::{state, write};
use crate::{IngestError, IngestReport, Ingestor, ReconcileOptions, Source};
use almanac_domain::decide::{self, LocationState};
use almanac_domain::{entity_stream, location_stream, EntityRef};
use almanac_store::{AppendMeta, EventLog, PgPool, StreamAppend, Tx};
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

/// What a location reads: `file` (a file, a directory searched for
/// catalog-info.yaml, or a glob such as `./catalog/**/*.yaml`, read as the directory
/// before its first glob segment with the rest as its glob) or `url`.
pub fn location_source(location_type: &str, target: &str) -> Result<Source, IngestError> {
    match location_type {
        "file" => {
            let path = PathBuf::from(target);
            if let Some((root, glob)) = crate::read::split_glob(&path) {
                return Ok(Source::Directory { root, glob });
            }
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

fn meta(actor: &str, source: Option<String>) -> AppendMeta {
    AppendMeta {
        actor: actor.to_string(),
        source,
        ..AppendMeta::default()
    }
}

/// The state of a location stream, under the append lock of `tx`.
async fn location_state(tx: &mut Tx, id: &str) -> Result<Option<LocationState>, IngestError> {
    let head = tx.stream_head(&location_stream(id)).await?;
    Ok(head.map(|(version, last_type)| LocationState::from_head(version, &last_type)))
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
    let stream = entity_stream(entity_ref);
    let mut tx = write::begin_locked(log).await?;
    let current = state::load(&mut tx, &[], std::slice::from_ref(&stream)).await?;
    let decided = decide::delete_entity(entity_ref, current.get(&stream), expected_version)
        .map_err(|stale| IngestError::Conflict(stale.to_string()))?;
    let Some(pending) = decided else {
        return Ok(None);
    };
    let appends = [write::stream_append(pending, "")];
    let position = write::append(&mut tx, &appends, &meta(actor, Some("api".into()))).await?;
    tx.commit().await?;
    Ingestor::new(log.clone()).wait_visible(position).await?;
    Ok(position)
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
    let mut tx = write::begin_locked(log).await?;
    let current = location_state(&mut tx, &id).await?;
    let Some(pending) = decide::add_location(&id, location_type, target, current.as_ref()) else {
        return Ok((id, source));
    };
    let appends = [write::stream_append(pending, "")];
    write::append(&mut tx, &appends, &meta(actor, Some(source.origin()))).await?;
    tx.commit().await?;
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
    // Read before the transaction takes a connection of its own: each version is
    // still checked by the append.
    let live = almanac_store::locations::entities_of_origin(pool, &origin).await?;
    let mut tx = write::begin_locked(log).await?;
    let current = location_state(&mut tx, id).await?;
    let Some(decided) = decide::remove_location(id, current.as_ref(), &live) else {
        return Ok(None);
    };
    let appends: Vec<StreamAppend> = decided
        .into_iter()
        .map(|pending| write::stream_append(pending, ""))
        .collect();
    let position = write::append(&mut tx, &appends, &meta(actor, Some(origin))).await?;
    tx.commit().await?;
    ingestor.wait_visible(position).await?;
    Ok(Some(live.len()))
}

/// Reads one location with `ingestor`'s limits and policy and reconciles it.
pub async fn read_location(
    ingestor: &Ingestor,
    source: &Source,
    actor: &str,
) -> Result<IngestReport, IngestError> {
    let outcome = ingestor.read(std::slice::from_ref(source)).await;
    let options = ReconcileOptions {
        actor: actor.to_string(),
        remove_missing: true,
        correlation_id: Some(Uuid::new_v4()),
        origins: vec![source.origin()],
        all_or_nothing: false,
        expected_versions: Default::default(),
    };
    let report = ingestor.reconcile(&outcome, &options).await?;
    ingestor.wait_visible(report.last_position).await?;
    Ok(report)
}
