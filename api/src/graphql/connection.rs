//! Relay connections over entity lists and search results, answered from the
//! operation's pinned snapshot of the in-memory catalog (no SQL): opaque cursors,
//! page info, and a `totalCount` that is only counted when asked for (from the
//! same snapshot, so it agrees with the page).
//!
//! It does not hold large descriptors: an entity the snapshot holds elided gets its
//! full row through [`Loaders::all`], the one place current entities are read from
//! PostgreSQL.

use super::entity::Entity;
use super::filter::{
    compile_in, order_keys, order_signature, search_text, EntityFilter, EntityOrder,
};
use super::flat::EntityNodes;
use super::ids::{decode_page_cursor, encode_cursor, ListCursor, SearchCursor};
use super::loaders::Loaders;
use crate::error::{ApiError, ErrorCode, Result};
use crate::limits::GraphqlLimits;
use almanac_readmodel::{Entity as Held, Filter, OrderField, OrderKey, Snapshot};
use async_graphql::{Context, Object, SimpleObject};
use std::sync::Arc;

#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// True when the page was asked for `after` a cursor; for `last`/`before`
    /// (on `entities`), when rows lie before the page.
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// An edge's cursor, encoded only when asked for: a page's hundred cursors
/// (JSON, then base64) are mostly not, and `pageInfo` encodes its two itself.
#[derive(Clone, Debug)]
enum EdgeCursor {
    List(ListCursor),
    Search(SearchCursor),
}

impl EdgeCursor {
    fn encode(&self) -> String {
        match self {
            EdgeCursor::List(cursor) => encode_cursor(cursor),
            EdgeCursor::Search(cursor) => encode_cursor(cursor),
        }
    }
}

#[derive(Clone, Debug)]
pub struct EntityEdge {
    cursor: EdgeCursor,
    node: Entity,
}

#[Object]
impl EntityEdge {
    async fn cursor(&self) -> String {
        self.cursor.encode()
    }

    async fn node(&self) -> &Entity {
        &self.node
    }
}

/// What `totalCount` counts.
#[derive(Clone, Debug)]
enum Counted {
    List(Filter),
    /// A search counts every match while ranking the page: the total is known.
    Search(usize),
}

pub struct EntityConnection {
    edges: Vec<EntityEdge>,
    page_info: PageInfo,
    counted: Arc<Counted>,
}

#[Object]
impl EntityConnection {
    async fn edges(&self) -> &[EntityEdge] {
        &self.edges
    }

