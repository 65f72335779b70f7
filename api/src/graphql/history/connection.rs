//! Relay connections of events: one entity's history (by version, either
//! way) and the global audit feed (by position). Cursors are opaque; under
//! them is a version or a position, so a cursor stays valid while new events
//! arrive (nothing is ever inserted before it).

use super::event::{details_for_versions, HistoryEvent};
use super::event_log;
use crate::error::{ApiError, ErrorCode, Result};
use crate::graphql::closed;
use crate::graphql::connection::{page_size, PageInfo};
use crate::graphql::filter::canonical_ref;
use crate::graphql::ids::{decode_cursor, encode_cursor};
use crate::limits::GraphqlLimits;
use almanac_readmodel::Snapshot;
use almanac_store::log::FeedFilter;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The order of an entity's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
pub enum HistoryOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// Narrows the audit feed; every field given must hold, a list matches any of
/// its values.
#[derive(Clone, Debug, Default, InputObject)]
pub struct EventFilter {
    /// Exactly this actor (`ingest:<location>` or a token's subject).
    pub actor: Option<String>,
    /// Entity kinds, case-insensitive (`component`, `API`, ...); an unknown
    /// kind is `UNKNOWN_VALUE`, with a did-you-mean.
    pub kind: Option<Vec<String>>,
    /// Entity refs (`kind:[namespace/]name`).
    #[graphql(name = "ref")]
    pub entity_ref: Option<Vec<String>>,
    /// Event types (`EntityUpdated`, ...); an unknown one is `UNKNOWN_VALUE`.
    #[graphql(name = "type")]
    pub event_type: Option<Vec<String>>,
    /// Entity kinds.
    #[graphql(deprecation = "named `kind`, as every filter field (singular name, list of values)")]
    pub kinds: Option<Vec<String>>,
    /// Entity refs.
    #[graphql(deprecation = "named `ref`, as every filter field (singular name, list of values)")]
    pub refs: Option<Vec<String>>,
    /// Event types.
    #[graphql(deprecation = "named `type`, as every filter field (singular name, list of values)")]
    pub types: Option<Vec<String>>,
    /// Recorded at or after.
    pub since: Option<DateTime<Utc>>,
    /// Recorded before.
    pub until: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// The feed's filter; kinds are checked against those `snapshot` knows (when
    /// there is one), event types against the log's.
    pub fn compile(
        filter: Option<&EventFilter>,
        snapshot: Option<&Snapshot>,
    ) -> Result<FeedFilter> {
        let Some(filter) = filter else {
            return Ok(FeedFilter::default());
        };
        let both = |a: &Option<Vec<String>>, b: &Option<Vec<String>>| {
            crate::graphql::dependencies::either(a.clone(), b.clone())
        };
        let kinds = both(&filter.kind, &filter.kinds);
        if let (Some(snapshot), Some(kinds)) = (snapshot, &kinds) {
            closed::kinds(snapshot, "filter.kind", Some(kinds))?;
        }
        let event_types = both(&filter.event_type, &filter.types);
        if let Some(types) = &event_types {
            closed::event_types("filter.type", types)?;
        }
        let streams = both(&filter.entity_ref, &filter.refs)
            .map(|refs| refs.iter().map(|r| canonical_ref(r, None)).collect())
            .transpose()?;
        Ok(FeedFilter {
            actor: filter.actor.clone(),
            kinds,
            streams,
            event_types,
            since: filter.since,
            until: filter.until,
        })
    }
}

#[derive(Clone, Debug, SimpleObject)]
pub struct HistoryEventEdge {
    pub cursor: String,
    pub node: HistoryEvent,
}

pub struct HistoryEventConnection {
    edges: Vec<HistoryEventEdge>,
    page_info: PageInfo,
}

#[Object]
impl HistoryEventConnection {
    async fn edges(&self) -> &[HistoryEventEdge] {
        &self.edges
    }

    /// The edges' nodes, for clients that need no cursors.
    async fn nodes(&self) -> Vec<HistoryEvent> {
        self.edges.iter().map(|e| e.node.clone()).collect()
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
}

/// Under a history cursor: the version and the order it was made for.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct HistoryCursor {
    h: String,
    v: i64,
    n: bool,
}

/// Under a feed cursor: a position.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct FeedCursor {
    p: i64,
}

fn limits(ctx: &Context<'_>) -> GraphqlLimits {
    ctx.data::<GraphqlLimits>().cloned().unwrap_or_default()
}

fn connection(
    mut events: Vec<HistoryEvent>,
    first: i64,
    after: bool,
    cursor: impl Fn(&HistoryEvent) -> String,
) -> HistoryEventConnection {
    let has_next_page = events.len() as i64 > first;
    events.truncate(usize::try_from(first).unwrap_or(0));
    let edges: Vec<HistoryEventEdge> = events
        .into_iter()
        .map(|node| HistoryEventEdge {
            cursor: cursor(&node),
            node,
        })
        .collect();
    let page_info = PageInfo {
        has_next_page,
        has_previous_page: after,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
    };
    HistoryEventConnection { edges, page_info }
}

/// A page of one entity's events; the stream is folded once for the page.
pub async fn entity_history(
    ctx: &Context<'_>,
    stream: &str,
    first: Option<i32>,
    after: Option<&str>,
    order: HistoryOrder,
) -> Result<HistoryEventConnection> {
    let first = page_size(&limits(ctx), first)?;
    let newest_first = order == HistoryOrder::NewestFirst;
    let after: Option<HistoryCursor> = after.map(decode_cursor).transpose()?;
    if let Some(cursor) = &after {
        if cursor.h != stream || cursor.n != newest_first {
            return Err(ApiError::new(
                ErrorCode::InvalidCursor,
                "the cursor belongs to another entity or order",
            ));
        }
    }
    let log = event_log(ctx)?;
    let mut page = log
        .history_page(stream, after.as_ref().map(|c| c.v), first + 1, newest_first)
        .await?;
    page.truncate(usize::try_from(first + 1).unwrap_or(0));
    let shown = &page[..page.len().min(usize::try_from(first).unwrap_or(0))];
    let wanted: HashSet<i64> = shown.iter().map(|e| e.version).collect();
    let mut details = match wanted.iter().max() {
        Some(&through) => {
            let events = log.read_stream_through(stream, through).await?;
            details_for_versions(&events, &wanted)?
        }
        None => Default::default(),
    };
    let events = page
        .into_iter()
        .map(|e| {
            let detail = details.remove(&e.version);
            HistoryEvent::with_detail(e, detail)
        })
        .collect();
    Ok(connection(events, first, after.is_some(), |node| {
        encode_cursor(&HistoryCursor {
            h: stream.to_string(),
            v: node.version_number(),
            n: newest_first,
        })
    }))
}

/// A page of the global feed, in position order.
pub async fn events_page(
    ctx: &Context<'_>,
    filter: Option<&EventFilter>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<HistoryEventConnection> {
    let first = page_size(&limits(ctx), first)?;
    let snapshot = crate::graphql::loaders::Loaders::snapshot(ctx).ok();
    let filter = EventFilter::compile(filter, snapshot.as_ref())?;
    let after: Option<FeedCursor> = after.map(decode_cursor).transpose()?;
    let rows = event_log(ctx)?
        .read_feed_filtered(after.as_ref().map_or(0, |c| c.p), first + 1, &filter)
        .await?;
    let events = rows.into_iter().map(HistoryEvent::new).collect();
    Ok(connection(events, first, after.is_some(), |node| {
        encode_cursor(&FeedCursor {
            p: node.log_position(),
        })
    }))
}
