//! GraphQL over WebSocket on `GET /graphql`: `graphql-transport-ws` (and the
//! legacy `graphql-ws`), through async-graphql's protocol implementation.
//!
//! The connection's principal comes from the `Authorization` entry of the
//! `connection_init` payload (browsers cannot set headers on a WebSocket), else
//! from the upgrade request's header; a refused token closes the connection.

use super::{authorization, GraphqlService};
use crate::auth::Principal;
use crate::graphql::ConnectionSlots;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{FromRequestParts, Request, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(service: GraphqlService, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let from_header = service.auth.authenticate(authorization(&parts.headers));
    let auth = service.auth.clone();
    let schema = service.schema.clone();
    // Counts this connection's live subscriptions (its own limit).
    let mut connection = Data::default();
    connection.insert(ConnectionSlots::new(&service.limits));
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .with_data(connection)
                .on_connection_init(move |payload| async move {
                    let token = ["Authorization", "authorization"]
                        .iter()
                        .find_map(|key| payload.get(*key).and_then(|v| v.as_str()));
                    let principal: Principal = match token {
                        Some(token) => auth.authenticate(Some(token)),
                        None => from_header,
                    }
                    .map_err(|err| err.into_graphql())?;
                    let mut data = Data::default();
                    data.insert(principal);
                    Ok(data)
                })
                .serve()
        })
}
