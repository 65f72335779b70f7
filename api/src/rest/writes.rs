//! The writing and checking routes: `POST /validate-entity` (a push's document checks,
//! nothing written), `POST /refresh` (re-read the location an entity came from),
//! `DELETE /entities/by-uid/{uid}`, and `POST /analyze-location`. The same scopes and
//! operations as GraphQL's `validateEntities`, `refreshLocation` and `deleteEntity`.

use super::locations::registered_location;
use super::query::{clip, refs_of_uids};
use super::{json_body, Rest, RestError, RestResult};
use crate::graphql::dry_run;
use crate::operations::Deleted;
use almanac_domain::EntityRef;
use almanac_ingest::{operations, Source};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// `POST /validate-entity`: `{entity, location: "url:..."}`. 200 with no body when a
/// push of the entity would pass every document check; 400 `{errors: [...]}` naming
/// each failure otherwise. Claims by other sources do not count (the entity may well be
/// in the catalog already). Needs the `write` scope, as `validateEntities` does.
pub async fn validate_entity(
    State(rest): State<Rest>,
    headers: HeaderMap,
    body: Bytes,
) -> RestResult<Response> {
    let principal = rest.reader(&headers)?;
    let actor = principal.writer()?.to_string();
    let body = json_body(&headers, &body)?;
    let entity = match body.get("entity") {
        Some(entity @ Value::Object(_)) => entity.clone(),
        _ => {
            return Ok(errors(vec![(
                "InputError",
                "entity must be an object".into(),
            )]))
        }
    };
    let location = body.get("location").and_then(Value::as_str).unwrap_or("");
    match location.split_once(':') {
        Some(("url", target)) if !target.is_empty() => {}
        _ => {
            return Ok(errors(vec![(
                "TypeError",
                format!(
                    "Invalid location ref {}, only 'url:<target>' is supported, e.g. \
                     url:https://host/path",
                    clip(location)
                ),
            )]))
        }
    }
    let pushed = Source::Text {
        name: actor,
        text: entity.to_string(),
    };
    let key = pushed.origin();
    let outcome = rest.ingestor().read(std::slice::from_ref(&pushed)).await;
    let snapshot = rest.reading()?.snapshot;
    let checked = dry_run::validate(&snapshot, &outcome, &key, &[]);
    if checked.errors.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    Ok(errors(
        checked
            .errors
            .into_iter()
            .map(|e| {
                let message = if e.field.is_empty() {
                    e.message
                } else {
                    format!("{}: {}", e.field, e.message)
                };
                ("InputError", message)
            })
            .collect(),
    ))
}

