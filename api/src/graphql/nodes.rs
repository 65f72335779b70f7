//! Global ids of what is not a live entity, and `node(id:)` for every kind of
//! id: an entity (`<Type>:<ref>`), an entity as it was (`<Type>:<ref>@<version>`:
//! a snapshot of the past is another object than the live entity, so a client
//! cache keeps both), a node of a dependency graph (the walk's root and
//! arguments and the node's ref: the same entity in two graphs is two nodes),
//! and a catalog location (its location id).
//!
//! It does not make ids for value objects that no client needs to refetch
//! (relations, facets, edges): those have no `id` field at all.

use super::dependencies::{self, DependencyDirection, DependencyNode};
use super::entity::{Entity, Node};
use super::ids::{decode_id, encode_id};
use super::loaders::Loaders;
use super::operational::CatalogLocation;
use crate::error::Result;
use almanac_store::catalog::kind_of_ref;
use async_graphql::{Context, ID};
use serde::{Deserialize, Serialize};

/// The GraphQL object type of an entity of `kind` (any case).
pub fn entity_type_name(kind: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("component", "Component"),
        ("api", "Api"),
        ("resource", "Resource"),
        ("system", "System"),
        ("domain", "Domain"),
        ("group", "Group"),
        ("user", "User"),
        ("location", "Location"),
        ("template", "Template"),
    ];
    TYPES
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(kind))
        .map_or("GenericEntity", |(_, type_name)| type_name)
}

/// The global id of the live entity `entity_ref` (canonical) names: also the id
/// a removal reports, so a client can drop what it cached under it.
pub fn entity_id(entity_ref: &str) -> ID {
    ID(encode_id(
        entity_type_name(kind_of_ref(entity_ref)),
        entity_ref,
    ))
}

/// The key of an entity's state at `version` (refs hold no `@`).
pub fn snapshot_key(entity_ref: &str, version: i64) -> String {
    format!("{entity_ref}@{version}")
}

/// A dependency graph node's id: the walk that reached it and its ref.
#[derive(Serialize, Deserialize)]
pub struct GraphNodeKey {
    /// The walk's root.
    #[serde(rename = "r")]
    pub root: String,
    #[serde(rename = "i")]
    pub incoming: bool,
    #[serde(rename = "d")]
    pub depth: Option<i32>,
    #[serde(rename = "k")]
    pub kinds: Option<Vec<String>>,
    #[serde(rename = "a")]
    pub via_apis: bool,
    /// The node's entity.
    #[serde(rename = "e")]
    pub entity_ref: String,
}

pub const DEPENDENCY_NODE: &str = "DependencyNode";
pub const CATALOG_LOCATION: &str = "CatalogLocation";

impl GraphNodeKey {
    /// The key of a graph's nodes, as its arguments were given (kinds sorted and
    /// lower-cased, so their order does not make another graph).
    pub fn new(
        root: &str,
        depth: Option<i32>,
        direction: Option<DependencyDirection>,
        kinds: &Option<Vec<String>>,
        via_apis: Option<bool>,
    ) -> Self {
        let kinds = kinds.as_ref().map(|kinds| {
            let mut kinds: Vec<String> = kinds.iter().map(|k| k.to_lowercase()).collect();
            kinds.sort();
            kinds.dedup();
            kinds
        });
        GraphNodeKey {
            root: root.to_string(),
            incoming: direction == Some(DependencyDirection::Incoming),
            depth,
            kinds,
            via_apis: via_apis.unwrap_or(false),
            entity_ref: String::new(),
        }
    }

    /// The id of the node for `entity_ref` in this graph.
    pub fn id_of(&mut self, entity_ref: &str) -> ID {
        entity_ref.clone_into(&mut self.entity_ref);
        ID(encode_id(
            DEPENDENCY_NODE,
            // A plain struct of strings: serialising cannot fail.
            &serde_json::to_string(self).unwrap_or_default(),
        ))
    }
}

pub fn location_id(location_id: &str) -> ID {
    ID(encode_id(CATALOG_LOCATION, location_id))
}

/// A location's own id from what a client passed: its global id or the
/// location id itself.
pub fn location_key(id: &str) -> String {
    match decode_id(id) {
        Ok((type_name, key)) if type_name == CATALOG_LOCATION => key,
        _ => id.to_string(),
    }
}

/// The object a global id names, as of the operation's snapshot; null when it
/// is gone (or, for a graph node, no longer reached by its walk).
pub async fn node(ctx: &Context<'_>, id: &str) -> Result<Option<Node>> {
    let (type_name, key) = decode_id(id)?;
    match type_name.as_str() {
        DEPENDENCY_NODE => {
            let Ok(key) = serde_json::from_str::<GraphNodeKey>(&key) else {
                return Ok(None);
            };
            graph_node(ctx, key)
                .await
                .map(|node| node.map(Node::DependencyNode))
        }
        CATALOG_LOCATION => {
            let rows = Loaders::of(ctx)?.catalog().locations_by_id(&[key]).await?;
            Ok(rows
                .into_iter()
                .next()
                .map(|row| Node::CatalogLocation(CatalogLocation::from(row))))
        }
        _ => {
            let entity = match key.rsplit_once('@') {
                Some((entity_ref, version)) => match version.parse::<i32>() {
                    Ok(version) => {
                        super::history::entity_then(ctx, entity_ref, None, Some(version)).await?
                    }
                    Err(_) => None,
                },
                None => Loaders::current(ctx, &key).await?,
            };
            // An id names one type: the same key under another type is not this node.
            Ok(entity
                .filter(|e: &Entity| e.type_name() == type_name)
                .map(Node::from))
        }
    }
}

async fn graph_node(ctx: &Context<'_>, key: GraphNodeKey) -> Result<Option<DependencyNode>> {
    let Some(root) = Loaders::current(ctx, &key.root).await? else {
        return Ok(None);
    };
    let direction = if key.incoming {
        DependencyDirection::Incoming
    } else {
        DependencyDirection::Outgoing
    };
    let graph = dependencies::dependency_graph(
        root.data(),
        ctx,
        key.depth,
        Some(direction),
        key.kinds,
        Some(key.via_apis),
    )
    .await?;
    Ok(graph
        .nodes
        .into_iter()
        .find(|node| node.entity_ref == key.entity_ref))
}
