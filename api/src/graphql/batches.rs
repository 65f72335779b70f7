//! The SQL side of the loaders, for what the in-memory catalog does not hold: one key
//! type per read, and how a batch of keys becomes one catalog statement. Entities by
//! ref here are only the whole rows of entities held elided in memory.

use almanac_store::catalog::{Catalog, CatalogError, EntityRecord, ProcessingErrorRecord};
use async_graphql::dataloader::Loader;
use std::collections::HashMap;
use std::sync::Arc;

type Error = Arc<CatalogError>;
type LoadResult<K, V> = std::result::Result<HashMap<K, V>, Error>;

/// An entity's whole row by canonical ref.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct EntityKey(pub String);

/// Processing errors naming an entity.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ErrorsKey(pub String);

pub struct CatalogLoader {
    pub(super) catalog: Catalog,
}

impl Loader<EntityKey> for CatalogLoader {
    type Value = Arc<EntityRecord>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[EntityKey]) -> LoadResult<EntityKey, Self::Value> {
        let refs: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = self.catalog.entities_by_ref(&refs).await?;
        Ok(rows
            .into_iter()
            .map(|row| (EntityKey(row.entity_ref.clone()), Arc::new(row)))
            .collect())
    }
}

impl Loader<ErrorsKey> for CatalogLoader {
    type Value = Arc<Vec<ProcessingErrorRecord>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[ErrorsKey]) -> LoadResult<ErrorsKey, Self::Value> {
        let refs: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut grouped: HashMap<String, Vec<ProcessingErrorRecord>> = HashMap::new();
        for row in self.catalog.processing_errors_of(&refs).await? {
            if let Some(entity_ref) = row.entity_ref.clone() {
                grouped.entry(entity_ref).or_default().push(row);
            }
        }
        Ok(keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    Arc::new(grouped.remove(&k.0).unwrap_or_default()),
                )
            })
            .collect())
    }
}
