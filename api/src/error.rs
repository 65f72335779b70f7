//! The one error gate between Almanac and its clients.
//!
//! Resolvers return [`Result<T, ApiError>`](Result). `ApiError` deliberately has
//! no `Display`, so async-graphql's blanket "anything printable becomes a client
//! message" conversion cannot apply to it, and `?` on a store or ingest error
//! only compiles through the `From` impls below, which make it `Internal`.
//! Known failures carry `extensions.code` from the closed [`ErrorCode`] enum;
//! internal ones reach the client as "internal error" and are logged once, with
//! their cause and GraphQL path, by the gate extension.

use async_graphql::ErrorExtensions;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Every `extensions.code` Almanac sends. Clients may match on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The HTTP request is not a GraphQL request (bad JSON, no query).
    BadRequest,
    GraphqlParseFailed,
    GraphqlValidationFailed,
    /// A mutation sent with GET.
    MethodNotAllowed,
    /// The `Accept` header allows neither JSON media type.
    NotAcceptable,
    /// A POST body that is not `application/json`.
    UnsupportedMediaType,
    Unauthenticated,
    Forbidden,
    DepthLimitExceeded,
    ComplexityLimitExceeded,
    /// A query text longer than `graphql.max_query_bytes`.
    QueryTooLarge,
    /// More aliased fields than `graphql.max_aliases`.
    AliasLimitExceeded,
    /// The response would be larger than `graphql.max_response_bytes`.
    ResponseTooLarge,
    /// More live subscriptions on one WebSocket than
    /// `graphql.max_subscriptions_per_connection`.
    SubscriptionLimitExceeded,
    PageSizeExceeded,
    /// More requests from one client than `rate_limit` allows (HTTP 429, with
    /// `Retry-After`).
    RateLimited,
    Timeout,
    InvalidArgument,
    InvalidRef,
    InvalidCursor,
    InvalidId,
    /// A subscriber fell further behind than its buffer holds; the error's
    /// `extensions.resumeFrom` is the position to subscribe after again.
    SubscriberTooSlow,
    /// The database did not answer in time (down, restarting, or every
    /// connection busy): retry shortly. Not a bug, so not `INTERNAL`.
    Unavailable,
    /// The server's in-memory catalog did not reach the request's
    /// `Almanac-Min-Position` within `graphql.min_position_wait_ms`; the
    /// error's `extensions.minPosition` is the position asked,
    /// `extensions.position` the one reached. Retry, here or on another server.
    PositionNotReached,
    /// Apollo's automatic persisted queries: the request named its query by a
    /// hash this server does not hold; send the query with the hash once.
    PersistedQueryNotFound,
    /// A value outside a closed set (an entity kind, a relation type, an event
    /// type); `extensions.didYouMean` lists the nearest known values.
    UnknownValue,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            ErrorCode::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::NotAcceptable => "NOT_ACCEPTABLE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::DepthLimitExceeded => "DEPTH_LIMIT_EXCEEDED",
            ErrorCode::ComplexityLimitExceeded => "COMPLEXITY_LIMIT_EXCEEDED",
            ErrorCode::QueryTooLarge => "QUERY_TOO_LARGE",
            ErrorCode::AliasLimitExceeded => "ALIAS_LIMIT_EXCEEDED",
            ErrorCode::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            ErrorCode::SubscriptionLimitExceeded => "SUBSCRIPTION_LIMIT_EXCEEDED",
            ErrorCode::PageSizeExceeded => "PAGE_SIZE_EXCEEDED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InvalidRef => "INVALID_REF",
            ErrorCode::InvalidCursor => "INVALID_CURSOR",
            ErrorCode::InvalidId => "INVALID_ID",
            ErrorCode::SubscriberTooSlow => "SUBSCRIBER_TOO_SLOW",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::PositionNotReached => "POSITION_NOT_REACHED",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::UnknownValue => "UNKNOWN_VALUE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// What went wrong inside, kept for the log and never shown to a client.
#[derive(Clone)]
pub struct InternalError {
    cause: Arc<dyn std::error::Error + Send + Sync>,
    logged: Arc<AtomicBool>,
}

impl InternalError {
    pub fn new(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            cause: Arc::new(cause),
            logged: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True the first time only: an error that bubbles up through several
    /// fields is logged once.
    pub(crate) fn first_report(&self) -> bool {
        !self.logged.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn cause(&self) -> &(dyn std::error::Error + Send + Sync) {
        self.cause.as_ref()
    }
}

impl fmt::Debug for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InternalError({})", self.cause)
    }
}

/// A failure at the API boundary. No `Display`, on purpose (see the module doc).
#[derive(Clone, Debug)]
pub enum ApiError {
    /// A known failure: its message is written for the client.
    Known {
        code: ErrorCode,
        message: String,
        /// `extensions.didYouMean`: the nearest known values (`UNKNOWN_VALUE`).
        did_you_mean: Vec<String>,
    },
    Internal(InternalError),
}

