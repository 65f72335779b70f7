//! GraphQL over WebSocket on `GET /graphql`: `graphql-transport-ws` (and the
//! legacy `graphql-ws`), through async-graphql's protocol implementation.
//!
//! Authentication happens before any operation runs. An `Authorization`
//! header on the upgrade request is checked at the upgrade: a bad one is
//! refused there with 401 (403 for a token without `read`), so no socket is
//! opened. Then the socket must send `connection_init` within
//! `auth.connection_init_timeout_ms`; its payload's `Authorization` entry (for
//! browsers, which cannot set headers on a WebSocket) takes precedence over
//! the header. Close codes, as graphql-transport-ws defines them:
//! 4408 no `connection_init` in time, 4401 a `subscribe` before it or no
//! credentials where anonymous reads are off, 4403 a token refused in the
//! payload (unknown, malformed, or without `read`), 4400 any other message
//! before it. Only after that does async-graphql take the socket over.
//!
//! An upgrade whose `Origin` is neither the server's own nor on the `cors:`
//! list is refused with 403 before any of that ([`super::cors`]).
//!
//! It does not limit what an authenticated connection subscribes to.

use super::GraphqlService;
use crate::auth::{authorization_header, Principal};
use crate::error::{ApiError, ErrorCode};
use crate::graphql::ConnectionSlots;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::stream::{SplitStream, StreamExt};
use futures::SinkExt;
use std::time::Duration;

pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(service: GraphqlService, request: Request) -> Response {
    // A page from another origin may not open the feed (the `cors:` list, or
    // the server's own origin): browsers send cookies and reach private
    // networks on a page's behalf.
    if !service.cors.allows_socket(request.headers()) {
        return refuse(ApiError::new(
            ErrorCode::Forbidden,
            "this origin may not open a WebSocket here (see the cors section of the configuration)",
        ));
    }
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // A header, when present, must be good: refused before the upgrade.
    let from_header = match authorization_header(&parts.headers) {
        Ok(None) => None,
        Ok(Some(header)) => match super::reader_of(&service.auth, Some(header)) {
            Ok(principal) => Some(principal),
            Err(error) => return refuse(error),
        },
        Err(error) => return refuse(error),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, service, protocol, from_header))
}

fn refuse(error: ApiError) -> Response {
    let media = super::media::Media::Json;
    super::Refusal {
        media,
        status: super::auth_status(&error),
        error,
    }
    .into_response()
}

/// graphql-transport-ws close codes used here.
mod close {
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
}

/// Why the socket is closed before the protocol starts.
struct Close(u16, String);

async fn serve(
    socket: WebSocket,
    service: GraphqlService,
    protocol: GraphQLProtocol,
    from_header: Option<Principal>,
) {
    let _open = crate::metrics::recorder::Held::new(crate::metrics::recorder::WEBSOCKETS);
    let (mut sink, mut stream) = socket.split();
    let timeout = Duration::from_millis(service.auth.connection_init_timeout_ms);
    let waited = tokio::time::timeout(timeout, first_init(&mut stream, &mut sink)).await;
    let outcome = match waited {
        Err(_elapsed) => Err(Close(
            close::INIT_TIMEOUT,
            "Connection initialisation timeout".into(),
        )),
        Ok(Ok(Some(init))) => {
            authenticate(&service, &init.payload, from_header).map(|principal| (init, principal))
        }
        Ok(Ok(None)) => return, // the client left
        Ok(Err(close)) => Err(close),
    };
    let (init, principal) = match outcome {
        Ok(accepted) => accepted,
        Err(Close(code, reason)) => {
            let frame = CloseFrame {
                code,
                reason: close_reason(reason).into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
            return;
        }
    };
    // async-graphql runs the protocol from the init on, which it sees again;
    // the principal is already settled.
    let replayed = futures::stream::once(async move { Ok(init.message) }).chain(stream);
    // Counts this connection's live subscriptions (its own limit).
    let mut connection = Data::default();
    connection.insert(ConnectionSlots::new(&service.limits));
    GraphQLWebSocket::new_with_pair(sink, replayed, service.schema.clone(), protocol)
        .with_data(connection)
        .on_connection_init(move |_payload| async move {
            let mut data = Data::default();
            data.insert(principal);
            Ok(data)
        })
        .serve()
        .await
}

struct Init {
    message: Message,
    payload: serde_json::Value,
}

/// Reads until `connection_init`, answering pings; `None` when the client
/// leaves first.
async fn first_init(
    stream: &mut SplitStream<WebSocket>,
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
) -> Result<Option<Init>, Close> {
    while let Some(Ok(message)) = stream.next().await {
        let text = match &message {
            Message::Text(text) => text.as_str().to_owned(),
            Message::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Message::Close(_) => return Ok(None),
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
            Close(
                close::BAD_REQUEST,
                "messages must be JSON objects with a `type`".into(),
            )
        })?;
        match value.get("type").and_then(|t| t.as_str()) {
            Some("connection_init") => {
                let payload = value.get("payload").cloned().unwrap_or_default();
                return Ok(Some(Init { message, payload }));
            }
            Some("ping") => {
                let pong = serde_json::json!({ "type": "pong" }).to_string();
                if sink.send(Message::Text(pong.into())).await.is_err() {
                    return Ok(None);
                }
            }
            Some("pong") => {}
            Some("subscribe" | "start") => {
                return Err(Close(close::UNAUTHORIZED, "Unauthorized".into()))
            }
            _ => {
                return Err(Close(
                    close::BAD_REQUEST,
                    "the first message must be connection_init".into(),
                ))
            }
        }
    }
    Ok(None)
}

/// The connection's principal: the payload's token, else the upgrade's, else
/// anonymous where allowed.
fn authenticate(
    service: &GraphqlService,
    payload: &serde_json::Value,
    from_header: Option<Principal>,
) -> Result<Principal, Close> {
    let token = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(*key));
    let refused = |error: ApiError| {
        let code = match error.code() {
            ErrorCode::Unauthenticated if token.is_none() => close::UNAUTHORIZED,
            _ => close::FORBIDDEN,
        };
        Close(code, error.client_message().to_string())
    };
    match (token, from_header) {
        (Some(token), _) => {
            let Some(token) = token.as_str() else {
                return Err(Close(
                    close::FORBIDDEN,
                    "the Authorization entry must be a string: `Bearer <token>`".into(),
                ));
            };
            super::reader_of(&service.auth, Some(token)).map_err(refused)
        }
        (None, Some(principal)) => Ok(principal),
        (None, None) => super::reader_of(&service.auth, None).map_err(refused),
    }
}

/// A close frame's reason holds at most 123 bytes.
fn close_reason(mut reason: String) -> String {
    if reason.len() > 123 {
        let mut end = 120;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str("...");
    }
    reason
}
