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
pub use live::{ConnectionSlots, Subscription, WakeHub};
pub use travel::{entity_diff, entity_then};
pub use verify::{verify_integrity, IntegrityReport};

use crate::error::{ApiError, Result};
use crate::graphql::ReadPool;
use almanac_store::EventLog;
use async_graphql::Context;

/// The log, over the schema's read pool.
pub fn event_log(ctx: &Context<'_>) -> Result<EventLog> {
    ctx.data::<ReadPool>()
        .map(|reads| EventLog::new(reads.0.clone()))
        .map_err(|_| ApiError::internal(std::io::Error::other("database pool missing from schema")))
}
