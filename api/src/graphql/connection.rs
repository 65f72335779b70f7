//! Relay connections over entity lists and search results: opaque cursors,
//! page info, and a `totalCount` that is only counted when asked for.

use super::entity::Entity;
use super::filter::{order_keys, order_signature, search_text, EntityFilter, EntityOrder};
use super::ids::{decode_cursor, encode_cursor, ListCursor, SearchCursor};
use super::loaders::Loaders;
use crate::error::{ApiError, ErrorCode, Result};
use crate::limits::GraphqlLimits;
use almanac_store::catalog::{Filter, ListAfter, SearchAfter, TextQuery};
use async_graphql::{Context, Object, SimpleObject};
use std::sync::Arc;

#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// True when the page was asked for `after` a cursor.
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct EntityEdge {
    pub cursor: String,
    pub node: Entity,
}

/// What `totalCount` counts.
#[derive(Clone, Debug)]
enum Counted {
    List(Filter),
    Search(TextQuery, Filter),
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
    async fn nodes(&self) -> Vec<Entity> {
        self.edges.iter().map(|e| e.node.clone()).collect()
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// Every entity the filter keeps, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let catalog = Loaders::of(ctx)?.catalog();
        let count = match self.counted.as_ref() {
            Counted::List(filter) => catalog.count_entities(filter).await?,
            Counted::Search(text, filter) => catalog.count_search(text, filter).await?,
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

pub async fn list(
    ctx: &Context<'_>,
    filter: Option<&EntityFilter>,
    order_by: Option<&[EntityOrder]>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<EntityConnection> {
    let limits = limits(ctx);
    let first = page_size(&limits, first)?;
    let filter = EntityFilter::compile(filter, limits.max_filter_conditions)?;
    let order = order_keys(order_by)?;
    let signature = order_signature(&order);
    let after: Option<ListCursor> = after.map(decode_cursor).transpose()?;
    if let Some(cursor) = &after {
        if cursor.order != signature || cursor.sort_keys.len() != order.len() {
            return Err(ApiError::new(
                ErrorCode::InvalidCursor,
                "the cursor belongs to a different orderBy",
            ));
        }
    }
    let catalog = Loaders::of(ctx)?.catalog();
    let page = catalog
        .list_entities(
            &filter,
            &order,
            first,
            after.as_ref().map(|c| ListAfter {
                sort_keys: &c.sort_keys,
                entity_ref: &c.entity_ref,
            }),
        )
        .await?;
    let edges = page
        .rows
        .into_iter()
        .map(|row| EntityEdge {
            cursor: encode_cursor(&ListCursor {
                order: signature.clone(),
                sort_keys: row.sort_keys,
                entity_ref: row.entity.entity_ref.clone(),
            }),
            node: Entity::from_record(Arc::new(row.entity)),
        })
        .collect();
    Ok(connection(
        edges,
        page.has_next,
        after.is_some(),
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
    let filter = EntityFilter::compile(filter, limits.max_filter_conditions)?;
    let query = search_text(text)?;
    let after: Option<SearchCursor> = after.map(decode_cursor).transpose()?;
    if after.as_ref().is_some_and(|c| c.query != query.raw) {
        return Err(ApiError::new(
            ErrorCode::InvalidCursor,
            "the cursor belongs to a different search text",
        ));
    }
    let catalog = Loaders::of(ctx)?.catalog();
    let mut rows = catalog
        .search(
            &query,
            &filter,
            first,
            after.as_ref().map(|c| SearchAfter {
                score: c.score,
                entity_ref: &c.entity_ref,
            }),
        )
        .await?;
    let has_next = rows.len() as i64 > first;
    rows.truncate(first as usize);
    let edges = rows
        .into_iter()
        .map(|row| EntityEdge {
            cursor: encode_cursor(&SearchCursor {
                query: query.raw.clone(),
                score: row.score,
                entity_ref: row.entity.entity_ref.clone(),
            }),
            node: Entity::from_record(Arc::new(row.entity)),
        })
        .collect();
    Ok(connection(
        edges,
        has_next,
        after.is_some(),
        Counted::Search(query, filter),
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
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        counted: Arc::new(counted),
    }
}
