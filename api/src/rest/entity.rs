//! Entities as Backstage's catalog returns them: the descriptor with `metadata.uid` and
//! `metadata.etag` added, `relations` (`type`, `targetRef`, `target`) from the snapshot's
//! relation index (inverses declared by others included, as Backstage stitches them), and
//! `status.items` for the entity's processing errors; and `fields` projections of them.
//!
//! It reads the operation's snapshot and, like GraphQL, PostgreSQL only for processing
//! errors and the whole row of an entity held elided (through the same `Loaders`). It
//! does not filter or order: `query.rs` does.

use crate::error::ApiError;
use crate::graphql::entity::EntityData;
use crate::graphql::loaders::Loaders;
use almanac_readmodel::{Entity as Held, Snapshot};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Backstage's status type for processing errors.
const PROCESSING_STATUS: &str = "backstage.io/catalog-processing";

/// `held` (of `snapshot`) as Backstage entities, in order.
pub async fn render(
    loaders: &Loaders,
    snapshot: &Snapshot,
    held: Vec<Arc<Held>>,
) -> Result<Vec<Value>, ApiError> {
    let data = loaders.all(snapshot, held).await?;
    // One statement for the page's errors (the loader batches what is asked at once).
    let errors =
        futures::future::try_join_all(data.iter().map(|d| loaders.errors(d.entity_ref()))).await?;
    Ok(data
        .iter()
        .zip(errors)
        .map(|(data, errors)| {
            let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
            entity_json(snapshot, data, &messages)
        })
        .collect())
}

/// One entity: its descriptor, uid, relations, status and, last, an etag over the rest
/// (so it changes whenever anything Backstage would send changes).
fn entity_json(snapshot: &Snapshot, data: &EntityData, errors: &[&str]) -> Value {
    let mut entity = data.record().descriptor.clone();
    let relations: Vec<Value> = snapshot
        .relations_from(data.entity_ref())
        .into_iter()
        .map(|row| {
            json!({
                "type": row.relation.as_str(),
                "targetRef": row.target_ref,
                "target": compound(row.target_ref),
            })
        })
        .collect();
    let Some(object) = entity.as_object_mut() else {
        return entity;
    };
    object.insert("relations".into(), Value::Array(relations));
    if !errors.is_empty() {
        let items: Vec<Value> = errors
            .iter()
            .map(|message| {
                json!({
                    "type": PROCESSING_STATUS,
                    "level": "error",
                    "message": format!("InputError: {message}"),
                    "error": { "name": "InputError", "message": message },
                })
            })
            .collect();
        object.insert("status".into(), json!({ "items": items }));
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("uid".into(), Value::String(data.uid().to_string()));
    }
    let etag = hex::encode(&Sha256::digest(entity.to_string().as_bytes())[..20]);
    if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("etag".into(), Value::String(etag));
    }
    entity
}

/// `{kind, namespace, name}` of a canonical ref (Backstage's compound ref).
pub fn compound(entity_ref: &str) -> Value {
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("", entity_ref));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    json!({ "kind": kind, "namespace": namespace, "name": name })
}

/// Most fields one `fields` parameter may name.
pub const MAX_FIELDS: usize = 64;

/// The `fields` parameter's values (each may be a comma-separated list), checked: no
/// array paths (Backstage refuses them too), at most [`MAX_FIELDS`].
pub fn parse_fields<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, ApiError> {
    let fields: Vec<String> = values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    if fields.iter().any(|f| f.contains('[')) {
        return Err(ApiError::invalid(
            "invalid fields, array type fields are not supported",
        ));
    }
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::invalid(format!(
            "fields names {} paths; the limit is {MAX_FIELDS}",
            fields.len()
        )));
    }
    Ok(fields)
}

/// Only `fields` of `entity` (dotted paths; a key that itself holds dots, such as an
/// annotation's, is matched whole), as Backstage's `fields` parameter gives them. No
/// fields: the whole entity.
pub fn project(entity: Value, fields: &[String]) -> Value {
    if fields.is_empty() || !entity.is_object() {
        return entity;
    }
    let mut out = Value::Object(Map::new());
    for field in fields {
        let Some(path) = path_in(&entity, field) else {
            continue;
        };
        let mut value = &entity;
        for key in &path {
            value = &value[key.as_str()];
        }
        let value = value.clone();
        let mut at = &mut out;
        for (i, key) in path.iter().enumerate() {
            let Some(object) = at.as_object_mut() else {
                break;
            };
            if i + 1 == path.len() {
                object.insert(key.clone(), value);
                break;
            }
            at = object
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    out
}

/// The keys `field` walks in `entity`: its dot-separated parts, joining parts back
/// together where a key holds dots. None when it names nothing.
fn path_in(entity: &Value, field: &str) -> Option<Vec<String>> {
    let mut path = Vec::new();
    let mut at = entity;
    let mut pending = String::new();
    for part in field.split('.') {
        if !pending.is_empty() {
            pending.push('.');
        }
        pending.push_str(part);
        if let Some(next) = at.as_object().and_then(|o| o.get(&pending)) {
            at = next;
            path.push(std::mem::take(&mut pending));
        }
    }
    (pending.is_empty() && !path.is_empty()).then_some(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_pick_dotted_paths_and_keys_holding_dots() {
        let entity = json!({
            "kind": "Component",
            "metadata": { "name": "a", "annotations": { "backstage.io/x": "1", "y": "2" } },
            "spec": { "type": "service" },
        });
        let fields = parse_fields([
            "kind,metadata.name",
            "metadata.annotations.backstage.io/x",
            "spec.nothing",
        ])
        .unwrap();
        assert_eq!(
            project(entity, &fields),
            json!({ "kind": "Component",
                    "metadata": { "name": "a", "annotations": { "backstage.io/x": "1" } } })
        );
        assert!(parse_fields(["relations[0]"]).is_err());
    }

    #[test]
    fn compound_refs_split_kind_namespace_and_name() {
        assert_eq!(
            compound("group:default/team-a"),
            json!({ "kind": "group", "namespace": "default", "name": "team-a" })
        );
    }
}