/// The only text a client sees for an internal failure.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// What a client sees when the database could not be reached in time.
pub const UNAVAILABLE_MESSAGE: &str =
    "the database is unavailable (restarting or overloaded); retry shortly";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Known {
            code,
            message: message.into(),
            did_you_mean: Vec::new(),
        }
    }

    /// The same error, with the nearest known values for `extensions.didYouMean`.
    pub fn with_did_you_mean(mut self, values: Vec<String>) -> Self {
        if let ApiError::Known { did_you_mean, .. } = &mut self {
            *did_you_mean = values;
        }
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// An internal failure, unless its cause is the database being out of
    /// reach: that one the client may retry, so it gets `UNAVAILABLE`.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        if almanac_store::is_unavailable(&cause) {
            tracing::debug!(error = %cause, "database unavailable");
            return Self::new(ErrorCode::Unavailable, UNAVAILABLE_MESSAGE);
        }
        ApiError::Internal(InternalError::new(cause))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Known { code, .. } => *code,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The text a client may see (a WebSocket close reason, say).
    pub fn client_message(&self) -> &str {
        match self {
            ApiError::Known { message, .. } => message,
            ApiError::Internal(_) => INTERNAL_MESSAGE,
        }
    }

    /// As a GraphQL error: message plus `extensions.code`; the internal cause
    /// rides along as the error's source, for the log only.
    pub fn into_graphql(self) -> async_graphql::Error {
        let code = self.code().as_str();
        match self {
            ApiError::Known {
                message,
                did_you_mean,
                ..
            } => async_graphql::Error::new(message).extend_with(|_, e| {
                e.set("code", code);
                if !did_you_mean.is_empty() {
                    e.set("didYouMean", did_you_mean);
                }
            }),
            ApiError::Internal(internal) => async_graphql::Error {
                message: INTERNAL_MESSAGE.to_string(),
                source: Some(Arc::new(internal)),
                extensions: None,
            }
            .extend_with(|_, e| e.set("code", code)),
        }
    }

    /// As a top-level error of a response (before or outside execution).
    /// The error of a whole request: no place in the document, so no
    /// `locations` (async-graphql would write line 0, column 0; the spec's
    /// locations start at 1).
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let mut error = self.into_graphql().into_server_error(Default::default());
        error.locations.clear();
        error
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        error.into_graphql()
    }
}

/// Said when a catalog statement ran out of the request's time.
const STATEMENT_TIMEOUT: &str = "a catalog query ran out of the request's time";

impl From<almanac_store::catalog::CatalogError> for ApiError {
    fn from(error: almanac_store::catalog::CatalogError) -> Self {
        if error.is_timeout() {
            return ApiError::new(ErrorCode::Timeout, STATEMENT_TIMEOUT);
        }
        ApiError::internal(error)
    }
}

impl From<Arc<almanac_store::catalog::CatalogError>> for ApiError {
    fn from(error: Arc<almanac_store::catalog::CatalogError>) -> Self {
        if error.is_timeout() {
            return ApiError::new(ErrorCode::Timeout, STATEMENT_TIMEOUT);
        }
        ApiError::internal(SharedCause(error))
    }
}

impl From<almanac_store::StoreError> for ApiError {
    fn from(error: almanac_store::StoreError) -> Self {
        ApiError::internal(error)
    }
}

impl From<almanac_store::history::HistoryError> for ApiError {
    fn from(error: almanac_store::history::HistoryError) -> Self {
        ApiError::internal(error)
    }
}

impl From<almanac_ingest::IngestError> for ApiError {
    fn from(error: almanac_ingest::IngestError) -> Self {
        ApiError::internal(error)
    }
}

/// A cause shared by every field a batched load failed for.
#[derive(Debug)]
struct SharedCause<E>(Arc<E>);

impl<E: fmt::Display> fmt::Display for SharedCause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::error::Error> std::error::Error for SharedCause<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use almanac_store::catalog::CatalogError;

    #[test]
    fn an_unreachable_database_is_unavailable_not_internal() {
        let timed_out = ApiError::from(CatalogError::from(sqlx::Error::PoolTimedOut));
        assert_eq!(timed_out.code(), ErrorCode::Unavailable);
        let shared = ApiError::from(Arc::new(CatalogError::from(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        ))));
        assert_eq!(shared.code(), ErrorCode::Unavailable);
        match shared.into_graphql().extensions {
            Some(extensions) => assert_eq!(
                extensions.get("code"),
                Some(&async_graphql::Value::from("UNAVAILABLE"))
            ),
            None => panic!("no extensions"),
        }
        let other = ApiError::from(almanac_store::StoreError::from(sqlx::Error::RowNotFound));
        assert_eq!(other.code(), ErrorCode::Internal);
    }
}
