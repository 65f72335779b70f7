//! The request's reads of current state: entities by ref and every hop (relations,
//! owned entities, members, ancestors, dependency walks) from the operation's pinned
//! [`Snapshot`] of the in-memory catalog, synchronously: no batching window, no SQL.
//!
//! Only what the snapshot does not hold goes to PostgreSQL, through a `DataLoader`
//! (see `batches`) and a memo, so a page's keys load in one statement and each key
//! once per request: the processing errors of an entity (operational state, not in
//! the log) and the whole row of an entity held elided ([`Loaders::full_record`], the
//! one narrow path for large descriptors). A fresh set is made for each operation (by
//! the gate): nothing cached here outlives the request that filled it, except what
//! the server's own caches hold (full descriptors, recent walks: `descriptors`, `walks`).

pub use super::batches::{CatalogLoader, EntityKey, ErrorsKey};
use super::descriptors::DescriptorCache;
use super::entity::{Entity, EntityData};
use super::gate::Pinned;
use super::memo::Memo;
use super::walks::RecentWalks;
use crate::error::{ApiError, Result};
use crate::limits::GraphqlLimits;
use almanac_readmodel::{Direction, Entity as HeldEntity, Snapshot, Walk, WalkLimits};
use almanac_store::catalog::{Catalog, CatalogError, EntityRecord, ProcessingErrorRecord};
use almanac_store::follow::{entity_record_with, Followed};
use almanac_store::history::PointInTime;
use almanac_store::EventLog;
use async_graphql::dataloader::DataLoader;
use async_graphql::Context;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Batched = DataLoader<CatalogLoader>;
type Error = Arc<CatalogError>;

/// A dependency walk as asked: the root, the direction, API hops and depth.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct WalkKey {
    pub root: String,
    pub direction: Direction,
    pub via_apis: bool,
    pub depth: u32,
}

/// The request's loaders (found in the GraphQL context).
#[derive(Clone)]
pub struct Loaders(Arc<Inner>);

struct Inner {
    batched: Arc<Batched>,
    /// The log, to fold an elided entity at the snapshot's version when the SQL row
    /// is at another one.
    log: Option<EventLog>,
    /// The server's cache of full descriptors (across requests, within its budget).
    descriptors: Option<Arc<DescriptorCache>>,
    /// The server's recent walks (across requests).
    recent_walks: Option<Arc<RecentWalks>>,
    limits: GraphqlLimits,
    full: Memo<String, Option<Arc<EntityRecord>>, Error>,
    errors: Memo<String, Option<Arc<Vec<ProcessingErrorRecord>>>, Error>,
    /// Walks by snapshot position and key: `dependencies` and `dependencyGraph` of
    /// one entity with the same arguments walk once.
    walks: Mutex<HashMap<(i64, WalkKey), Arc<Walk>>>,
}

/// One key through the memo, then the batch.
macro_rules! load {
    ($self:ident, $memo:ident, $key:expr, $batch_key:expr) => {{
        let batched = $self.0.batched.clone();
        let key = $key;
        let batch_key = $batch_key;
        $self
            .0
            .$memo
            .get(
                key,
                move || async move { batched.load_one(batch_key).await },
            )
            .await?
    }};
}

