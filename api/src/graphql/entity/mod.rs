//! Entities as GraphQL types: the `Entity` and `Node` interfaces, one object
//! type per built-in kind and `GenericEntity` for the rest.
//!
//! Every type wraps the same [`EntityData`] (an entity of the in-memory catalog's
//! snapshot, or a row). Fields common to all kinds come from one macro
//! ([`entity_type!`]) so they cannot drift between types; kind-specific fields
//! live beside each type. Relation fields read the snapshot the entity came from.

#[macro_use]
mod common;
mod catalog_kinds;
mod data;
mod org;
mod other;

pub use catalog_kinds::{Api, Component, Domain, Resource, System};
pub use common::{Link, ProcessingError, Profile, Relation};
pub use data::{EntityData, KindType};
pub use org::{Group, User};
pub use other::{GenericEntity, Location, Template};

use super::dependencies::{Dependencies, DependencyDirection, DependencyGraph, DependencyNode};
use super::history::{HistoryEventConnection, HistoryOrder};
use super::nodes::entity_type_name;
use super::operational::CatalogLocation;
use async_graphql::{Interface, Json, ID};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A catalog entity of any kind. What a catalog table shows (`type`,
/// `lifecycle`, `owner`, `ownerRef`, `system`) is here, null where a kind has no
/// such field; query the rest with `... on Component { ... }`.
// The interface's field list repeats `ty = "String"` and such by nature.
#[allow(clippy::duplicated_attributes)]
#[derive(Clone, Debug, Interface)]
#[graphql(
    field(name = "id", ty = "ID", desc = "Relay global id (opaque)."),
    field(
        name = "ref",
        method = "entity_ref",
        ty = "String",
        desc = "Canonical ref, lower-case: `kind:namespace/name`."
    ),
    field(
        name = "kind",
        ty = "String",
        desc = "The kind as written (`Component`, `API`, ...)."
    ),
    field(name = "namespace", ty = "String"),
    field(name = "name", ty = "String"),
    field(name = "title", ty = "Option<String>"),
    field(name = "description", ty = "Option<String>"),
    field(name = "tags", ty = "Vec<String>"),
    field(
        name = "labels",
        ty = "Json<Value>",
        desc = "`metadata.labels` as an object."
    ),
    field(
        name = "annotations",
        ty = "Json<Value>",
        desc = "`metadata.annotations` as an object."
    ),
    field(
        name = "annotation",
        ty = "Option<String>",
        arg(name = "key", ty = "String"),
        desc = "One annotation's value."
    ),
    field(name = "links", ty = "Vec<Link>"),
    field(name = "spec", ty = "Json<Value>", desc = "The whole `spec`, as JSON."),
    field(name = "uid", ty = "String"),
    field(
        name = "version",
        ty = "i32",
        desc = "How many events the entity has had."
    ),
    field(name = "created_at", ty = "DateTime<Utc>"),
    field(name = "updated_at", ty = "DateTime<Utc>"),
    field(
        name = "source",
        ty = "Option<String>",
        desc = "The location that provides it (`backstage.io/managed-by-location`)."
    ),
    field(
        name = "type",
        method = "entity_type",
        ty = "Option<String>",
        desc = "`spec.type` (service, website, team, ...); null when the spec has none."
    ),
    field(
        name = "lifecycle",
        ty = "Option<String>",
        desc = "`spec.lifecycle` (Components and APIs); null for other kinds."
    ),
    field(
        name = "ownerRef",
        method = "owner_ref",
        ty = "Option<String>",
        desc = "The canonical ref of `spec.owner`, even when no such entity exists."
    ),
    field(
        name = "owner",
        ty = "Option<Entity>",
        desc = "The owning Group or User; null without an owner or when it does not exist."
    ),
    field(
        name = "system",
        ty = "Option<System>",
        desc = "The System this is part of (Components, APIs, Resources); null otherwise."
    ),
    field(
        name = "relations",
        ty = "Vec<Relation>",
        arg(name = "type", ty = "Option<String>"),
        desc = "Every relation whose source is this entity, inverses included."
    ),
    field(
        name = "relationsConnection",
        method = "relations_connection",
        ty = "super::paged::Connection<Relation>",
        arg(name = "type", ty = "Option<String>"),
        arg(name = "first", ty = "Option<i32>"),
        arg(name = "after", ty = "Option<String>"),
        desc = "The relations as a connection, by type then target ref."
    ),
    field(
        name = "errors",
        ty = "Vec<ProcessingError>",
        desc = "Processing errors the last read recorded for this entity."
    ),
    field(
        name = "dependencies",
        ty = "Dependencies",
        arg(name = "depth", ty = "Option<i32>"),
        arg(name = "direction", ty = "Option<DependencyDirection>"),
        arg(
            name = "kinds",
            ty = "Option<Vec<String>>",
            deprecation = "named `kind`, as every filter argument (singular name, list of values)"
        ),
        arg(name = "viaApis", ty = "Option<bool>"),
        arg(name = "kind", ty = "Option<Vec<String>>"),
        desc = "The transitive dependencies (OUTGOING) or dependents (INCOMING)."
    ),
    field(
        name = "dependencyGraph",
        method = "dependency_graph",
        ty = "DependencyGraph",
        arg(name = "depth", ty = "Option<i32>"),
        arg(name = "direction", ty = "Option<DependencyDirection>"),
        arg(
            name = "kinds",
            ty = "Option<Vec<String>>",
            deprecation = "named `kind`, as every filter argument (singular name, list of values)"
        ),
        arg(name = "viaApis", ty = "Option<bool>"),
        arg(name = "kind", ty = "Option<Vec<String>>"),
        desc = "The same walk as nodes and edges, ready to draw."
    ),
    field(
        name = "history",
        ty = "HistoryEventConnection",
        arg(name = "first", ty = "Option<i32>"),
        arg(name = "after", ty = "Option<String>"),
        arg(name = "order", ty = "Option<HistoryOrder>"),
        desc = "The entity's events with what each changed, newest first by default."
    )
)]
pub enum Entity {
    Component(Component),
    Api(Api),
    Resource(Resource),
    System(System),
    Domain(Domain),
    Group(Group),
    User(User),
    Location(Location),
    Template(Template),
    GenericEntity(GenericEntity),
}