    /// The edges' nodes, for clients that need no cursors.
    async fn nodes(&self) -> EntityNodes {
        EntityNodes(self.edges.iter().map(|e| e.node.clone()).collect())
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// Every entity the filter keeps, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let count = match self.counted.as_ref() {
            Counted::List(filter) => Loaders::snapshot(ctx)?.count_entities(filter),
            Counted::Search(total) => i64::try_from(*total).unwrap_or(i64::MAX),
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

/// `first` checked against the limits.
pub fn page_size(limits: &GraphqlLimits, first: Option<i32>) -> Result<i64> {
    match first {
        None => Ok(i64::from(limits.default_page_size)),
        Some(n) if n < 0 => Err(ApiError::invalid("first must not be negative")),
        Some(n) if n > limits.max_page_size => Err(ApiError::new(
            ErrorCode::PageSizeExceeded,
            format!("first is {n}; the largest page is {}", limits.max_page_size),
        )),
        Some(n) => Ok(i64::from(n)),
    }
}

fn limits(ctx: &Context<'_>) -> GraphqlLimits {
    ctx.data::<GraphqlLimits>().cloned().unwrap_or_default()
}

/// The GraphQL entities of a page of `snapshot`, in order (an entity held elided
/// read whole through [`Loaders::all`]).
async fn page_entities(
    ctx: &Context<'_>,
    snapshot: &Snapshot,
    held: Vec<Arc<Held>>,
) -> Result<Vec<Entity>> {
    let data = Loaders::of(ctx)?.all(snapshot, held).await?;
    Ok(data.into_iter().map(Entity::from_data).collect())
}

fn invalid_cursor(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidCursor, message)
}

/// Refuses a list cursor that does not belong to `order`, or whose time keys are not
/// the RFC 3339 text this server's cursors hold: resuming from it could skip rows.
fn check_list_cursor(cursor: &ListCursor, order: &[OrderKey], signature: &str) -> Result<()> {
    if cursor.order != signature || cursor.sort_keys.len() != order.len() {
        return Err(invalid_cursor("the cursor belongs to a different orderBy"));
    }
    for (key, value) in order.iter().zip(&cursor.sort_keys) {
        if matches!(key.field, OrderField::CreatedAt | OrderField::UpdatedAt)
            && chrono::DateTime::parse_from_rfc3339(value).is_err()
        {
            return Err(invalid_cursor("the cursor is not one this query returned"));
        }
    }
    Ok(())
}

/// Which end a page of `entities` is cut from.
pub enum Paging<'a> {
    /// `first` after the cursor `after` (or from the start).
    Forward(Option<i32>, Option<&'a str>),
    /// `last` before the cursor `before` (or up to the end).
    Backward(Option<i32>, Option<&'a str>),
}

impl<'a> Paging<'a> {
    /// Relay's arguments: `first`/`after` or `last`/`before`, not both.
    pub fn of(
        first: Option<i32>,
        after: Option<&'a str>,
        last: Option<i32>,
        before: Option<&'a str>,
    ) -> Result<Self> {
        match (
            last.is_some() || before.is_some(),
            first.is_some() || after.is_some(),
        ) {
            (true, true) => Err(ApiError::invalid(
                "give first/after or last/before, not both",
            )),
            (true, false) => Ok(Paging::Backward(last, before)),
            (false, _) => Ok(Paging::Forward(first, after)),
        }
    }
}

pub async fn list(
    ctx: &Context<'_>,
    filter: Option<&EntityFilter>,
    order_by: Option<&[EntityOrder]>,
    paging: Paging<'_>,
) -> Result<EntityConnection> {
    let (first, after) = match paging {
        Paging::Forward(first, after) => (first, after),
        Paging::Backward(last, before) => {
            return list_backward(ctx, filter, order_by, last, before).await
        }
    };
    let limits = limits(ctx);
    let first = page_size(&limits, first)?;
    let filter = compile_in(ctx, filter).await?;
    let order = order_keys(order_by)?;
    let signature = order_signature(&order);
    let after: Option<ListCursor> = after.map(decode_page_cursor).transpose()?;
    if let Some(cursor) = &after {
        check_list_cursor(cursor, &order, &signature)?;
    }
    let snapshot = Loaders::snapshot(ctx)?;
    let page = snapshot.list_entities(
        &filter,
        &order,
        usize::try_from(first).unwrap_or(0),
        after
            .as_ref()
            .map(|c| (c.sort_keys.as_slice(), c.entity_ref.as_str())),
    );
    let held = page.rows.iter().map(|row| row.entity.clone()).collect();
    let nodes = page_entities(ctx, &snapshot, held).await?;
    let edges = page
        .rows
        .into_iter()
        .zip(nodes)
        .map(|(row, node)| EntityEdge {
            cursor: EdgeCursor::List(ListCursor::new(
                signature.clone(),
                row.sort_keys,
                row.entity.entity_ref.to_string(),
            )),
            node,
        })
        .collect();
    Ok(connection(
        edges,
        page.has_next,
        after.is_some(),
        Counted::List(filter),
    ))
}

/// `last` rows before the cursor `before` (or the last `last`). The read model pages
/// forward only (its ties go by ref ascending in every order), so this lists the
/// whole filtered order once and the rows after `before` once, from one snapshot:
/// the rows before it are what the first has and the second does not. Linear in
/// the rows the filter keeps, so meant for the short backward steps of a table.
async fn list_backward(
    ctx: &Context<'_>,
    filter: Option<&EntityFilter>,
    order_by: Option<&[EntityOrder]>,
    last: Option<i32>,
    before: Option<&str>,
) -> Result<EntityConnection> {
    let limits = limits(ctx);
    let last = usize::try_from(page_size(&limits, last)?).unwrap_or(0);
    let filter = compile_in(ctx, filter).await?;
    let order = order_keys(order_by)?;
    let signature = order_signature(&order);
    let before: Option<ListCursor> = before.map(decode_page_cursor).transpose()?;
    if let Some(cursor) = &before {
        check_list_cursor(cursor, &order, &signature)?;
    }
    let snapshot = Loaders::snapshot(ctx)?;
    let mut rows = snapshot
        .list_entities(&filter, &order, usize::MAX, None)
        .rows;
    let mut has_next = false;
    if let Some(cursor) = &before {
        let after = snapshot.list_entities(
            &filter,
            &order,
            usize::MAX,
            Some((cursor.sort_keys.as_slice(), cursor.entity_ref.as_str())),
        );
        let keep = rows.len().saturating_sub(after.rows.len());
        rows.truncate(keep);
        // The cursor's own row, when it is still there, is not before itself.
        if rows
            .last()
            .is_some_and(|row| *row.entity.entity_ref == *cursor.entity_ref)
        {
            rows.pop();
            has_next = true;
        }
        has_next = has_next || !after.rows.is_empty();
    }
    let has_previous = rows.len() > last;
    let rows: Vec<_> = rows.split_off(rows.len().saturating_sub(last));
    let held = rows.iter().map(|row| row.entity.clone()).collect();
    let nodes = page_entities(ctx, &snapshot, held).await?;
    let edges: Vec<EntityEdge> = rows
        .into_iter()
        .zip(nodes)
        .map(|(row, node)| EntityEdge {
            cursor: EdgeCursor::List(ListCursor::new(
                signature.clone(),
                row.sort_keys,
                row.entity.entity_ref.to_string(),
            )),
            node,
        })
        .collect();
    Ok(connection(
        edges,
        has_next,
        has_previous,
        Counted::List(filter),
    ))
}

pub async fn search(
    ctx: &Context<'_>,
    text: &str,
    filter: Option<&EntityFilter>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<EntityConnection> {
    let limits = limits(ctx);
    let first = page_size(&limits, first)?;
    let filter = compile_in(ctx, filter).await?;
    let query = search_text(text)?;
    let after: Option<SearchCursor> = after.map(decode_page_cursor).transpose()?;
    if let Some(cursor) = &after {
        if cursor.query != query.raw {
            return Err(invalid_cursor(
                "the cursor belongs to a different search text",
            ));
        }
        if !cursor.score.is_finite() {
            return Err(invalid_cursor("the cursor is not one this query returned"));
        }
    }
    let snapshot = Loaders::snapshot(ctx)?;
    let page = snapshot.search(
        &query,
        &filter,
        usize::try_from(first).unwrap_or(0),
        after.as_ref().map(|c| (c.score, c.entity_ref.as_str())),
    );
    let held = page.rows.iter().map(|row| row.entity.clone()).collect();
    let nodes = page_entities(ctx, &snapshot, held).await?;
    let edges = page
        .rows
        .into_iter()
        .zip(nodes)
        .map(|(row, node)| EntityEdge {
            cursor: EdgeCursor::Search(SearchCursor::new(
                query.raw.clone(),
                row.score,
                row.entity.entity_ref.to_string(),
            )),
            node,
        })
        .collect();
    Ok(connection(
        edges,
        page.has_next,
        after.is_some(),
        Counted::Search(page.total),
    ))
}

fn connection(
    edges: Vec<EntityEdge>,
    has_next_page: bool,
    has_previous_page: bool,
    counted: Counted,
) -> EntityConnection {
    EntityConnection {
        page_info: PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: edges.first().map(|e| e.cursor.encode()),
            end_cursor: edges.last().map(|e| e.cursor.encode()),
        },
        edges,
        counted: Arc::new(counted),
    }
}
