//! The batch side of the loaders: one key type per hop, and how a batch of
//! keys becomes one catalog statement (a few for walks: one per level).

use crate::limits::GraphqlLimits;
use almanac_store::catalog::{
    Catalog, CatalogError, Direction, EntityRecord, OwnedScope, ProcessingErrorRecord,
    RelationRecord, Rooted, Walk, WalkLimits,
};
use async_graphql::dataloader::Loader;
use std::collections::HashMap;
use std::sync::Arc;

type Error = Arc<CatalogError>;
type LoadResult<K, V> = std::result::Result<HashMap<K, V>, Error>;

/// An entity by canonical ref.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct EntityKey(pub String);

/// Every edge leaving an entity.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RelationsKey(pub String);

/// Processing errors naming an entity.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ErrorsKey(pub String);

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct OwnedKey(pub String, pub OwnedScope);

/// A group's members; `true` adds those of its subgroups.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct MembersKey(pub String, pub bool);

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AncestorsKey(pub String);

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct WalkKey {
    pub root: String,
    pub direction: Direction,
    pub via_apis: bool,
    pub depth: u32,
}

pub struct CatalogLoader {
    pub(super) catalog: Catalog,
    pub(super) limits: GraphqlLimits,
}

/// Groups `(root, row)` pairs by root, keeping every asked key present.
fn by_root<K: std::hash::Hash + Eq + Clone>(
    keys: &[K],
    root_of: impl Fn(&K) -> &str,
    rows: impl IntoIterator<Item = (String, EntityRecord)>,
) -> HashMap<K, Arc<Vec<Arc<EntityRecord>>>> {
    let mut grouped: HashMap<String, Vec<Arc<EntityRecord>>> = HashMap::new();
    for (root, entity) in rows {
        grouped.entry(root).or_default().push(Arc::new(entity));
    }
    keys.iter()
        .map(|k| {
            let rows = grouped.get(root_of(k)).cloned().unwrap_or_default();
            (k.clone(), Arc::new(rows))
        })
        .collect()
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

impl Loader<RelationsKey> for CatalogLoader {
    type Value = Arc<Vec<RelationRecord>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[RelationsKey]) -> LoadResult<RelationsKey, Self::Value> {
        let sources: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let mut grouped: HashMap<String, Vec<RelationRecord>> = HashMap::new();
        for row in self.catalog.relations_from(&sources).await? {
            grouped.entry(row.source_ref.clone()).or_default().push(row);
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

impl Loader<OwnedKey> for CatalogLoader {
    type Value = Arc<Vec<Arc<EntityRecord>>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[OwnedKey]) -> LoadResult<OwnedKey, Self::Value> {
        let scopes = [
            OwnedScope::Direct,
            OwnedScope::Subgroups,
            OwnedScope::Memberships,
        ];
        per_variant(
            keys,
            scopes,
            |k| (&k.0, k.1),
            |roots, scope| async move { self.catalog.owned_entities(&roots, scope).await },
        )
        .await
    }
}

impl Loader<MembersKey> for CatalogLoader {
    type Value = Arc<Vec<Arc<EntityRecord>>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[MembersKey]) -> LoadResult<MembersKey, Self::Value> {
        per_variant(
            keys,
            [false, true],
            |k| (&k.0, k.1),
            |roots, transitive| async move { self.catalog.members(&roots, transitive).await },
        )
        .await
    }
}

/// Keys that pair a root ref with a variant of one query (a scope, a flag): one
/// statement per variant present in the batch, rows grouped back by root.
async fn per_variant<K, V, F, Fut>(
    keys: &[K],
    variants: impl IntoIterator<Item = V>,
    parts: impl Fn(&K) -> (&String, V),
    fetch: F,
) -> LoadResult<K, Arc<Vec<Arc<EntityRecord>>>>
where
    K: std::hash::Hash + Eq + Clone,
    V: PartialEq + Copy,
    F: Fn(Vec<String>, V) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Rooted>, CatalogError>>,
{
    let mut out = HashMap::new();
    for variant in variants {
        let batch: Vec<K> = keys
            .iter()
            .filter(|k| parts(k).1 == variant)
            .cloned()
            .collect();
        if batch.is_empty() {
            continue;
        }
        let roots: Vec<String> = batch.iter().map(|k| parts(k).0.clone()).collect();
        let rows = fetch(roots, variant).await?;
        out.extend(by_root(
            &batch,
            |k| parts(k).0,
            rows.into_iter().map(|r| (r.root, r.entity)),
        ));
    }
    Ok(out)
}

impl Loader<AncestorsKey> for CatalogLoader {
    type Value = Arc<Vec<Arc<EntityRecord>>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[AncestorsKey]) -> LoadResult<AncestorsKey, Self::Value> {
        let roots: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = self.catalog.ancestors(&roots).await?;
        // Rows come nearest first per root; by_root keeps that order.
        Ok(by_root(
            keys,
            |k| &k.0,
            rows.into_iter().map(|r| (r.root, r.entity)),
        ))
    }
}

impl Loader<WalkKey> for CatalogLoader {
    type Value = Arc<Walk>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[WalkKey]) -> LoadResult<WalkKey, Self::Value> {
        // Walks sharing direction, API hops and depth run together.
        let mut groups: HashMap<(Direction, bool, u32), Vec<&WalkKey>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.direction, key.via_apis, key.depth))
                .or_default()
                .push(key);
        }
        let mut out = HashMap::new();
        for ((direction, via_apis, depth), batch) in groups {
            let roots: Vec<String> = batch.iter().map(|k| k.root.clone()).collect();
            let limits = WalkLimits {
                max_depth: depth,
                max_nodes: self.limits.max_walk_nodes,
            };
            let mut walks = self
                .catalog
                .walk_dependencies(&roots, direction, via_apis, limits)
                .await?;
            for key in batch {
                let walk = walks.remove(&key.root).unwrap_or_default();
                out.insert(key.clone(), Arc::new(walk));
            }
        }
        Ok(out)
    }
}
