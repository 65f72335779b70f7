//! GraphQL over HTTP, as the GraphQL-over-HTTP spec says: `POST /graphql`
//! with a JSON body, `GET /graphql` with the query in the URL (queries only),
//! answered as `application/graphql-response+json` or `application/json` by
//! the `Accept` header. A request that does not parse or validate gets 400
//! with a GraphQL error body; a WebSocket upgrade on `GET` goes to [`ws`].
//!
//! The stock async-graphql-axum response always answers with the spec's media
//! type, which breaks clients that only accept `application/json`; hence this
//! small handler around `Schema::execute`.
//!
//! An optional `Almanac-Min-Position` header (a non-negative log position, as a
//! mutation's `extensions.writtenPosition` gives it) asks for a snapshot at or past
//! that position; the gate waits for it ([`MinPosition`]). WebSocket requests do
//! not read it.

pub(crate) mod cors;
mod etag;
pub(crate) mod explorer;
mod media;
pub(crate) mod observe;
mod persisted;
pub(crate) mod rate;
mod ws;

pub use cors::CorsConfig;
pub use persisted::PersistedQueries;
pub use rate::RateLimitConfig;

use crate::auth::{authorization_header, AuthConfig, Principal};
use crate::error::{ApiError, ErrorCode};
use crate::graphql::gate::{MinPosition, Phase, PhaseCell, ViaGet, ViaHttp};
use crate::graphql::raw::{self, RawJson};
use crate::graphql::AlmanacSchema;
use crate::limits::GraphqlLimits;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use media::{negotiate, Media};
use serde_json::json;
use std::sync::Arc;

/// What the GraphQL routes need.
#[derive(Clone)]
pub struct GraphqlService {
    pub schema: AlmanacSchema,
    pub auth: Arc<AuthConfig>,
    /// The `graphql:` limits (response bytes, subscriptions per connection).
    pub limits: GraphqlLimits,
    /// The `cors:` section: also which origins may open a WebSocket.
    pub cors: Arc<CorsConfig>,
    /// Apollo's automatic persisted queries, by hash.
    pub persisted: Arc<PersistedQueries>,
    /// The in-memory catalog: its position makes GET responses' ETags.
    pub followed: Option<almanac_store::follow::Followed>,
}

/// A request turned away before execution: its body is `{"errors": [...]}`
/// and nothing else (no `data`: the request never ran).
struct Refusal {
    media: Media,
    status: StatusCode,
    error: ApiError,
}

impl Refusal {
    fn new(media: Media, status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            media,
            status,
            error: ApiError::new(code, message),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let persisted_not_found = self.error.code() == ErrorCode::PersistedQueryNotFound;
        let body = json!({ "errors": [self.error.into_server_error()] });
        let mut response = (self.status, body.to_string()).into_response();
        set_content_type(&mut response, self.media);
        if persisted_not_found {
            // Not an answer to keep: the next request registers the query.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache, must-revalidate"),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn set_content_type(response: &mut Response, media: Media) {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
}

/// The media type to answer in, or the 406 that says none fits.
fn media_of(headers: &HeaderMap) -> Result<Media, Refusal> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    negotiate(accept).ok_or_else(|| {
        Refusal::new(
            Media::Json,
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::NotAcceptable,
            "accept application/graphql-response+json or application/json",
        )
    })
}

/// The request header naming the least log position a read must reflect.
pub const MIN_POSITION_HEADER: &str = "almanac-min-position";

/// The `Almanac-Min-Position` header's position, if sent; 400 when it is not
/// one non-negative integer.
fn min_position(headers: &HeaderMap, media: Media) -> Result<Option<MinPosition>, Refusal> {
    let Some(value) = headers.get(MIN_POSITION_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    match text.parse::<i64>() {
        Ok(position) if position >= 0 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(MinPosition(position)))
        }
        _ => Err(Refusal::new(
            media,
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!(
                "the Almanac-Min-Position header must be one non-negative integer (a log \
                 position, as a mutation's extensions.writtenPosition); got {:?}",
                String::from_utf8_lossy(value.as_bytes())
                    .chars()
                    .take(40)
                    .collect::<String>()
            ),
        )),
    }
}

/// Adds the request's minimum position, if any, to its data.
fn with_min_position(
    request: async_graphql::Request,
    min: Option<MinPosition>,
) -> async_graphql::Request {
    match min {
        Some(min) => request.data(min),
        None => request,
    }
}

/// Who may run GraphQL operations on this request: a malformed header or an
/// unknown token is 401, a token without the `read` scope 403.
fn principal(auth: &AuthConfig, headers: &HeaderMap, media: Media) -> Result<Principal, Refusal> {
    authorization_header(headers)
        .and_then(|header| reader_of(auth, header))
        .map_err(|error| Refusal {
            media,
            status: auth_status(&error),
            error,
        })
}

