//! Errors in Backstage's shape: `{error: {name, message}, request: {method, url},
//! response: {statusCode}}`, the body `@backstage/errors`' `ResponseError` reads. A
//! handler returns a [`RestError`] (status, Backstage's error name, message); the
//! router's [`layer`] adds the request's method and URL, which the handler does not
//! know. Internal causes are logged here once and never sent.

use crate::error::{ApiError, ErrorCode, INTERNAL_MESSAGE};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A refused or failed REST request.
#[derive(Clone, Debug)]
pub struct RestError {
    pub status: StatusCode,
    /// Backstage's error class name: `InputError`, `NotFoundError`, ...
    pub name: &'static str,
    pub message: String,
}

pub type RestResult<T> = std::result::Result<T, RestError>;

impl RestError {
    /// 400 `InputError`: the request is malformed; the message names the parameter.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InputError", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFoundError", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "ConflictError", message)
    }

    pub fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        RestError {
            status,
            name,
            message: message.into(),
        }
    }
}

/// The GraphQL side's errors keep their meaning: a code becomes Backstage's name and
/// the HTTP status Backstage gives it.
impl From<ApiError> for RestError {
    fn from(error: ApiError) -> Self {
        if let ApiError::Internal(internal) = &error {
            if internal.first_report() {
                tracing::error!(error = %internal.cause(), "internal error in a REST request");
            }
        }
        let (status, name) = match error.code() {
            ErrorCode::Unauthenticated => (StatusCode::UNAUTHORIZED, "AuthenticationError"),
            ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "NotAllowedError"),
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableError"),
            ErrorCode::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableError"),
            ErrorCode::ResponseTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "InputError"),
            ErrorCode::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Error"),
            _ => (StatusCode::BAD_REQUEST, "InputError"),
        };
        RestError::new(status, name, error.client_message())
    }
}

impl From<almanac_ingest::IngestError> for RestError {
    fn from(error: almanac_ingest::IngestError) -> Self {
        match error {
            almanac_ingest::IngestError::Invalid(message) => RestError::input(message),
            almanac_ingest::IngestError::Conflict(detail) => {
                RestError::conflict(format!("{detail}; nothing was written, try again"))
            }
            other => ApiError::from(other).into(),
        }
    }
}

/// What [`layer`] turns into the body: set on the response by [`RestError`].
#[derive(Clone, Debug)]
struct Pending {
    name: &'static str,
    message: String,
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Pending {
            name: self.name,
            message: self.message,
        });
        response
    }
}

/// Writes the body of every [`RestError`] with the request it answers; also gives the
/// answers axum makes itself (an unknown route, a body that is not JSON) that shape.
pub async fn layer(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let url = request.uri().to_string();
    let mut response = next.run(request).await;
    let status = response.status();
    let pending = response.extensions_mut().remove::<Pending>();
    let answered = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let (name, message) = match pending {
        // A route's own JSON answer (validate-entity's `{errors}`) is left as it is.
        None if answered => return response,
        Some(pending) => (pending.name, pending.message),
        None if status == StatusCode::NOT_FOUND => ("NotFoundError", format!("no route {url}")),
        None if status == StatusCode::METHOD_NOT_ALLOWED => (
            "NotAllowedError",
            format!("{method} is not allowed on {url}"),
        ),
        None if status.is_client_error() || status.is_server_error() => {
            let reason = status.canonical_reason().unwrap_or("error");
            let name = if status.is_server_error() {
                "Error"
            } else {
                "InputError"
            };
            let message = if status.is_server_error() {
                INTERNAL_MESSAGE.to_string()
            } else {
                format!("{reason}: {}", text_of(response).await)
            };
            return body(status, name, &message, &method, &url);
        }
        None => return response,
    };
    let headers = response.headers().clone();
    let mut answer = body(status, name, &message, &method, &url);
    if let Some(challenge) = headers.get(header::WWW_AUTHENTICATE) {
        answer
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge.clone());
    }
    answer
}

/// The (short) text axum's own rejection carried.
async fn text_of(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).chars().take(500).collect()
}

fn body(status: StatusCode, name: &str, message: &str, method: &str, url: &str) -> Response {
    let body = json!({
        "error": { "name": name, "message": message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": status.as_u16() },
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