/// Anything with a Relay global id, fetchable with `node(id:)`: entities (live,
/// or as they were at a version: another id), dependency graph nodes and
/// catalog locations.
#[derive(Clone, Debug, Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Component(Component),
    Api(Api),
    Resource(Resource),
    System(System),
    Domain(Domain),
    Group(Group),
    User(User),
    Location(Location),
    Template(Template),
    GenericEntity(GenericEntity),
    DependencyNode(DependencyNode),
    CatalogLocation(CatalogLocation),
}

impl Entity {
    /// The GraphQL type for an entity now or as it was.
    pub fn from_data(data: EntityData) -> Entity {
        match entity_type_name(data.kind()) {
            "Component" => Entity::Component(Component(data)),
            "Api" => Entity::Api(Api(data)),
            "Resource" => Entity::Resource(Resource(data)),
            "System" => Entity::System(System(data)),
            "Domain" => Entity::Domain(Domain(data)),
            "Group" => Entity::Group(Group(data)),
            "User" => Entity::User(User(data)),
            "Location" => Entity::Location(Location(data)),
            "Template" => Entity::Template(Template(data)),
            _ => Entity::GenericEntity(GenericEntity(data)),
        }
    }

    /// The entity the object wraps, whatever its type.
    pub fn data(&self) -> &EntityData {
        match self {
            Entity::Component(e) => &e.0,
            Entity::Api(e) => &e.0,
            Entity::Resource(e) => &e.0,
            Entity::System(e) => &e.0,
            Entity::Domain(e) => &e.0,
            Entity::Group(e) => &e.0,
            Entity::User(e) => &e.0,
            Entity::Location(e) => &e.0,
            Entity::Template(e) => &e.0,
            Entity::GenericEntity(e) => &e.0,
        }
    }

    /// The GraphQL type name (used in global ids).
    pub fn type_name(&self) -> &'static str {
        match self {
            Entity::Component(_) => "Component",
            Entity::Api(_) => "Api",
            Entity::Resource(_) => "Resource",
            Entity::System(_) => "System",
            Entity::Domain(_) => "Domain",
            Entity::Group(_) => "Group",
            Entity::User(_) => "User",
            Entity::Location(_) => "Location",
            Entity::Template(_) => "Template",
            Entity::GenericEntity(_) => "GenericEntity",
        }
    }
}

impl From<Entity> for Node {
    fn from(entity: Entity) -> Node {
        match entity {
            Entity::Component(e) => Node::Component(e),
            Entity::Api(e) => Node::Api(e),
            Entity::Resource(e) => Node::Resource(e),
            Entity::System(e) => Node::System(e),
            Entity::Domain(e) => Node::Domain(e),
            Entity::Group(e) => Node::Group(e),
            Entity::User(e) => Node::User(e),
            Entity::Location(e) => Node::Location(e),
            Entity::Template(e) => Node::Template(e),
            Entity::GenericEntity(e) => Node::GenericEntity(e),
        }
    }
}
