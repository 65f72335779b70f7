//! The query root: entities by ref, id, list, search and facets; ownership;
//! and the operational views (locations, processing errors, conflicts).

use super::closed;
use super::connection::{self, page_size, EntityConnection};
use super::entity::{Entity, Node, ProcessingError};
use super::filter::{canonical_ref, compile_in, EntityFilter, EntityOrder, FacetField};
use super::history::{self, Change, EventFilter, HistoryEventConnection, IntegrityReport};
use super::loaders::Loaders;
use super::operational::{CatalogLocation, EntityConflict};
use super::ownership::Ownership;
use super::paged::{self, Connection};
use crate::error::{ApiError, Result};
use crate::limits::GraphqlLimits;
use almanac_readmodel::FieldPath;
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

pub struct Query;

/// One value of a facet and how many entities have it.
#[derive(Clone, Debug, SimpleObject)]
pub struct Facet {
    pub value: String,
    pub count: i32,
}

fn limits(ctx: &Context<'_>) -> GraphqlLimits {
    ctx.data::<GraphqlLimits>().cloned().unwrap_or_default()
}

/// The entity a ref names, from the operation's snapshot. A ref without a kind is
/// refused (`INVALID_REF`): names are unique per kind only, so guessing one would be
/// wrong half the time.
async fn entity_by_ref(ctx: &Context<'_>, text: &str) -> Result<Option<Entity>> {
    let canonical = canonical_ref(text, None)?;
    current_or_report(ctx, &canonical).await
}

/// The entity `canonical` names now; when none does, null, and the response's
/// `extensions.notFound` says so with the nearest refs.
async fn current_or_report(ctx: &Context<'_>, canonical: &str) -> Result<Option<Entity>> {
    let found = Loaders::current(ctx, canonical).await?;
    if found.is_none() {
        closed::report_missing(ctx, &Loaders::snapshot(ctx)?, canonical);
    }
    Ok(found)
}

async fn node_by_id(ctx: &Context<'_>, id: &str) -> Result<Option<Node>> {
    super::nodes::node(ctx, id).await
}

