//! What every entity type shares: the common fields (one macro, so the ten
//! types cannot drift apart) and the small types they return.

use super::data::EntityData;
use super::Entity;
use crate::error::Result;
use crate::graphql::loaders::Loaders;
use almanac_domain::RelationType;
use almanac_readmodel::Snapshot;
use almanac_store::catalog::{ProcessingErrorRecord, RelationRecord};
use async_graphql::{ComplexObject, Context, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Declares an entity object type: the struct, its [`KindType`] impl when it
/// stands for one kind, and a `#[Object]` impl holding the `Entity` interface's
/// fields followed by the kind's own (`$body`). `owned = (scope fn, doc)` and
/// `members = doc` add the paged `ownedEntitiesConnection` and `membersConnection`:
/// they are written here, not in `$body`, because a field's complexity expression
/// must come from the same macro expansion as its `#[Object]` (hygiene of
/// `child_complexity`).
///
/// Fields that may read PostgreSQL or walk (relations, errors, dependencies,
/// history, the connections) box their futures: async-graphql's `resolve_field`
/// future holds the largest field future inline and is boxed and moved for every
/// field resolved, so a large one made `ref` and `name` pay for `history`'s.
macro_rules! entity_type {
    ($(#[$doc:meta])* $ty:ident, kind = $kind:literal,
     $(owned = ($owned:path, $owned_doc:literal),)? $(members = $members_doc:literal,)?
     $(typed = [$(($tname:ident, $tty:ty, $trel:ident, $tdoc:literal)),* $(,)?],)?
     $(related = [$(($rname:ident, $rrel:ident, $rdoc:literal)),* $(,)?],)?
     { $($body:tt)* }) => {
        entity_type!(@object $(#[$doc])* $ty, [$($owned, $owned_doc)?] [$($members_doc)?]
            [$($(($tname, $tty, $trel, $tdoc))*)?] [$($(($rname, $rrel, $rdoc))*)?], { $($body)* });
        impl $crate::graphql::entity::data::KindType for $ty {
            const KIND: &'static str = $kind;
            fn wrap(data: $crate::graphql::entity::data::EntityData) -> Self {
                $ty(data)
            }
        }
    };
    (@object $(#[$doc:meta])* $ty:ident, [$($owned:path, $owned_doc:literal)?] [$($members_doc:literal)?]
     [$(($tname:ident, $tty:ty, $trel:ident, $tdoc:literal))*] [$(($rname:ident, $rrel:ident, $rdoc:literal))*],
     { $($body:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty(pub $crate::graphql::entity::data::EntityData);

        #[async_graphql::Object]
        impl $ty {
            /// Relay global id (opaque). An entity as it was (`entity(ref:,
            /// version:)` or `asOf:`) has an id of its own, which `node(id:)`
            /// resolves to that state.
            pub(crate) async fn id(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<async_graphql::ID> {
                Ok(async_graphql::ID($crate::graphql::ids::encode_id(stringify!($ty), &self.0.id_key())))
            }
            /// Canonical ref, lower-case: `kind:namespace/name`.
            #[graphql(name = "ref")]
            pub(crate) async fn entity_ref(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<String> {
                Ok(self.0.entity_ref().to_string())
            }
            /// The kind as written (`Component`, `API`, ...).
            pub(crate) async fn kind(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<String> {
                Ok(self.0.kind().to_string())
            }
            pub(crate) async fn namespace(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<String> {
                Ok(self.0.namespace().to_string())
            }
            pub(crate) async fn name(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<String> {
                Ok(self.0.name().to_string())
            }
            pub(crate) async fn title(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<String>> {
                Ok(self.0.title().map(str::to_string))
            }
            pub(crate) async fn description(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<String>> {
                Ok(self.0.description().map(str::to_string))
            }
            pub(crate) async fn tags(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Vec<String>> {
                Ok(self.0.tags())
            }
            /// `metadata.labels` as an object.
            pub(crate) async fn labels(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<async_graphql::Json<serde_json::Value>> {
                Ok(async_graphql::Json(self.0.record().labels.clone()))
            }
            /// `metadata.annotations` as an object.
            pub(crate) async fn annotations(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<async_graphql::Json<serde_json::Value>> {
                Ok(async_graphql::Json(self.0.record().annotations.clone()))
            }
            /// One annotation's value.
            pub(crate) async fn annotation(&self, _ctx: &async_graphql::Context<'_>, key: String) -> $crate::error::Result<Option<String>> {
                Ok(self.0.annotation(&key))
            }
            pub(crate) async fn links(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Vec<$crate::graphql::entity::Link>> {
                Ok($crate::graphql::entity::common::links(&self.0))
            }
            /// The whole `spec`, as JSON.
            pub(crate) async fn spec(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<async_graphql::Json<serde_json::Value>> {
                Ok(async_graphql::Json(self.0.spec().clone()))
            }
            pub(crate) async fn uid(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<String> {
                Ok(self.0.uid().to_string())
            }
            /// How many events the entity has had.
            pub(crate) async fn version(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<i32> {
                Ok(i32::try_from(self.0.version()).unwrap_or(i32::MAX))
            }
            pub(crate) async fn created_at(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<chrono::DateTime<chrono::Utc>> {
                Ok(self.0.created_at())
            }
            pub(crate) async fn updated_at(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<chrono::DateTime<chrono::Utc>> {
                Ok(self.0.updated_at())
            }
            /// The location that provides it (`backstage.io/managed-by-location`).
            pub(crate) async fn source(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<String>> {
                Ok(self.0.source().map(str::to_string))
            }
            /// `spec.type`: a Component's service, website or library; a Group's
            /// team or department; and so on per kind. Null when the spec has none.
            #[graphql(name = "type")]
            pub(crate) async fn entity_type(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<String>> {
                Ok(self.0.spec_type())
            }
            /// `spec.lifecycle` (Components and APIs); null for other kinds.
            pub(crate) async fn lifecycle(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<String>> {
                Ok(self.0.lifecycle())
            }
            /// The canonical ref of `spec.owner`, even when no such entity
            /// exists; null for kinds without an owner (Group, User, Location).
            pub(crate) async fn owner_ref(&self, _ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<String>> {
                Ok(self.0.owner_ref().map(str::to_string))
            }
            /// The owning Group or User; null when there is no owner or it
            /// does not exist (`ownerRef` still names it).
            pub(crate) async fn owner(&self, ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<$crate::graphql::entity::Entity>> {
                Box::pin(self.0.owner(ctx)).await
            }
            /// The System this is part of (`spec.system` of a Component, API or
            /// Resource); null for other kinds or when it does not exist.
            pub(crate) async fn system(&self, ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Option<$crate::graphql::entity::System>> {
                Box::pin(self.0.typed_one(ctx, almanac_domain::RelationType::PartOf)).await
            }
            /// Every relation whose source is this entity, inverses declared by
            /// others included (Backstage's `relations`); `type` keeps one type.
            pub(crate) async fn relations(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(name = "type")] relation_type: Option<String>,
            ) -> $crate::error::Result<Vec<$crate::graphql::entity::Relation>> {
                Box::pin($crate::graphql::entity::common::relations(&self.0, ctx, relation_type)).await
            }
            /// The same relations as a connection, by type then target ref: `type`
            /// keeps one type (an unknown one is `UNKNOWN_VALUE`, with a did-you-mean).
            #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
            pub(crate) async fn relations_connection(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(name = "type")] relation_type: Option<String>,
                first: Option<i32>,
                after: Option<String>,
            ) -> $crate::error::Result<$crate::graphql::paged::Connection<$crate::graphql::entity::Relation>> {
                Box::pin($crate::graphql::entity::common::relations_connection(&self.0, ctx, relation_type, first, after)).await
            }
            /// Processing errors the last read recorded for this entity.
            pub(crate) async fn errors(&self, ctx: &async_graphql::Context<'_>) -> $crate::error::Result<Vec<$crate::graphql::entity::ProcessingError>> {
                Box::pin($crate::graphql::entity::common::errors(&self.0, ctx)).await
            }
            /// The transitive dependencies (OUTGOING, default) or dependents
            /// (INCOMING) along dependsOn/dependencyOf; `viaApis` also counts "consumes
            /// an API that B provides" as depending on B. `depth` defaults to the
            /// server's maximum; `kind` keeps those kinds in the result (the walk
            /// goes through every kind). `items` is the whole walk; `itemsConnection`
            /// pages it.
            pub(crate) async fn dependencies(
                &self,
                ctx: &async_graphql::Context<'_>,
                depth: Option<i32>,
                direction: Option<$crate::graphql::dependencies::DependencyDirection>,
                #[graphql(deprecation = "named `kind`, as every filter argument (singular name, list of values)")]
                kinds: Option<Vec<String>>,
                via_apis: Option<bool>,
                #[graphql(desc = "Keep these kinds in the result (the walk goes through every kind); an unknown kind is `UNKNOWN_VALUE`.")]
                kind: Option<Vec<String>>,
            ) -> $crate::error::Result<$crate::graphql::dependencies::Dependencies> {
                Box::pin($crate::graphql::dependencies::dependencies(&self.0, ctx, depth, direction, $crate::graphql::dependencies::either(kind, kinds), via_apis)).await
            }
            /// The same walk as `dependencies`, as nodes (the root included, at
            /// depth 0) and edges, cycles included, ready to draw.
            pub(crate) async fn dependency_graph(
                &self,
                ctx: &async_graphql::Context<'_>,
                depth: Option<i32>,
                direction: Option<$crate::graphql::dependencies::DependencyDirection>,
                #[graphql(deprecation = "named `kind`, as every filter argument (singular name, list of values)")]
                kinds: Option<Vec<String>>,
                via_apis: Option<bool>,
                #[graphql(desc = "Keep these kinds in the result (the walk goes through every kind); an unknown kind is `UNKNOWN_VALUE`.")]
                kind: Option<Vec<String>>,
            ) -> $crate::error::Result<$crate::graphql::dependencies::DependencyGraph> {
                Box::pin($crate::graphql::dependencies::dependency_graph(&self.0, ctx, depth, direction, $crate::graphql::dependencies::either(kind, kinds), via_apis)).await
            }

            /// The entity's events with what each changed, newest first by
            /// default. Cursors are opaque and tied to the entity and order.
            #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
            pub(crate) async fn history(
                &self,
                ctx: &async_graphql::Context<'_>,
                first: Option<i32>,
                after: Option<String>,
                order: Option<$crate::graphql::history::HistoryOrder>,
            ) -> $crate::error::Result<$crate::graphql::history::HistoryEventConnection> {
                Box::pin($crate::graphql::history::entity_history(ctx, self.0.entity_ref(), first, after.as_deref(), order.unwrap_or_default())).await
            }

            $(
            #[doc = $owned_doc]
            #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
            pub(crate) async fn owned_entities_connection(
                &self,
                ctx: &async_graphql::Context<'_>,
                transitive: Option<bool>,
                first: Option<i32>,
                after: Option<String>,
                #[graphql(desc = "Only these kinds (case-insensitive; an unknown kind is `UNKNOWN_VALUE`); `totalCount` counts them.")]
                kind: Option<Vec<String>>,
            ) -> $crate::error::Result<$crate::graphql::rooted::OwnedEntityConnection> {
                Box::pin($crate::graphql::rooted::owned(ctx, &self.0, $owned(transitive), kind, first, after.as_deref())).await
            }
            )?

            $(
            #[doc = $tdoc]
            #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
            pub(crate) async fn $tname(
                &self,
                ctx: &async_graphql::Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> $crate::error::Result<$crate::graphql::paged::Connection<$tty>> {
                Box::pin($crate::graphql::paged::related::<$tty>(
                    ctx, &self.0, almanac_domain::RelationType::$trel, stringify!($tname), first, after.as_deref(),
                )).await
            }
            )*

            $(
            #[doc = $rdoc]
            #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
            pub(crate) async fn $rname(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "Only these kinds (case-insensitive; an unknown kind is `UNKNOWN_VALUE`).")]
                kind: Option<Vec<String>>,
                first: Option<i32>,
                after: Option<String>,
            ) -> $crate::error::Result<$crate::graphql::paged::Connection<$crate::graphql::entity::Entity>> {
                Box::pin($crate::graphql::paged::related_any(
                    ctx, &self.0, almanac_domain::RelationType::$rrel, stringify!($rname), kind, first, after.as_deref(),
                )).await
            }
            )*

            $(
            #[doc = $members_doc]
            #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
            pub(crate) async fn members_connection(
                &self,
                ctx: &async_graphql::Context<'_>,
                transitive: Option<bool>,
                first: Option<i32>,
                after: Option<String>,
            ) -> $crate::error::Result<$crate::graphql::rooted::MemberConnection> {
                Box::pin($crate::graphql::rooted::members(ctx, &self.0, transitive.unwrap_or(false), first, after.as_deref())).await
            }
            )?

            $($body)*
        }
    };
}

/// An entry of `metadata.links`.
#[derive(Clone, Debug, SimpleObject)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    #[graphql(name = "type")]
    pub link_type: Option<String>,
}

pub fn links(data: &EntityData) -> Vec<Link> {
    data.links()
        .into_iter()
        .map(|link| Link {
            url: link.url,
            title: link.title,
            icon: link.icon,
            link_type: link.link_type,
        })
        .collect()
}

/// `spec.profile` of a Group or User.
#[derive(Clone, Debug, SimpleObject)]
pub struct Profile {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

impl Profile {
    pub fn of(data: &EntityData) -> Option<Profile> {
        let profile = data.spec().get("profile")?;
        let text = |key: &str| profile.get(key).and_then(Value::as_str).map(str::to_string);
        Some(Profile {
            display_name: text("displayName"),
            email: text("email"),
            picture: text("picture"),
        })
    }
}

/// One edge leaving an entity.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Relation {
    /// Backstage's spelling: `ownedBy`, `ownerOf`, `partOf`, `hasPart`, ...
    #[graphql(name = "type")]
    pub relation_type: String,
    pub target_ref: String,
    /// The entity whose descriptor declared it (for an inverse, the other end).
    #[graphql(deprecation = "a ref is named `<role>Ref`; use declaredByRef")]
    pub declared_by: String,
    /// The spec field that declared it, e.g. `spec.members`.
    pub field: String,
    /// The snapshot the edge was read from, where the target is looked up too.
    #[graphql(skip)]
    pub snapshot: Option<SnapshotRef>,
}

/// A snapshot held by a value for its later fields; prints its position only.
#[derive(Clone)]
pub struct SnapshotRef(pub Snapshot);

impl std::fmt::Debug for SnapshotRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Snapshot@{}", self.0.position())
    }
}

#[ComplexObject]
impl Relation {
    /// The ref of the entity whose descriptor declared it (for an inverse, the other end).
    async fn declared_by_ref(&self) -> &str {
        &self.declared_by
    }

    /// The target, or null when no such entity exists (a dangling reference).
    async fn target(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        let snapshot = match &self.snapshot {
            Some(SnapshotRef(snapshot)) => snapshot.clone(),
            None => Loaders::snapshot(ctx)?,
        };
        let found = Loaders::of(ctx)?
            .entity_in(&snapshot, &self.target_ref)
            .await?;
        Ok(found.map(Entity::from_data))
    }
}

/// The GraphQL boundary of relation types: a `RelationType` leaves as Backstage's spelling.
impl From<&RelationRecord> for Relation {
    fn from(edge: &RelationRecord) -> Self {
        Relation {
            relation_type: edge.relation.as_str().to_string(),
            target_ref: edge.target_ref.clone(),
            declared_by: edge.declared_by.clone(),
            field: edge.field.clone(),
            snapshot: None,
        }
    }
}

/// Every relation leaving the entity (inverses declared by others included, once per
/// type and target), or for a past state the ones it declared then; `relation_type`
/// keeps one type.
pub async fn relations(
    data: &EntityData,
    ctx: &Context<'_>,
    relation_type: Option<String>,
) -> Result<Vec<Relation>> {
    // A spelling no relation type has is a typo, not "no such relations".
    let wanted: Option<RelationType> = relation_type
        .as_deref()
        .map(|t| crate::graphql::closed::relation_type("type", t))
        .transpose()?;
    if let Some(past) = &data.relations_then {
        return Ok(past
            .iter()
            .filter(|e| wanted.is_none_or(|t| e.relation == t))
            .map(Relation::from)
            .collect());
    }
    let snapshot = data.snapshot(ctx)?;
    let relations = snapshot
        .relations_from(data.entity_ref())
        .into_iter()
        .filter(|row| wanted.is_none_or(|t| row.relation == t))
        .map(|row| Relation {
            relation_type: row.relation.as_str().to_string(),
            target_ref: row.target_ref.to_string(),
            declared_by: row.declared_by.to_string(),
            field: row.field.to_string(),
            snapshot: Some(SnapshotRef(snapshot.clone())),
        })
        .collect();
    Ok(relations)
}

/// [`relations`] as a connection, by type then target ref.
pub async fn relations_connection(
    data: &EntityData,
    ctx: &Context<'_>,
    relation_type: Option<String>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<crate::graphql::paged::Connection<Relation>> {
    let mut all = relations(data, ctx, relation_type).await?;
    crate::graphql::paged::sort_by_key(&mut all);
    let window = crate::graphql::paged::window(ctx, "relations", all, first, after.as_deref())?;
    Ok(window.connection(Vec::new(), |r| r))
}

/// What a read of a source could not accept.
#[derive(Clone, Debug, SimpleObject)]
pub struct ProcessingError {
    /// The location key (`file:...`, `url:...`, `api:...`).
    pub source: String,
    pub entity_ref: Option<String>,
    pub message: String,
    pub recorded_at: DateTime<Utc>,
}

impl From<&ProcessingErrorRecord> for ProcessingError {
    fn from(row: &ProcessingErrorRecord) -> Self {
        ProcessingError {
            source: row.source.clone(),
            entity_ref: row.entity_ref.clone(),
            message: row.message.clone(),
            recorded_at: row.recorded_at,
        }
    }
}

pub async fn errors(data: &EntityData, ctx: &Context<'_>) -> Result<Vec<ProcessingError>> {
    let rows = Loaders::of(ctx)?.errors(data.entity_ref()).await?;
    Ok(rows.iter().map(ProcessingError::from).collect())
}
