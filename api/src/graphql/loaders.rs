//! Per-request batching: every entity-by-ref and relation hop goes through one
//! `DataLoader` (see `batches`), so the fields of a whole page load in a few
//! statements, and through a memo, so each key is loaded once per request. A
//! fresh set is made for each operation (by the gate): nothing cached outlives
//! the request that filled it.

pub use super::batches::{
    AncestorsKey, CatalogLoader, EntityKey, ErrorsKey, MembersKey, OwnedKey, RelationsKey, WalkKey,
};
use super::memo::Memo;
use crate::error::{ApiError, Result};
use crate::limits::GraphqlLimits;
use almanac_store::catalog::{
    Catalog, CatalogError, EntityRecord, ProcessingErrorRecord, RelationRecord, Walk,
};
use async_graphql::dataloader::DataLoader;
use async_graphql::Context;
use std::sync::Arc;

type Batched = DataLoader<CatalogLoader>;
type Rows = Arc<Vec<Arc<EntityRecord>>>;
type Error = Arc<CatalogError>;

/// The request's loaders (found in the GraphQL context).
#[derive(Clone)]
pub struct Loaders(Arc<Inner>);

struct Inner {
    batched: Arc<Batched>,
    entities: Memo<String, Option<Arc<EntityRecord>>, Error>,
    relations: Memo<String, Option<Arc<Vec<RelationRecord>>>, Error>,
    errors: Memo<String, Option<Arc<Vec<ProcessingErrorRecord>>>, Error>,
    owned: Memo<OwnedKey, Option<Rows>, Error>,
    members: Memo<MembersKey, Option<Rows>, Error>,
    ancestors: Memo<String, Option<Rows>, Error>,
    walks: Memo<WalkKey, Option<Arc<Walk>>, Error>,
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
    pub fn new(catalog: Catalog, limits: GraphqlLimits) -> Self {
        // No DataLoader cache: the memos hold every value, in flight included.
        let window = limits.batch_window();
        let batched =
            DataLoader::new(CatalogLoader { catalog, limits }, tokio::spawn).delay(window);
        Loaders(Arc::new(Inner {
            batched: Arc::new(batched),
            entities: Memo::default(),
            relations: Memo::default(),
            errors: Memo::default(),
            owned: Memo::default(),
            members: Memo::default(),
            ancestors: Memo::default(),
            walks: Memo::default(),
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

    pub async fn entity(&self, entity_ref: &str) -> Result<Option<Arc<EntityRecord>>> {
        Ok(load!(
            self,
            entities,
            entity_ref.to_string(),
            EntityKey(entity_ref.to_string())
        ))
    }

    /// The entities that exist among `refs`, in the order given.
    pub async fn entities(&self, refs: &[String]) -> Result<Vec<Arc<EntityRecord>>> {
        let found = futures::future::try_join_all(refs.iter().map(|r| self.entity(r))).await?;
        Ok(found.into_iter().flatten().collect())
    }

    pub async fn relations(&self, source: &str) -> Result<Arc<Vec<RelationRecord>>> {
        let found = load!(
            self,
            relations,
            source.to_string(),
            RelationsKey(source.to_string())
        );
        Ok(found.unwrap_or_default())
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

    pub async fn owned(&self, key: OwnedKey) -> Result<Rows> {
        Ok(load!(self, owned, key.clone(), key).unwrap_or_default())
    }

    pub async fn members(&self, key: MembersKey) -> Result<Rows> {
        Ok(load!(self, members, key.clone(), key).unwrap_or_default())
    }

    pub async fn ancestors(&self, group: &str) -> Result<Rows> {
        let found = load!(
            self,
            ancestors,
            group.to_string(),
            AncestorsKey(group.to_string())
        );
        Ok(found.unwrap_or_default())
    }

    pub async fn walk(&self, key: WalkKey) -> Result<Arc<Walk>> {
        Ok(load!(self, walks, key.clone(), key).unwrap_or_default())
    }
}