#[Object]
impl Query {
    /// Fetches any object by its global `id`.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        node_by_id(ctx, &id).await
    }

    /// Fetches several objects by id, in order; null for the unknown ones.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let max = limits(ctx).max_page_size;
        if ids.len() > max as usize {
            return Err(ApiError::new(
                crate::error::ErrorCode::PageSizeExceeded,
                format!("at most {max} ids per call"),
            ));
        }
        let lookups = ids.iter().map(|id| node_by_id(ctx, id));
        futures::future::try_join_all(lookups).await
    }

    /// Entities by ref, in the order given, null where no entity has that ref
    /// (Backstage's `/entities/by-refs`): a portal resolves a list of refs in
    /// one request. Refs are read as in `entity(ref:)` (kind required); at most
    /// `graphql.max_page_size` refs per call (`PAGE_SIZE_EXCEEDED` beyond).
    /// All from one snapshot, so the answers are consistent with each other.
    #[graphql(complexity = "refs.len() * child_complexity + 1")]
    async fn entities_by_refs(
        &self,
        ctx: &Context<'_>,
        refs: Vec<String>,
    ) -> Result<Vec<Option<Entity>>> {
        let max = limits(ctx).max_page_size;
        if refs.len() > usize::try_from(max).unwrap_or(0) {
            return Err(ApiError::new(
                crate::error::ErrorCode::PageSizeExceeded,
                format!(
                    "{} refs given; at most {max} refs per call (graphql.max_page_size)",
                    refs.len()
                ),
            ));
        }
        let canonical = refs
            .iter()
            .map(|text| canonical_ref(text, None))
            .collect::<Result<Vec<_>>>()?;
        let lookups = canonical.iter().map(|r| current_or_report(ctx, r));
        futures::future::try_join_all(lookups).await
    }

    /// An entity by ref, case-insensitively: `kind:[namespace/]name`, the
    /// namespace defaulting to `default`. The kind is required (`INVALID_REF`
    /// without it). Null when there is no such entity.
    ///
    /// Time travel: with `asOf` (a time) or `version` (one of the entity's
    /// versions), the entity as it was then, folded from its events, also when
    /// it has been removed since; null before it existed, while it was removed,
    /// or for a version it never had. Of such a snapshot, the descriptor
    /// fields (`spec`, `title`, `tags`, `owner`'s ref, ...), `version`,
    /// `createdAt`, `updatedAt` and `relations` are as of then; `relations`
    /// lists only what its own descriptor declared (no inverses declared by
    /// others). Hops to other entities (`relations.target`, `owner`, ...)
    /// reach them as they are now; `errors`, `history` and the group walks
    /// (`members`, `ownedEntities`, `ancestors`) are today's.
    async fn entity(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
        as_of: Option<DateTime<Utc>>,
        version: Option<i32>,
    ) -> Result<Option<Entity>> {
        if as_of.is_none() && version.is_none() {
            return entity_by_ref(ctx, &entity_ref).await;
        }
        let canonical = canonical_ref(&entity_ref, None)?;
        history::entity_then(ctx, &canonical, as_of, version).await
    }

    /// The changes that turn version `fromVersion` of an entity into version
    /// `toVersion` (either way round; version 0 is "before it existed", and a
    /// removed state counts as null).
    async fn entity_diff(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
        from_version: i32,
        to_version: i32,
    ) -> Result<Vec<Change>> {
        let canonical = canonical_ref(&entity_ref, None)?;
        history::entity_diff(ctx, &canonical, from_version, to_version).await
    }

    /// The audit feed: every event of the log in position order, narrowed by
    /// `filter`. Cursors stay valid while new events arrive: walking on
    /// reaches every later event, none twice.
    #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<HistoryEventConnection> {
        history::events_page(ctx, filter.as_ref(), first, after.as_deref()).await
    }

    /// Recomputes the hash chain of one entity's stream from the stored rows;
    /// `breaks` names the first link that does not hold.
    async fn verify_integrity(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
    ) -> Result<IntegrityReport> {
        let canonical = canonical_ref(&entity_ref, None)?;
        history::verify_integrity(ctx, &canonical).await
    }

    /// A page of entities. Default order: name, then ref. Cursors are opaque
    /// and tied to the `orderBy` they came from. `first`/`after` pages forward;
    /// `last`/`before` backward (the `last` rows before the cursor `before`, or
    /// at the end), not both at once.
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1"
    )]
    // Relay's four paging arguments beside filter and order.
    #[allow(clippy::too_many_arguments)]
    async fn entities(
        &self,
        ctx: &Context<'_>,
        filter: Option<EntityFilter>,
        order_by: Option<Vec<EntityOrder>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<EntityConnection> {
        let paging = connection::Paging::of(first, after.as_deref(), last, before.as_deref())?;
        connection::list(ctx, filter.as_ref(), order_by.as_deref(), paging).await
    }

    /// Ranked search over name, title, description and tags: whole words,
    /// prefixes (as you type) and near misses.
    #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        text: String,
        filter: Option<EntityFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<EntityConnection> {
        connection::search(ctx, &text, filter.as_ref(), first, after.as_deref()).await
    }

    /// The values of `field`, or at a dotted `path` (as `EntityFilter.path`
    /// reads it: `metadata.labels.tier`, `spec.lifecycle`), among the entities
    /// `filter` keeps, most common first, then by value; exactly one of `field`
    /// and `path`. A path's values are strings as written and numbers and
    /// booleans as JSON writes them, each counted once per entity; objects and
    /// spec strings over 4 KiB (held elided) are not values.
    async fn facets(
        &self,
        ctx: &Context<'_>,
        field: Option<FacetField>,
        path: Option<String>,
        filter: Option<EntityFilter>,
        first: Option<i32>,
    ) -> Result<Vec<Facet>> {
        let limits = limits(ctx);
        let first = page_size(&limits, first.or(Some(limits.max_page_size)))?;
        let first = usize::try_from(first).unwrap_or(0);
        let path = path
            .map(|path| {
                FieldPath::parse(&path).map_err(|err| ApiError::invalid(format!("path: {err}")))
            })
            .transpose()?;
        let filter = compile_in(ctx, filter.as_ref()).await?;
        let snapshot = Loaders::snapshot(ctx)?;
        let facets = match (field, path) {
            (Some(field), None) => snapshot.facets(field.into(), &filter, first),
            (None, Some(path)) => snapshot.path_facets(&path, &filter, first),
            _ => {
                return Err(ApiError::invalid(
                    "facets takes exactly one of field and path",
                ))
            }
        };
        Ok(facets
            .into_iter()
            .map(|f| Facet {
                value: f.value,
                count: i32::try_from(f.count).unwrap_or(i32::MAX),
            })
            .collect())
    }

    /// Who owns an entity and how to reach them. Null when there is no such entity.
    async fn ownership(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
    ) -> Result<Option<Ownership>> {
        let canonical = canonical_ref(&entity_ref, None)?;
        let snapshot = Loaders::snapshot(ctx)?;
        let loaders = Loaders::of(ctx)?;
        let Some(entity) = loaders.entity_in(&snapshot, &canonical).await? else {
            return Ok(None);
        };
        let owner = match entity.owner_ref() {
            Some(owner) => loaders.entity_in(&snapshot, owner).await?,
            None => None,
        };
        Ok(Some(Ownership { entity, owner }))
    }

    /// The locations the catalog reads, oldest first.
    #[graphql(deprecation = "unbounded; use locationsConnection(first, after)")]
    async fn locations(&self, ctx: &Context<'_>) -> Result<Vec<CatalogLocation>> {
        let rows = Loaders::of(ctx)?.catalog().locations().await?;
        Ok(rows.into_iter().map(CatalogLocation::from).collect())
    }

    /// What the last read of each source could not accept, newest first.
    #[graphql(deprecation = "no cursors; use processingErrorsConnection(source, first, after)")]
    async fn processing_errors(
        &self,
        ctx: &Context<'_>,
        source: Option<String>,
        first: Option<i32>,
    ) -> Result<Vec<ProcessingError>> {
        let first = page_size(&limits(ctx), first)?;
        let rows = Loaders::of(ctx)?
            .catalog()
            .processing_errors(source.as_deref(), first)
            .await?;
        Ok(rows.iter().map(ProcessingError::from).collect())
    }

    /// Entities two sources claim, most recently seen first.
    #[graphql(deprecation = "no cursors; use conflictsConnection(first, after)")]
    async fn conflicts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<EntityConflict>> {
        let first = page_size(&limits(ctx), first)?;
        let rows = Loaders::of(ctx)?.catalog().conflicts(first).await?;
        Ok(rows.into_iter().map(EntityConflict::from).collect())
    }

    /// The locations the catalog reads, oldest first, a page with the total.
    #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
    async fn locations_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<CatalogLocation>> {
        let rows = Loaders::of(ctx)?.catalog().locations().await?;
        let mut all: Vec<CatalogLocation> = rows.into_iter().map(CatalogLocation::from).collect();
        paged::sort_by_key(&mut all);
        let window = paged::window(ctx, "locations", all, first, after.as_deref())?;
        Ok(window.connection(Vec::new(), |l| l))
    }

    /// What the last read of each source could not accept (of one `source` when
    /// given), newest first, a page with the total.
    #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
    async fn processing_errors_connection(
        &self,
        ctx: &Context<'_>,
        source: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<ProcessingError>> {
        // The operational table is small (one read's errors per source): read whole.
        let rows = Loaders::of(ctx)?
            .catalog()
            .processing_errors(source.as_deref(), i64::MAX)
            .await?;
        let mut all: Vec<ProcessingError> = rows.iter().map(ProcessingError::from).collect();
        paged::sort_by_key(&mut all);
        let window = paged::window(ctx, "processingErrors", all, first, after.as_deref())?;
        Ok(window.connection(Vec::new(), |e| e))
    }

    /// Entities two sources claim, most recently seen first, a page with the total.
    #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
    async fn conflicts_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<EntityConflict>> {
        let rows = Loaders::of(ctx)?.catalog().conflicts(i64::MAX).await?;
        let mut all: Vec<EntityConflict> = rows.into_iter().map(EntityConflict::from).collect();
        paged::sort_by_key(&mut all);
        let window = paged::window(ctx, "conflicts", all, first, after.as_deref())?;
        Ok(window.connection(Vec::new(), |c| c))
    }
}