/// The principal behind a header value (or its absence), if it may read.
fn reader_of(auth: &AuthConfig, authorization: Option<&str>) -> Result<Principal, ApiError> {
    let principal = auth.authenticate(authorization)?;
    principal.reader()?;
    Ok(principal)
}

/// 403 for a known token that may not, 401 for everything else refused.
pub(crate) fn auth_status(error: &ApiError) -> StatusCode {
    match error.code() {
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    }
}

pub async fn post(
    State(service): State<GraphqlService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let media = match media_of(&headers) {
        Ok(media) => media,
        Err(refusal) => return refusal.into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(media::JSON);
    if !content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with(media::JSON)
    {
        return Refusal::new(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the request as application/json",
        )
        .into_response();
    }
    let principal = match principal(&service.auth, &headers, media) {
        Ok(principal) => principal,
        Err(refusal) => return refusal.into_response(),
    };
    let min = match min_position(&headers, media) {
        Ok(min) => min,
        Err(refusal) => return refusal.into_response(),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return Refusal::new(
                media,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                format!("the body must be one GraphQL request as a JSON object: {err}"),
            )
            .into_response()
        }
    };
    let request = match persisted(&service, request, media) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let request = with_min_position(request.data(principal), min);
    execute(&service, request, media, None).await
}

/// The request with its persisted query's text, or the answer that ends it
/// (`PERSISTED_QUERY_NOT_FOUND`, or 400 for a malformed extension or a hash
/// that does not match the query).
fn persisted(
    service: &GraphqlService,
    mut request: async_graphql::Request,
    media: Media,
) -> Result<async_graphql::Request, Refusal> {
    match service
        .persisted
        .resolve(&request.extensions, &request.query)
    {
        persisted::Persisted::None => Ok(request),
        persisted::Persisted::Query(query) => {
            query.as_ref().clone_into(&mut request.query);
            Ok(request)
        }
        // Apollo Client matches the message; 200 as Apollo Server answers
        // (a 400 makes Apollo Client give up on persisted queries).
        persisted::Persisted::NotFound => Err(Refusal::new(
            media,
            StatusCode::OK,
            ErrorCode::PersistedQueryNotFound,
            "PersistedQueryNotFound",
        )),
        persisted::Persisted::Invalid(message) => Err(Refusal::new(
            media,
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            message,
        )),
    }
}

pub async fn get(State(service): State<GraphqlService>, request: Request) -> Response {
    if ws::is_upgrade(request.headers()) {
        return ws::upgrade(service, request).await;
    }
    if explorer::wants_html(request.headers()) {
        return explorer::page();
    }
    let media = match media_of(request.headers()) {
        Ok(media) => media,
        Err(refusal) => return refusal.into_response(),
    };
    let principal = match principal(&service.auth, request.headers(), media) {
        Ok(principal) => principal,
        Err(refusal) => return refusal.into_response(),
    };
    let min = match min_position(request.headers(), media) {
        Ok(min) => min,
        Err(refusal) => return refusal.into_response(),
    };
    let query = request.uri().query().unwrap_or("");
    let graphql = match async_graphql::http::parse_query_string(query) {
        Ok(graphql) => graphql,
        Err(err) => {
            return Refusal::new(
                media,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                format!("bad GraphQL GET request: {err}"),
            )
            .into_response()
        }
    };
    let graphql = match persisted(&service, graphql, media) {
        Ok(graphql) => graphql,
        Err(refusal) => return refusal.into_response(),
    };
    let asked = etag::Asked::of(&graphql, media.content_type(), principal.subject());
    // The catalog has not moved since the client's copy: answered unrun.
    if let (Some(asked), Some(followed)) = (&asked, &service.followed) {
        let position = followed.pin().position();
        let tag = asked.tag(position);
        let wants_later = min.as_ref().is_some_and(|m| m.0 > position);
        if !wants_later && etag::matches(request.headers(), &tag) {
            let mut answer = StatusCode::NOT_MODIFIED.into_response();
            answer.headers_mut().insert(header::ETAG, tag);
            set_revalidate(&mut answer);
            return answer;
        }
    }
    let graphql = with_min_position(graphql.data(principal).data(ViaGet), min);
    execute(&service, graphql, media, asked).await
}

/// A tagged answer may be stored, but checked again before each use; it
/// differs by media type and by who asks.
fn set_revalidate(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.append(
        header::VARY,
        HeaderValue::from_static("accept, authorization"),
    );
}

