//! The entity reads: `GET /entities/by-query` (filtered, ordered, cursor pages with
//! `totalItems`), `GET /entities` (the older list, `offset`/`limit`/`after`),
//! `POST /entities/by-refs`, `GET /entities/by-name/...`, `/by-uid/...`, the ancestry of
//! an entity, and `GET /entity-facets`. All from one pinned snapshot per request.

use super::entity::{parse_fields, project, render};
use super::query::{self, clip, integer, single, values, Asked, Cursor, Keyset};
use super::{json_body, json_response, Reading, Rest, RestError, RestResult};
use crate::graphql::filter::canonical_ref;
use almanac_readmodel::{
    Entity as Held, FacetField, FieldPath, Filter, OrderDirection, OrderField, OrderKey,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

type Params = Query<Vec<(String, String)>>;

/// Backstage's page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 200;
/// Most rows an `offset` may skip plus the page: offsets read every row they skip.
const MAX_OFFSET_ROWS: usize = 10_000;
/// Most entities `GET /entities` answers without `limit` (Backstage answers them all).
const MAX_UNPAGED: usize = 10_000;
/// Most refs in one `by-refs` request: `@backstage/catalog-client` sends up to 1,000.
pub const MAX_BY_REFS: usize = 1_000;

/// `limit`, defaulted, within `graphql.max_page_size`.
fn limit(params: &[(String, String)], reading: &Reading, default: usize) -> RestResult<usize> {
    let max = usize::try_from(reading.limits.max_page_size).unwrap_or(0);
    match integer(params, "limit")? {
        None => Ok(default.min(max)),
        Some(n) if n > max => Err(RestError::input(format!(
            "limit is {n}; the largest page is {max} (graphql.max_page_size): page with the cursor"
        ))),
        Some(n) => Ok(n),
    }
}

/// Entities of `reading`'s snapshot rendered, then cut to `fields`.
async fn rendered(
    reading: &Reading,
    held: Vec<Arc<Held>>,
    fields: &[String],
) -> RestResult<Vec<Value>> {
    let items = render(&reading.loaders, &reading.snapshot, held).await?;
    Ok(items.into_iter().map(|e| project(e, fields)).collect())
}

/// The filter of `asked`, with its full-text term.
fn compiled(asked: &Asked, reading: &Reading) -> RestResult<Filter> {
    let filters: Vec<&str> = asked.filter.iter().map(String::as_str).collect();
    let filter = query::filter(
        &filters,
        &reading.snapshot,
        reading.limits.max_filter_conditions,
    )?;
    Ok(match query::full_text(asked.text.as_deref())? {
        Some(text) => Filter::All(vec![filter, Filter::Text(text)]),
        None => filter,
    })
}

fn keyset(after: &Option<Keyset>, order: &[OrderKey]) -> RestResult<()> {
    match after {
        Some(k) if k.keys.len() != order.len() => Err(RestError::input(
            "Malformed cursor: it belongs to another orderField",
        )),
        _ => Ok(()),
    }
}

pub async fn by_query(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(params): Params,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let fields = parse_fields(values(&params, "fields"))?;
    let limit = limit(&params, &reading, DEFAULT_LIMIT)?;
    let (cursor, offset) = match single(&params, "cursor")? {
        Some(text) => (Some(Cursor::decode(text)?), 0),
        None => (None, integer(&params, "offset")?.unwrap_or(0)),
    };
    let asked = match &cursor {
        Some(cursor) => cursor.asked.clone(),
        None => Asked {
            filter: values(&params, "filter")
                .into_iter()
                .map(str::to_string)
                .collect(),
            order: values(&params, "orderField")
                .into_iter()
                .map(str::to_string)
                .collect(),
            text: single(&params, "fullTextFilterTerm")?.map(str::to_string),
        },
    };
    let filter = compiled(&asked, &reading)?;
    let order_fields: Vec<&str> = asked.order.iter().map(String::as_str).collect();
    let order = query::order(&order_fields)?;
    let current = match cursor {
        Some(cursor) => cursor,
        None => Cursor::first(asked, reading.snapshot.count_entities(&filter)),
    };
    keyset(&current.after, &order)?;
    if offset + limit > MAX_OFFSET_ROWS {
        return Err(RestError::input(format!(
            "offset {offset} plus limit {limit} passes {MAX_OFFSET_ROWS} rows; page with the cursor"
        )));
    }
    let page = reading.snapshot.list_entities(
        &filter,
        &order,
        offset + limit,
        current
            .after
            .as_ref()
            .map(|k| (k.keys.as_slice(), k.entity_ref.as_str())),
    );
    let rows: Vec<_> = page.rows.into_iter().skip(offset).collect();
    let next = match rows.last() {
        Some(last) if page.has_next => Some(current.next(Keyset {
            keys: last.sort_keys.clone(),
            entity_ref: last.entity.entity_ref.to_string(),
        })),
        _ => None,
    };
    let previous = current.after.as_ref().and(current.previous());
    let held = rows.into_iter().map(|row| row.entity).collect();
    let items = rendered(&reading, held, &fields).await?;
    let mut page_info = serde_json::Map::new();
    if let Some(next) = next {
        page_info.insert("nextCursor".into(), Value::String(next.encode()));
    }
    if let Some(previous) = previous {
        page_info.insert("prevCursor".into(), Value::String(previous.encode()));
    }
    let body = json!({ "items": items, "totalItems": current.total, "pageInfo": page_info });
    json_response(StatusCode::OK, &body, reading.limits.max_response_bytes)
}

/// `GET /entities`: Backstage's older list, an array. `order=asc:field` orders,
/// `offset`/`limit` page, `after` continues (Link header `rel="next"`).
pub async fn list(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(params): Params,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let fields = parse_fields(values(&params, "fields"))?;
    let filters = values(&params, "filter");
    let filter = query::filter(
        &filters,
        &reading.snapshot,
        reading.limits.max_filter_conditions,
    )?;
    // `order=asc:metadata.name` in this route's spelling.
    let order_fields: Vec<String> = values(&params, "order")
        .into_iter()
        .map(|o| match o.split_once(':') {
            Some((direction, field)) => format!("{field},{direction}"),
            None => o.to_string(),
        })
        .collect();
    let order_fields: Vec<&str> = order_fields.iter().map(String::as_str).collect();
    let order = query::order(&order_fields)?;
    let paged = single(&params, "limit")?.is_some() || single(&params, "after")?.is_some();
    let (offset, limit) = match single(&params, "after")? {
        Some(after) => after_cursor(after)?,
        None => (
            integer(&params, "offset")?.unwrap_or(0),
            limit(&params, &reading, MAX_UNPAGED)?,
        ),
    };
    let limit = if paged { limit } else { MAX_UNPAGED };
    if offset + limit > MAX_OFFSET_ROWS.max(MAX_UNPAGED) {
        return Err(RestError::input(format!(
            "offset {offset} plus limit {limit} passes {MAX_OFFSET_ROWS} rows; \
             use /entities/by-query and its cursor"
        )));
    }
    let page = reading
        .snapshot
        .list_entities(&filter, &order, offset + limit, None);
    if page.has_next && !paged {
        return Err(RestError::input(format!(
            "more than {MAX_UNPAGED} entities match; give limit (and follow the Link header) \
             or use /entities/by-query"
        )));
    }
    let held = page
        .rows
        .into_iter()
        .skip(offset)
        .map(|r| r.entity)
        .collect();
    let items = rendered(&reading, held, &fields).await?;
    let mut response = json_response(
        StatusCode::OK,
        &Value::Array(items),
        reading.limits.max_response_bytes,
    )?;
    if page.has_next {
        let after = base64_json(&json!({ "limit": limit, "offset": offset + limit }));
        let mut next: Vec<String> = params
            .iter()
            .filter(|(k, _)| k != "after" && k != "offset")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        next.push(format!("after={}", encode(&after)));
        let link = format!(
            "<{}/entities?{}>; rel=\"next\"",
            super::PREFIX,
            next.join("&")
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

fn base64_json(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /entities`' `after`: base64 JSON `{limit, offset}`, as Backstage writes it.
fn after_cursor(text: &str) -> RestResult<(usize, usize)> {
    use base64::Engine;
    let malformed = || RestError::input("Malformed after cursor, could not be parsed");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| malformed())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let number = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    match (number("offset"), number("limit")) {
        (Some(offset), Some(limit)) => Ok((offset, limit)),
        _ => Err(RestError::input(
            "Malformed after cursor, limit or offset was not a number",
        )),
    }
}

/// `POST /entities/by-refs`: `{entityRefs, fields?}` (and `filter` in the query), the
/// entities in the order asked, `null` where none has that ref or the filter drops it.
pub async fn by_refs(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let body = json_body(&headers, &body)?;
    let refs: Vec<String> = match body.get("entityRefs") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| RestError::input("entityRefs must be an array of strings"))?,
        _ => {
            return Err(RestError::input(
                "Malformed request: entityRefs (an array of strings) is required",
            ))
        }
    };
    if refs.len() > MAX_BY_REFS {
        return Err(RestError::input(format!(
            "{} entityRefs given; at most {MAX_BY_REFS} per request",
            refs.len()
        )));
    }
    let field_values: Vec<String> = match body.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| RestError::input("fields must be an array of strings"))?,
        Some(_) => return Err(RestError::input("fields must be an array of strings")),
    };
    let mut fields = parse_fields(values(&params, "fields"))?;
    fields.extend(parse_fields(field_values.iter().map(String::as_str))?);
    let filters = values(&params, "filter");
    let filter = query::filter(
        &filters,
        &reading.snapshot,
        reading.limits.max_filter_conditions,
    )?;
    // A ref that does not parse names no entity: null, as Backstage answers.
    let canonical: Vec<Option<String>> = refs.iter().map(|r| canonical_ref(r, None).ok()).collect();
    let kept: Option<std::collections::HashSet<String>> = (filter != Filter::all()).then(|| {
        let wanted: Vec<String> = canonical.iter().flatten().cloned().collect();
        let page = reading.snapshot.list_entities(
            &Filter::All(vec![Filter::Ref(wanted.clone()), filter.clone()]),
            &[OrderKey {
                field: OrderField::Ref,
                direction: OrderDirection::Asc,
            }],
            wanted.len(),
            None,
        );
        page.rows
            .into_iter()
            .map(|r| r.entity.entity_ref.to_string())
            .collect()
    });
    let found: Vec<Option<Arc<Held>>> = canonical
        .iter()
        .map(|r| {
            r.as_deref()
                .filter(|r| kept.as_ref().is_none_or(|k| k.contains(*r)))
                .and_then(|r| reading.snapshot.entity(r).cloned())
        })
        .collect();
    let held: Vec<Arc<Held>> = found.iter().flatten().cloned().collect();
    let mut rendered = rendered(&reading, held, &fields).await?.into_iter();
    let items: Vec<Value> = found
        .iter()
        .map(|f| match f {
            Some(_) => rendered.next().unwrap_or(Value::Null),
            None => Value::Null,
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "items": items }),
        reading.limits.max_response_bytes,
    )
}

/// The canonical ref of a `/by-name/{kind}/{namespace}/{name}` path.
pub fn path_ref(kind: &str, namespace: &str, name: &str) -> RestResult<String> {
    canonical_ref(&format!("{kind}:{namespace}/{name}"), None).map_err(RestError::from)
}

pub async fn by_name(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let entity_ref = path_ref(&kind, &namespace, &name)?;
    let Some(entity) = reading.snapshot.entity(&entity_ref).cloned() else {
        return Err(RestError::not_found(format!(
            "No entity named '{}' found, with kind '{}' in namespace '{}'",
            clip(&name),
            clip(&kind),
            clip(&namespace)
        )));
    };
    one(&reading, entity).await
}

async fn one(reading: &Reading, entity: Arc<Held>) -> RestResult<Response> {
    let item = rendered(reading, vec![entity], &[]).await?;
    let item = item.into_iter().next().unwrap_or(Value::Null);
    json_response(StatusCode::OK, &item, reading.limits.max_response_bytes)
}

pub async fn by_uid(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let found = query::refs_of_uids(&reading.snapshot, std::slice::from_ref(&uid));
    let Some(entity) = found
        .first()
        .and_then(|r| reading.snapshot.entity(r))
        .cloned()
    else {
        return Err(RestError::not_found(format!(
            "No entity with uid {}",
            clip(&uid)
        )));
    };
    one(&reading, entity).await
}

/// Most entities one ancestry lists (cycles end earlier: each entity once).
const MAX_ANCESTRY: usize = 64;

/// `GET /entities/by-name/.../ancestry`: the entity and, up the chain, the Location
/// entities whose targets name the file or URL it was read from.
pub async fn ancestry(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let root_ref = path_ref(&kind, &namespace, &name)?;
    let Some(root) = reading.snapshot.entity(&root_ref).cloned() else {
        return Err(RestError::not_found(format!("No such entity {root_ref}")));
    };
    // Which Location entities point at each source key.
    let locations = reading.snapshot.list_entities(
        &Filter::Kind(vec!["location".into()]),
        &[OrderKey {
            field: OrderField::Ref,
            direction: OrderDirection::Asc,
        }],
        MAX_UNPAGED,
        None,
    );
    let mut parents: std::collections::HashMap<String, Vec<Arc<Held>>> = Default::default();
    for row in locations.rows {
        let Some(source) = row.entity.source() else {
            continue;
        };
        let spec = row.entity.descriptor()["spec"].clone();
        for key in almanac_ingest::read::location_target_keys(source, &spec) {
            parents.entry(key).or_default().push(row.entity.clone());
        }
    }
    let mut seen = std::collections::HashSet::from([root.entity_ref.to_string()]);
    let mut todo = vec![root];
    let mut chain: Vec<(Arc<Held>, Vec<String>)> = Vec::new();
    while let Some(current) = todo.pop() {
        if chain.len() >= MAX_ANCESTRY {
            break;
        }
        let found = current
            .source()
            .and_then(|s| parents.get(s))
            .cloned()
            .unwrap_or_default();
        let refs: Vec<String> = found
            .iter()
            .filter(|p| p.entity_ref != current.entity_ref)
            .map(|p| p.entity_ref.to_string())
            .collect();
        for parent in found {
            if seen.insert(parent.entity_ref.to_string()) {
                todo.push(parent);
            }
        }
        chain.push((current, refs));
    }
    let held = chain.iter().map(|(e, _)| e.clone()).collect();
    let entities = rendered(&reading, held, &[]).await?;
    let items: Vec<Value> = entities
        .into_iter()
        .zip(&chain)
        .map(|(entity, (_, parents))| json!({ "entity": entity, "parentEntityRefs": parents }))
        .collect();
    let body = json!({ "rootEntityRef": root_ref, "items": items });
    json_response(StatusCode::OK, &body, reading.limits.max_response_bytes)
}

/// Most facets in one request.
const MAX_FACETS: usize = 16;

/// `GET /entity-facets?facet=...&filter=...`: per facet, its values and counts among
/// the entities the filter keeps, most common first.
pub async fn facets(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(params): Params,
) -> RestResult<Response> {
    rest.reader(&headers)?;
    let reading = rest.reading()?;
    let asked = values(&params, "facet");
    if asked.is_empty() {
        return Err(RestError::input("Missing facet parameter"));
    }
    if asked.len() > MAX_FACETS {
        return Err(RestError::input(format!(
            "{} facets asked; the limit is {MAX_FACETS}",
            asked.len()
        )));
    }
    let filters = values(&params, "filter");
    let filter = query::filter(
        &filters,
        &reading.snapshot,
        reading.limits.max_filter_conditions,
    )?;
    let mut out = serde_json::Map::new();
    let limit = usize::try_from(reading.limits.max_page_size).unwrap_or(0);
    for name in asked {
        // Fields held apart are counted per batch; any other path is a scan.
        let held = match name.to_ascii_lowercase().as_str() {
            "kind" => Some(FacetField::Kind),
            "metadata.namespace" => Some(FacetField::Namespace),
            "spec.type" => Some(FacetField::Type),
            "spec.lifecycle" => Some(FacetField::Lifecycle),
            "metadata.tags" => Some(FacetField::Tag),
            _ => None,
        };
        let counts = match held {
            Some(field) => reading.snapshot.facets(field, &filter, limit),
            None => {
                let path = FieldPath::parse(name)
                    .map_err(|err| RestError::input(format!("facet {}: {err}", clip(name))))?;
                reading.snapshot.path_facets(&path, &filter, limit)
            }
        };
        let items: Vec<Value> = counts
            .into_iter()
            .map(|f| json!({ "value": f.value, "count": f.count }))
            .collect();
        out.insert(name.to_string(), Value::Array(items));
    }
    json_response(
        StatusCode::OK,
        &json!({ "facets": out }),
        reading.limits.max_response_bytes,
    )
}