impl Loaders {
    pub fn new(
        catalog: Catalog,
        log: Option<EventLog>,
        descriptors: Option<Arc<DescriptorCache>>,
        recent_walks: Option<Arc<RecentWalks>>,
        limits: GraphqlLimits,
    ) -> Self {
        // No DataLoader cache: the memos hold every value, in flight included.
        let window = limits.batch_window();
        let batched = DataLoader::new(CatalogLoader { catalog }, tokio::spawn).delay(window);
        Loaders(Arc::new(Inner {
            batched: Arc::new(batched),
            log,
            descriptors,
            recent_walks,
            limits,
            full: Memo::default(),
            errors: Memo::default(),
            walks: Mutex::default(),
        }))
    }

    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
        ctx.data::<Loaders>().map_err(|_| {
            ApiError::internal(std::io::Error::other(
                "request loaders missing from context",
            ))
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.0.batched.loader().catalog
    }

    /// The snapshot the operation reads: the one the gate pinned for a query or
    /// mutation; in a subscription (which pins none, so as not to hold an old
    /// catalog for its whole life) the newest, taken at each call — an entity keeps
    /// the snapshot it came from for its own hops. An error on a server that does not
    /// follow the log (every server built with `AppState::with_follower` does).
    pub fn snapshot(ctx: &Context<'_>) -> Result<Snapshot> {
        if let Some(pinned) = ctx.data_opt::<Pinned>().and_then(Pinned::snapshot) {
            return Ok(pinned.clone());
        }
        match ctx.data_opt::<Followed>() {
            Some(followed) => Ok(followed.pin()),
            None => Err(ApiError::internal(std::io::Error::other(
                "this server does not follow the log into memory (AppState::with_follower), \
                 which current-state reads need",
            ))),
        }
    }

    /// An entity of `snapshot` as the API holds it; read whole from PostgreSQL when
    /// the snapshot holds it elided.
    pub async fn data(&self, snapshot: &Snapshot, entity: Arc<HeldEntity>) -> Result<EntityData> {
        let full = if entity.elided {
            // Boxed: the SQL path's future is large, and every hop's future (owner,
            // system, ...) would otherwise hold it inline, rarely as it runs.
            Box::pin(self.full_record(&entity)).await?
        } else {
            None
        };
        Ok(EntityData::followed(snapshot.clone(), entity, full))
    }

    /// [`Loaders::data`] for several entities, in order (the elided ones in one batch).
    pub async fn all(
        &self,
        snapshot: &Snapshot,
        entities: Vec<Arc<HeldEntity>>,
    ) -> Result<Vec<EntityData>> {
        if entities.iter().all(|e| !e.elided) {
            return Ok(entities
                .into_iter()
                .map(|e| EntityData::followed(snapshot.clone(), e, None))
                .collect());
        }
        futures::future::try_join_all(entities.into_iter().map(|e| self.data(snapshot, e))).await
    }

    /// The entity `entity_ref` (canonical) names in `snapshot`, if it is there.
    pub async fn entity_in(
        &self,
        snapshot: &Snapshot,
        entity_ref: &str,
    ) -> Result<Option<EntityData>> {
        match snapshot.entity(entity_ref) {
            Some(entity) => Ok(Some(self.data(snapshot, entity.clone()).await?)),
            None => Ok(None),
        }
    }

    /// The entity `entity_ref` (canonical) names in the operation's snapshot.
    pub async fn current(ctx: &Context<'_>, entity_ref: &str) -> Result<Option<Entity>> {
        let snapshot = Self::snapshot(ctx)?;
        let found = Self::of(ctx)?.entity_in(&snapshot, entity_ref).await?;
        Ok(found.map(Entity::from_data))
    }

    /// The whole row of an entity whose descriptor the snapshot holds elided (large
    /// leaves as stubs): the one place a current entity is read from PostgreSQL. From
    /// the server's descriptor cache (keyed by ref and version, so never stale); else
    /// the projected row when it is at the snapshot's version; else — the projector
    /// behind or ahead of this snapshot, or unable to store the row — the entity at
    /// that version folded from its stream, so fields never mix two versions. None
    /// only when neither has it: the caller keeps the held form.
    pub async fn full_record(&self, entity: &HeldEntity) -> Result<Option<Arc<EntityRecord>>> {
        let cache = self.0.descriptors.as_deref();
        let held = cache.and_then(|cache| cache.get(&entity.entity_ref, entity.version));
        if let Some(descriptor) = held.and_then(|text| serde_json::from_str(&text).ok()) {
            return Ok(Some(Arc::new(entity_record_with(entity, descriptor))));
        }
        let found = self.record_at_version(entity).await?;
        if let (Some(cache), Some(record)) = (cache, &found) {
            let text = Arc::from(record.descriptor.to_string());
            cache.insert(&entity.entity_ref, entity.version, text);
        }
        Ok(found)
    }

    /// The row of `entity` at its snapshot version: the projected row when it is at
    /// that version (one statement for a page), else folded from its stream.
    async fn record_at_version(&self, entity: &HeldEntity) -> Result<Option<Arc<EntityRecord>>> {
        let entity_ref = entity.entity_ref.to_string();
        let row = load!(self, full, entity_ref.clone(), EntityKey(entity_ref));
        if let Some(row) = row.filter(|row| row.version == entity.version) {
            return Ok(Some(row));
        }
        let Some(log) = &self.0.log else {
            return Ok(None);
        };
        let then = log
            .snapshot(&entity.entity_ref, PointInTime::Version(entity.version))
            .await?;
        Ok(then.map(|then| Arc::new(then.record)))
    }

    pub async fn errors(&self, entity_ref: &str) -> Result<Arc<Vec<ProcessingErrorRecord>>> {
        let found = load!(
            self,
            errors,
            entity_ref.to_string(),
            ErrorsKey(entity_ref.to_string())
        );
        Ok(found.unwrap_or_default())
    }

    /// The dependency walk `key` describes over `snapshot`: once per request, and
    /// from the server's recent walks when another request walked it already.
    pub fn walk(&self, snapshot: &Snapshot, key: WalkKey) -> Arc<Walk> {
        let memo_key = (snapshot.position(), key);
        // A poisoned map only means another field panicked; its entries are still sound.
        let cached = {
            let walks = self.0.walks.lock().unwrap_or_else(|e| e.into_inner());
            walks.get(&memo_key).cloned()
        };
        if let Some(walk) = cached {
            return walk;
        }
        let shared = self
            .0
            .recent_walks
            .as_ref()
            .and_then(|recent| recent.get(&memo_key));
        let walk = match shared {
            Some(walk) => walk,
            None => {
                let key = &memo_key.1;
                let limits = WalkLimits {
                    max_depth: key.depth,
                    max_nodes: self.0.limits.max_walk_nodes,
                };
                let walk = Arc::new(snapshot.walk_dependencies(
                    &key.root,
                    key.direction,
                    key.via_apis,
                    limits,
                ));
                if let Some(recent) = &self.0.recent_walks {
                    recent.put(memo_key.clone(), walk.clone());
                }
                walk
            }
        };
        let mut walks = self.0.walks.lock().unwrap_or_else(|e| e.into_inner());
        walks.insert(memo_key, walk.clone());
        walk
    }
}
