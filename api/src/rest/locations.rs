//! Locations: `GET /locations` (`[{data: {id, type, target}}]`), `GET /locations/{id}`,
//! `POST /locations` (`{type, target}`, `?dryRun=true` reads without writing),
//! `DELETE /locations/{id}`, and `GET /locations/by-entity/...` (the registered location
//! an entity was read through). Adding and removing need the `admin` scope, as the
//! GraphQL mutations do; they run through the same operations.

use super::entities::path_ref;
use super::query::{clip, single};
use super::{json_body, json_response, Rest, RestError, RestResult};
use crate::operations::Added;
use almanac_domain::Candidate;
use almanac_ingest::operations::{self, location_source, Location};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

fn location_json(location: &Location) -> Value {
    json!({ "id": location.id, "type": location.location_type, "target": location.target })
}

pub async fn list(State(rest): State<Rest>, headers: HeaderMap) -> RestResult<Response> {
    rest.reader(&headers)?;
    let rows = rest
        .catalog
        .locations()
        .await
        .map_err(crate::error::ApiError::from)?;
    let items: Vec<Value> = rows
        .iter()
        .map(|l| json!({ "data": location_json(l) }))
        .collect();
    json_response(
        StatusCode::OK,
        &Value::Array(items),
        rest.limits.max_response_bytes,
    )
}

async fn find(rest: &Rest, id: &str) -> RestResult<Option<Location>> {
    let rows = rest
        .catalog
        .locations_by_id(&[id.to_string()])
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(rows.into_iter().next())
}

pub async fn one(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    match find(&rest, &id).await? {
        Some(location) => json_response(
            StatusCode::OK,
            &location_json(&location),
            rest.limits.max_response_bytes,
        ),
        None => Err(RestError::not_found(format!(
            "Found no location with ID {}",
            clip(&id)
        ))),
    }
}

/// `POST /locations`: registers and reads a location (201 with the location and the
/// entities read through it); with `?dryRun=true` reads it and writes nothing.
pub async fn create(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
    body: Bytes,
) -> RestResult<Response> {
    let principal = rest.reader(&headers)?;
    let body = json_body(&headers, &body)?;
    if let Some(key) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "target" | "presence"))
    {
        return Err(RestError::input(format!(
            "Malformed request: unknown key `{}` (a location is {{type, target, presence?}})",
            clip(key)
        )));
    }
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| RestError::input(format!("Malformed request: {key} must be a string")))
    };
    let (location_type, target) = (text("type")?, text("target")?);
    let dry_run = matches!(single(&params, "dryRun")?, Some("true" | "1" | "yes"));
    let ingestor = rest.ingestor();
    if dry_run {
        principal.admin("addLocation")?;
        if location_type == "file" && !rest.limits.allow_file_locations {
            return Err(RestError::input(
                "file locations cannot be read through the API on this server \
                 (graphql.allow_file_locations)",
            ));
        }
        let source = location_source(&location_type, &target)?;
        let id = operations::location_id(&location_type, &target);
        let exists = find(&rest, &id).await?.is_some();
        let outcome = ingestor.read(std::slice::from_ref(&source)).await;
        if let Some(failure) = outcome.errors.first() {
            return Err(RestError::input(format!(
                "{}: {}",
                failure.key, failure.message
            )));
        }
        let entities: Vec<Value> = outcome
            .files
            .iter()
            .flat_map(|f| &f.candidates)
            .filter_map(|c| match c {
                Candidate::Valid(entity) => Some(entity.descriptor().clone()),
                Candidate::Invalid { .. } => None,
            })
            .collect();
        let body = json!({
            "location": { "id": id, "type": location_type, "target": target },
            "entities": entities,
            "exists": exists,
        });
        return json_response(StatusCode::CREATED, &body, rest.limits.max_response_bytes);
    }
    let added = crate::operations::add_location(
        &ingestor,
        rest.limits.allow_file_locations,
        &principal,
        &location_type,
        &target,
    )
    .await?;
    let (id, report) = match added {
        Added::Read(id, report) => (id, report),
        Added::Invalid(field, message) => {
            return Err(RestError::input(format!("{field}: {message}")))
        }
    };
    let location = find(&rest, &id).await?.ok_or_else(|| {
        RestError::not_found(format!("location {id} was removed while it was read"))
    })?;
    // The entities read through it, once the in-memory catalog holds them.
    let origin = location_source(&location_type, &target)?.origin();
    let reading = rest.reading()?;
    let snapshot = match (report.last_position, &rest.followed) {
        (Some(position), Some(followed)) => {
            followed.reach(position).await.unwrap_or(reading.snapshot)
        }
        _ => reading.snapshot,
    };
    let held = snapshot
        .entities()
        .filter(|e| e.origin() == Some(origin.as_str()))
        .cloned()
        .collect();
    let entities = super::entity::render(&reading.loaders, &snapshot, held).await?;
    let body = json!({ "location": location_json(&location), "entities": entities });
    json_response(StatusCode::CREATED, &body, rest.limits.max_response_bytes)
}

pub async fn delete(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult<Response> {
    let principal = rest.reader(&headers)?;
    let actor = principal.admin("removeLocation")?.to_string();
    match operations::remove_location(&rest.log, &id, &actor).await? {
        Some(_) => {
            rest.settled().await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(RestError::not_found(format!(
            "Found no location with ID {}",
            clip(&id)
        ))),
    }
}

/// The registered location whose read holds the entity (by its origin).
pub async fn by_entity(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let entity_ref = path_ref(&kind, &namespace, &name)?;
    let Some(entity) = reading.snapshot.entity(&entity_ref) else {
        return Err(RestError::not_found(format!("No entity {entity_ref}")));
    };
    let origin = entity.origin().unwrap_or_default().to_string();
    let location = registered_location(&rest, &origin).await?.ok_or_else(|| {
        RestError::not_found(format!(
            "{entity_ref} was not read through a registered location (its origin is {origin})"
        ))
    })?;
    json_response(
        StatusCode::OK,
        &location_json(&location),
        rest.limits.max_response_bytes,
    )
}

/// The registered location whose source has the key `origin`, if any.
pub async fn registered_location(rest: &Rest, origin: &str) -> RestResult<Option<Location>> {
    let rows = rest
        .catalog
        .locations()
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(rows
        .into_iter()
        .find(|l| location_source(&l.location_type, &l.target).is_ok_and(|s| s.origin() == origin)))
}
