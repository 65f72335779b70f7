//! Backstage's catalog REST API, the subset `@backstage/catalog-client` speaks, under
//! `/api/catalog`: entities by query, refs, name and uid, facets, ancestry, locations,
//! validation, refresh and deletion, in Backstage's request and response shapes, so a
//! Backstage app, plugin or script can point at Almanac unchanged.
//!
//! Reads answer from one pinned snapshot of the in-memory catalog per request, through
//! the GraphQL side's `Loaders` (the same elided-descriptor and processing-error reads);
//! writes go through `crate::operations` and `almanac_ingest::operations`, as GraphQL's
//! mutations do. Tokens and scopes are GraphQL's (`auth.rs`). It holds no catalog logic
//! of its own: it parses Backstage's parameters into the read model's query vocabulary and
//! renders entities as Backstage does. Errors leave in Backstage's shape (`error.rs`).
//! It does not serve Backstage's permission framework or its `/entities` streaming.

mod entities;
mod entity;
mod error;
mod locations;
mod query;
mod writes;

use crate::auth::{authorization_header, AuthConfig, Principal};
use crate::error::ApiError;
use crate::graphql::descriptors::DescriptorCache;
use crate::graphql::loaders::Loaders;
use crate::limits::GraphqlLimits;
use almanac_ingest::{Ingestor, ReadLimits, ReadPolicy};
use almanac_readmodel::Snapshot;
use almanac_store::catalog::{Catalog, ReadBudget};
use almanac_store::follow::Followed;
use almanac_store::EventLog;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
pub use error::{RestError, RestResult};
use serde_json::Value;
use std::sync::Arc;

/// Where the routes are mounted, as in a Backstage backend.
pub const PREFIX: &str = "/api/catalog";

/// What every route needs.
#[derive(Clone)]
pub struct Rest {
    pub auth: Arc<AuthConfig>,
    pub limits: GraphqlLimits,
    /// Reads (processing errors, elided rows) on the read pool.
    pub catalog: Catalog,
    /// Writes, with the server's signing key.
    pub log: EventLog,
    pub followed: Option<Followed>,
    pub descriptors: Arc<DescriptorCache>,
    pub reading: ReadPolicy,
    pub read_limits: ReadLimits,
    /// Which kinds each location may register (`catalog.rules`, ...).
    pub catalog_policy: almanac_ingest::CatalogPolicy,
}

/// One read request's view: the snapshot pinned when it started and its loaders.
pub struct Reading {
    pub snapshot: Snapshot,
    pub loaders: Loaders,
    pub limits: GraphqlLimits,
}

impl Rest {
    /// The caller, if it may read: a malformed header or unknown token is 401, a token
    /// without `read` 403 (as for GraphQL).
    pub fn reader(&self, headers: &HeaderMap) -> RestResult<Principal> {
        let header = authorization_header(headers)?;
        let principal = self.auth.authenticate(header)?;
        principal.reader()?;
        Ok(principal)
    }

    /// A pinned snapshot and fresh loaders for one request.
    pub fn reading(&self) -> RestResult<Reading> {
        let followed = self.followed.as_ref().ok_or_else(|| {
            RestError::from(ApiError::internal(std::io::Error::other(
                "this server does not follow the log into memory (AppState::with_follower)",
            )))
        })?;
        let budget = Arc::new(ReadBudget::new(self.limits.max_request_statements));
        budget.set_deadline(std::time::Instant::now() + self.limits.query_timeout());
        Ok(Reading {
            snapshot: followed.pin(),
            loaders: Loaders::new(
                self.catalog.with_budget(budget),
                Some(self.log.clone()),
                Some(self.descriptors.clone()),
                None,
                self.limits.clone(),
            ),
            limits: self.limits.clone(),
        })
    }

    /// Waits (within `graphql.mutation_timeout_ms`) until the in-memory catalog holds
    /// everything the log holds now: after a write, so the client's next read sees it, as
    /// GraphQL's mutations do.
    pub async fn settled(&self) -> RestResult<()> {
        let head = self.log.head_position().await.map_err(ApiError::from)?;
        if let Some(followed) = &self.followed {
            let _ =
                tokio::time::timeout(self.limits.mutation_timeout(), followed.reach(head)).await;
        }
        Ok(())
    }

    /// An ingestor that reads as the server's `reading:` and `limits:` allow.
    pub fn ingestor(&self) -> Ingestor {
        Ingestor::new(self.log.clone())
            .with_reading(self.reading.clone())
            .with_limits(self.read_limits.clone())
            .with_catalog(self.catalog_policy.clone())
    }
}

pub fn router(rest: Rest) -> Router {
    let routes = Router::new()
        .route("/entities", get(entities::list))
        .route("/entities/by-query", get(entities::by_query))
        .route("/entities/by-refs", post(entities::by_refs))
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}",
            get(entities::by_name),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            get(entities::ancestry),
        )
        .route(
            "/entities/by-uid/{uid}",
            get(entities::by_uid).delete(writes::delete_by_uid),
        )
        .route("/entity-facets", get(entities::facets))
        .route("/locations", get(locations::list).post(locations::create))
        .route(
            "/locations/{id}",
            get(locations::one).delete(locations::delete),
        )
        .route(
            "/locations/by-entity/{kind}/{namespace}/{name}",
            get(locations::by_entity),
        )
        .route("/validate-entity", post(writes::validate_entity))
        .route("/analyze-location", post(writes::analyze_location))
        .route("/refresh", post(writes::refresh))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(rest);
    Router::new()
        .nest(PREFIX, routes)
        .layer(axum::middleware::from_fn(error::layer))
}

/// `value` as a JSON answer with `status`, within `graphql.max_response_bytes`.
pub fn json_response(status: StatusCode, value: &Value, limit: usize) -> RestResult<Response> {
    let body = crate::http::bounded_json(value, limit).map_err(|_| {
        RestError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InputError",
            format!(
                "the response would be larger than {limit} bytes (graphql.max_response_bytes); \
                 ask for fewer entities (limit) or fewer fields (fields)"
            ),
        )
    })?;
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(response)
}

/// A JSON request body: an object, as Backstage requires (`Content-Type` JSON).
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> RestResult<serde_json::Map<String, Value>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(RestError::input(
            "send the request body as application/json (Content-Type missing or not JSON)",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if !map.is_empty() => Ok(map),
        Ok(Value::Object(_)) => Err(RestError::input("Empty request body")),
        Ok(_) => Err(RestError::input("Expected body to be a JSON object")),
        Err(err) => Err(RestError::input(format!("the body is not JSON: {err}"))),
    }
}