/// Backstage's validation answer: 400 `{errors: [{name, message}]}`.
fn errors(errors: Vec<(&str, String)>) -> Response {
    let items: Vec<Value> = errors
        .into_iter()
        .map(|(name, message)| json!({ "name": name, "message": message }))
        .collect();
    let mut response = (
        StatusCode::BAD_REQUEST,
        json!({ "errors": items }).to_string(),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// `POST /refresh`: `{entityRef}`. Reads the registered location the entity came from
/// again now (200 once read). Needs the `write` scope, as `refreshLocation` does.
pub async fn refresh(
    State(rest): State<Rest>,
    headers: HeaderMap,
    body: Bytes,
) -> RestResult<Response> {
    let principal = rest.reader(&headers)?;
    let actor = principal.writer()?.to_string();
    let body = json_body(&headers, &body)?;
    let text = body
        .get("entityRef")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::input("Malformed request: entityRef must be a string"))?;
    let entity_ref = crate::graphql::filter::canonical_ref(text, None)?;
    let origin = {
        let snapshot = rest.reading()?.snapshot;
        let entity = snapshot
            .entity(&entity_ref)
            .ok_or_else(|| RestError::not_found(format!("No entity {entity_ref}")))?;
        entity.origin().unwrap_or_default().to_string()
    };
    let location = registered_location(&rest, &origin).await?.ok_or_else(|| {
        RestError::input(format!(
            "{entity_ref} was not read through a registered location (its origin is {origin}): \
             there is nothing to read again; push it again or re-run the ingest"
        ))
    })?;
    match operations::refresh_location(&rest.ingestor(), &location.id, &actor).await? {
        Some(_) => {
            // Answered once this server's catalog holds the read: the next GET sees it.
            rest.settled().await?;
            Ok(StatusCode::OK.into_response())
        }
        None => Err(RestError::not_found(format!(
            "Found no location with ID {}",
            location.id
        ))),
    }
}

/// `DELETE /entities/by-uid/{uid}`: 204 once removed. The same rule as `deleteEntity`:
/// a writer owning the entity's source, or an admin.
pub async fn delete_by_uid(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> RestResult<Response> {
    let principal = rest.reader(&headers)?;
    principal.writer()?;
    let snapshot = rest.reading()?.snapshot;
    let Some(found) = refs_of_uids(&snapshot, std::slice::from_ref(&uid))
        .into_iter()
        .next()
    else {
        return Err(RestError::not_found(format!(
            "No entity with uid {}",
            clip(&uid)
        )));
    };
    let parsed = EntityRef::parse(&found, None, "default")
        .map_err(|err| RestError::input(err.to_string()))?;
    let ingestor = almanac_ingest::Ingestor::new(rest.log.clone());
    match crate::operations::delete_entity(&ingestor, &rest.catalog, &principal, &parsed).await? {
        Deleted::Removed(_) => {
            rest.settled().await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Deleted::NotFound(canonical) => Err(RestError::not_found(format!("No entity {canonical}"))),
        Deleted::Stale(detail) => Err(RestError::conflict(format!(
            "{detail}; nothing was deleted, try again"
        ))),
    }
}

/// `POST /analyze-location`: `{location: {type, target}}` → `{existingEntityFiles,
/// generateEntities}`: what the location holds (each entity with its file and whether the
/// catalog has it already), read as `addLocation` would read it, nothing written
/// (`almanac_ingest::analyze`). Needs the `admin` scope, as `analyzeLocation`: it makes
/// the server read.
pub async fn analyze_location(
    State(rest): State<Rest>,
    headers: HeaderMap,
    body: Bytes,
) -> RestResult<Response> {
    let principal = rest.reader(&headers)?;
    principal.admin("analyzeLocation")?;
    let body = json_body(&headers, &body)?;
    let location = body
        .get("location")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            RestError::input("Malformed request: location ({type, target}) is required")
        })?;
    let text = |key: &str| {
        location
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                RestError::input(format!(
                    "Malformed request: location.{key} must be a string"
                ))
            })
    };
    let location_type = location
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("url")
        .to_string();
    let target = text("target")?;
    if location_type == "file" && !rest.limits.allow_file_locations {
        return Err(RestError::input(
            "file locations cannot be read through the API on this server \
             (graphql.allow_file_locations)",
        ));
    }
    let ingestor = rest.ingestor();
    let source = operations::location_source(&location_type, &target)?;
    let outcome = ingestor.read(std::slice::from_ref(&source)).await;
    if let Some(failure) = outcome.errors.first() {
        return Err(RestError::input(format!(
            "{}: {}",
            failure.key, failure.message
        )));
    }
    let analysis = almanac_ingest::analyze::analyze(&ingestor, &outcome).await?;
    let mut files = Vec::new();
    for file in &outcome.files {
        let (file_type, file_target) = file.key.split_once(':').unwrap_or(("url", &file.key));
        for candidate in &file.candidates {
            if let almanac_domain::Candidate::Valid(entity) = candidate {
                let entity_ref = entity.entity_ref().canonical();
                files.push(json!({
                    "location": { "type": file_type, "target": file_target },
                    "isRegistered": !analysis.register.contains(&entity_ref),
                    "entity": entity.descriptor(),
                }));
            }
        }
    }
    let body = json!({ "existingEntityFiles": files, "generateEntities": [] });
    super::json_response(StatusCode::OK, &body, rest.limits.max_response_bytes)
}