async fn execute(
    service: &GraphqlService,
    request: async_graphql::Request,
    media: Media,
    asked: Option<etag::Asked>,
) -> Response {
    let phase = Arc::new(PhaseCell::default());
    // Long lists may be written as JSON text, spliced in below (`raw`).
    let raw = Arc::new(RawJson::default());
    let mut response = service
        .schema
        .execute(request.data(phase.clone()).data(ViaHttp).data(raw.clone()))
        .await;
    let status = match phase.get() {
        Phase::Executed => StatusCode::OK,
        Phase::WrongMethod => StatusCode::METHOD_NOT_ALLOWED,
        Phase::BadArgument | Phase::WrongTransport => StatusCode::BAD_REQUEST,
        Phase::Received | Phase::Rejected if response.is_err() => StatusCode::BAD_REQUEST,
        Phase::Received | Phase::Rejected => StatusCode::OK,
    };
    within_contract(&mut response.errors, status);
    // Tagged only when the answer is whole: an error may be transient.
    let tag = asked
        .filter(|_| status == StatusCode::OK && response.errors.is_empty())
        .and_then(|asked| match response.extensions.get("position") {
            Some(async_graphql::Value::Number(position)) => position.as_i64().map(|p| asked.tag(p)),
            _ => None,
        });
    let limit = service.limits.max_response_bytes;
    let body = if status != StatusCode::OK {
        // The request never ran, or was a request error (an argument that does
        // not coerce): the spec wants errors and no `data`.
        bounded_json(&json!({ "errors": response.errors }), limit).map(String::into_bytes)
    } else if let Some(error) = response
        .errors
        .iter()
        .find(|e| has_code(e, ErrorCode::ResponseTooLarge))
    {
        // Part of the data was dropped: send only why, not a partial answer.
        bounded_json(&json!({ "errors": [error] }), limit).map(String::into_bytes)
    } else {
        // UTF-8 already: written from `str`s only.
        match raw::write_response(&response, &raw, limit) {
            Ok(text) => Ok(text),
            Err(raw::WriteError::TooLarge) => Err(Bounded::TooLarge),
            Err(raw::WriteError::Failed(err)) => Err(Bounded::Failed(err)),
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(Bounded::TooLarge) => json!({ "errors": [ApiError::new(
            ErrorCode::ResponseTooLarge,
            format!("the response would be larger than {limit} bytes; ask for fewer fields or a smaller page"),
        )
        .into_server_error()] })
        .to_string()
        .into_bytes(),
        Err(Bounded::Failed(err)) => {
            tracing::error!(error = %err, "cannot serialise a GraphQL response");
            json!({ "errors": [{ "message": crate::error::INTERNAL_MESSAGE }] })
                .to_string()
                .into_bytes()
        }
    };
    let mut http = (status, body).into_response();
    set_content_type(&mut http, media);
    if let Some(tag) = tag {
        http.headers_mut().insert(header::ETAG, tag);
        set_revalidate(&mut http);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        http.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    http
}

/// Every error leaves with a code from the closed set and 1-based locations or
/// none. Our own errors and the gate's have their codes already; what is left
/// is async-graphql's own, named by what the request did.
fn within_contract(errors: &mut [async_graphql::ServerError], status: StatusCode) {
    for error in errors {
        error.locations.retain(|at| at.line >= 1 && at.column >= 1);
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            let code = if status == StatusCode::OK {
                ErrorCode::Internal
            } else {
                ErrorCode::BadRequest
            };
            extensions.set("code", code.as_str());
        }
    }
}

fn has_code(error: &async_graphql::ServerError, code: ErrorCode) -> bool {
    error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .is_some_and(|c| *c == async_graphql::Value::from(code.as_str()))
}

pub(crate) enum Bounded {
    TooLarge,
    Failed(serde_json::Error),
}

/// `value` as JSON text, or `TooLarge` as soon as it passes `limit` bytes:
/// the text is never held beyond the limit.
pub(crate) fn bounded_json(value: &impl serde::Serialize, limit: usize) -> Result<String, Bounded> {
    struct Capped {
        bytes: Vec<u8>,
        limit: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.bytes.len() + buf.len() > self.limit {
                return Err(std::io::Error::other("response too large"));
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped {
        bytes: Vec::with_capacity(limit.min(16 * 1024)),
        limit,
    };
    // serde_json writes a response in many small pieces (a quote, a key, a colon):
    // buffered, the cap is checked per 8 KB instead of per piece.
    let mut buffered = std::io::BufWriter::with_capacity(8 * 1024, &mut out);
    let written = serde_json::to_writer(&mut buffered, value)
        .and_then(|()| std::io::Write::flush(&mut buffered).map_err(serde_json::Error::io));
    drop(buffered);
    match written {
        Ok(()) => {
            String::from_utf8(out.bytes).map_err(|e| Bounded::Failed(serde::ser::Error::custom(e)))
        }
        Err(err) if err.is_io() => Err(Bounded::TooLarge),
        Err(err) => Err(Bounded::Failed(err)),
    }
}
