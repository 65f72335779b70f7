//! History and audit: an entity's events with what each changed, the entity
//! as it was at a time or version, the diff between two versions, the global
//! audit feed (a query and a live subscription) and the hash-chain check.
//!
//! Everything here reads the event log, never the projections (except to
//! resolve an event's `entity` as it is now). It writes nothing.

mod connection;
mod event;
mod live;
mod travel;
mod verify;

pub use connection::{
    entity_history, events_page, EventFilter, HistoryEventConnection, HistoryOrder,
};
pub use event::Change;
pub use live::{Subscription, WakeHub};
pub use travel::{entity_diff, entity_then};
pub use verify::{verify_integrity, IntegrityReport};

use crate::error::{ApiError, Result};
use almanac_store::EventLog;
use async_graphql::Context;
use sqlx::PgPool;

/// The log, from the schema's pool.
pub fn event_log(ctx: &Context<'_>) -> Result<EventLog> {
    ctx.data::<PgPool>()
        .map(|pool| EventLog::new(pool.clone()))
        .map_err(|_| ApiError::internal(std::io::Error::other("database pool missing from schema")))
}
