//! Lists answered in one pass: the `items` of a dependency walk and the `nodes` of
//! entity pages build their JSON values directly when every field asked of an item
//! is a plain one (a value the item already holds, `__typename`, and for entities
//! an `owner` whose fields are plain too), instead of going through async-graphql's
//! executor item by item: there every field of every item is a boxed future, a
//! context, a registry lookup and a call through the gate's extension, which for a
//! walk of 2,000 dependents cost many times the walk itself.
//!
//! Anything else (a field with arguments or one this module does not answer, a
//! directive other than the already applied `@skip`/`@include`, an object field asked
//! twice, whose selections would merge, a hop that fails) takes the ordinary path for
//! the whole list, so the answer is the same either way. The types stay the ordinary
//! lists' (`[Dependency!]!`, `[Entity!]!`): the SDL does not change. What it builds
//! is charged to the response budget, as the gate charges ordinary fields.

use super::dependencies::{kept, Dependency};
use super::entity::{Entity, EntityData};
use super::ids::encode_id;
use super::raw::{self, RawJson};
use super::size;
use almanac_readmodel::{Reached, Walk};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Directive, Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_list;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Fragments followed at most this deep (validation already refuses cycles).
const MAX_NESTING: usize = 8;

/// `@skip` and `@include` were applied before execution (what they left out is
/// gone); any other directive takes the ordinary path.
fn plain_directives(directives: &[Positioned<Directive>]) -> bool {
    directives
        .iter()
        .all(|d| matches!(d.node.name.node.as_str(), "skip" | "include"))
}

/// Whether a fragment on `condition` applies to an object of type `concrete`, as
/// async-graphql decides it (the type itself, or an interface or union it is in).
fn applies(ctx: &ContextSelectionSet<'_>, condition: Option<&str>, concrete: &str) -> bool {
    condition.is_none_or(|condition| {
        condition == concrete
            || ctx
                .schema_env
                .registry
                .implements
                .get(concrete)
                .is_some_and(|interfaces| interfaces.contains(condition))
    })
}

/// The fields `set` asks of an object of type `concrete`, in response order,
/// following the fragments that apply to it; None when something needs the
/// ordinary path (see the module's doc).
fn fields_of<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    concrete: &str,
) -> Option<Vec<&'a Positioned<Field>>> {
    fn collect<'a>(
        ctx: &ContextSelectionSet<'a>,
        set: &'a SelectionSet,
        concrete: &str,
        out: &mut Vec<&'a Positioned<Field>>,
        nesting: usize,
    ) -> Option<()> {
        if nesting > MAX_NESTING {
            return None;
        }
        for selection in &set.items {
            let (condition, inner) = match &selection.node {
                Selection::Field(field) => {
                    if !field.node.arguments.is_empty() || !plain_directives(&field.node.directives)
                    {
                        return None;
                    }
                    let key = &field.node.response_key().node;
                    match out.iter().find(|f| &f.node.response_key().node == key) {
                        // The same leaf again (a fragment repeating `ref`): one value.
                        Some(seen)
                            if seen.node.name.node == field.node.name.node
                                && seen.node.selection_set.node.items.is_empty()
                                && field.node.selection_set.node.items.is_empty() => {}
                        // Sub-selections to merge: the ordinary path merges them.
                        Some(_) => return None,
                        None => out.push(field),
                    }
                    continue;
                }
                Selection::InlineFragment(fragment) => {
                    if !plain_directives(&fragment.node.directives) {
                        return None;
                    }
                    let condition = fragment.node.type_condition.as_ref();
                    (
                        condition.map(|c| c.node.on.node.as_str()),
                        &fragment.node.selection_set.node,
                    )
                }
                Selection::FragmentSpread(spread) => {
                    if !plain_directives(&spread.node.directives) {
                        return None;
                    }
                    let fragment = ctx
                        .query_env
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    (
                        Some(fragment.node.type_condition.node.on.node.as_str()),
                        &fragment.node.selection_set.node,
                    )
                }
            };
            if applies(ctx, condition, concrete) {
                collect(ctx, inner, concrete, out, nesting + 1)?;
            }
        }
        Some(())
    }
    let mut out = Vec::new();
    collect(ctx, set, concrete, &mut out, 0)?;
    Some(out)
}

fn key(field: &Positioned<Field>) -> Name {
    field.node.response_key().node.clone()
}

fn text(value: &str) -> Value {
    Value::String(value.to_string())
}

fn optional(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}

/// Charges `list` to the response budget and returns it.
fn charged(ctx: &ContextSelectionSet<'_>, list: Vec<Value>) -> ServerResult<Value> {
    let list = Value::List(list);
    size::charge(ctx, &list)?;
    Ok(list)
}

/// The `items` of a dependency walk (`[Dependency!]!`): the reached entities the
/// kind filter keeps, read from the walk itself; [`Dependency`] objects are made
/// only for the ordinary path.
#[derive(Clone, Debug)]
pub struct DependencyItems {
    walk: Arc<Walk>,
    /// Lower-case kinds to keep; None for all.
    kinds: Option<Arc<BTreeSet<String>>>,
}

impl DependencyItems {
    pub fn new(walk: Arc<Walk>, kinds: Option<BTreeSet<String>>) -> Self {
        DependencyItems {
            walk,
            kinds: kinds.map(Arc::new),
        }
    }

    fn reached(&self) -> impl Iterator<Item = &Reached> {
        self.walk
            .reached
            .iter()
            .filter(|r| kept(self.kinds.as_deref(), &r.entity_ref))
    }

    /// The items as objects, for the ordinary path (and `itemsConnection`).
    pub fn dependencies(&self) -> Vec<Dependency> {
        self.reached()
            .map(|r| Dependency::reached(r, &self.walk))
            .collect()
    }

    /// What is asked of each item, when every field asked is one of its own.
    fn plan(ctx: &ContextSelectionSet<'_>) -> Option<Vec<(Name, Asked)>> {
        fields_of(ctx, &ctx.item.node, "Dependency")?
            .into_iter()
            .map(|field| {
                let asked = match field.node.name.node.as_str() {
                    "__typename" => Asked::TypeName,
                    // `entityRef` and `viaRef` are the names of `ref` and `via` to come.
                    "ref" | "entityRef" => Asked::Ref,
                    "depth" => Asked::Depth,
                    "via" | "viaRef" => Asked::Via,
                    "path" => Asked::Path,
                    _ => return None,
                };
                Some((key(field), asked))
            })
            .collect()
    }

    /// The items as values: what `Dependency`'s resolvers answer, read from the
    /// same `Reached`.
    fn values(&self, asked: &[(Name, Asked)]) -> Vec<Value> {
        let items = self.reached().map(|item| {
            let mut object: IndexMap<Name, Value> = IndexMap::with_capacity(asked.len());
            for (key, asked) in asked {
                let value = match asked {
                    Asked::TypeName => text("Dependency"),
                    Asked::Ref => text(&item.entity_ref),
                    Asked::Depth => Value::from(Dependency::depth_of(item)),
                    Asked::Via => optional(item.via.as_deref()),
                    Asked::Path => Value::List(
                        self.walk
                            .path(&item.entity_ref)
                            .iter()
                            .map(|p| text(p))
                            .collect(),
                    ),
                };
                object.insert(key.clone(), value);
            }
            Value::Object(object)
        });
        items.collect()
    }

    /// The items as the JSON text [`Self::values`] would serialise to.
    fn text(&self, asked: &[(Name, Asked)]) -> Vec<u8> {
        // Room for a ref and the keys per item: the text is not copied as it grows.
        let per_item: usize = 64 + asked.iter().map(|(key, _)| key.len() + 4).sum::<usize>();
        let mut out = Vec::with_capacity(self.walk.reached.len() * per_item + 2);
        out.push(b'[');
        for (i, item) in self.reached().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for (j, (key, asked)) in asked.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                raw::write_str(&mut out, key);
                out.push(b':');
                match asked {
                    Asked::TypeName => raw::write_str(&mut out, "Dependency"),
                    Asked::Ref => raw::write_str(&mut out, &item.entity_ref),
                    Asked::Depth => raw::write_int(&mut out, Dependency::depth_of(item).into()),
                    Asked::Via => match item.via.as_deref() {
                        Some(via) => raw::write_str(&mut out, via),
                        None => out.extend_from_slice(b"null"),
                    },
                    Asked::Path => {
                        out.push(b'[');
                        for (k, step) in self.walk.path(&item.entity_ref).iter().enumerate() {
                            if k > 0 {
                                out.push(b',');
                            }
                            raw::write_str(&mut out, step);
                        }
                        out.push(b']');
                    }
                }
            }
            out.push(b'}');
        }
        out.push(b']');
        out
    }
}

/// A field the plain path answers for a walk's item.
#[derive(Clone, Copy)]
enum Asked {
    TypeName,
    Ref,
    Depth,
    Via,
    Path,
}

impl OutputType for DependencyItems {
    fn type_name() -> Cow<'static, str> {
        <Vec<Dependency>>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Dependency>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Dependency>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match Self::plan(ctx) {
            Some(asked) => match RawJson::offered(ctx) {
                Some(raw) => {
                    let text = self.text(&asked);
                    size::charge_bytes(ctx, text.len())?;
                    Ok(raw.splice(text))
                }
                None => charged(ctx, self.values(&asked)),
            },
            None => {
                let items = self.dependencies();
                resolve_list(ctx, field, &items, Some(items.len())).await
            }
        }
    }
}

/// A page's entities (`[Entity!]!`).
#[derive(Clone, Debug)]
pub struct EntityNodes(pub Vec<Entity>);

/// A field the plain path answers for an entity.
enum EntityField<'a> {
    TypeName,
    Id,
    Ref,
    Kind,
    Namespace,
    Name,
    Title,
    Description,
    /// `owner`, with the selection asked of it.
    Owner(&'a Positioned<Field>),
}

/// What is asked of entities of one GraphQL type.
struct EntityPlan<'a> {
    type_name: &'static str,
    fields: Vec<(Name, EntityField<'a>)>,
}

fn entity_plan<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    type_name: &'static str,
) -> Option<EntityPlan<'a>> {
    let fields = fields_of(ctx, set, type_name)?
        .into_iter()
        .map(|field| {
            let asked = match field.node.name.node.as_str() {
                "__typename" => EntityField::TypeName,
                "id" => EntityField::Id,
                "ref" => EntityField::Ref,
                "kind" => EntityField::Kind,
                "namespace" => EntityField::Namespace,
                "name" => EntityField::Name,
                "title" => EntityField::Title,
                "description" => EntityField::Description,
                // Every type with an `owner` answers it with `EntityData::owner`.
                "owner" => EntityField::Owner(field),
                _ => return None,
            };
            Some((key(field), asked))
        })
        .collect::<Option<_>>()?;
    Some(EntityPlan { type_name, fields })
}

/// Plans by GraphQL type, made when first needed (a page holds a few types).
struct Plans<'a> {
    set: &'a SelectionSet,
    plans: Vec<EntityPlan<'a>>,
}

impl<'a> Plans<'a> {
    fn new(set: &'a SelectionSet) -> Self {
        Plans {
            set,
            plans: Vec::new(),
        }
    }

    fn index(&mut self, ctx: &ContextSelectionSet<'a>, type_name: &'static str) -> Option<usize> {
        if let Some(i) = self.plans.iter().position(|p| p.type_name == type_name) {
            return Some(i);
        }
        self.plans.push(entity_plan(ctx, self.set, type_name)?);
        Some(self.plans.len() - 1)
    }
}

/// The plans of each `owner` field's selection (a page's types may ask different
/// fields of their owners), by the field.
type OwnerPlans<'a> = Vec<(&'a Positioned<Field>, Plans<'a>)>;

/// A plain field's value, read as its resolver reads it.
enum Leaf<'d> {
    Text(&'d str),
    Owned(String),
    Null,
}

impl<'d> Leaf<'d> {
    /// `asked` of `data` (an entity of GraphQL type `type_name`); None for `owner`.
    fn of(asked: &EntityField<'_>, type_name: &'static str, data: &'d EntityData) -> Option<Self> {
        let maybe = |value: Option<&'d str>| value.map_or(Leaf::Null, Leaf::Text);
        Some(match asked {
            EntityField::TypeName => Leaf::Text(type_name),
            EntityField::Id => Leaf::Owned(encode_id(type_name, data.entity_ref())),
            EntityField::Ref => Leaf::Text(data.entity_ref()),
            EntityField::Kind => Leaf::Text(data.kind()),
            EntityField::Namespace => Leaf::Text(data.namespace()),
            EntityField::Name => Leaf::Text(data.name()),
            EntityField::Title => maybe(data.title()),
            EntityField::Description => maybe(data.description()),
            EntityField::Owner(_) => return None,
        })
    }

    fn value(self) -> Value {
        match self {
            Leaf::Text(value) => text(value),
            Leaf::Owned(value) => Value::String(value),
            Leaf::Null => Value::Null,
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        match self {
            Leaf::Text(value) => raw::write_str(out, value),
            Leaf::Owned(value) => raw::write_str(out, &value),
            Leaf::Null => out.extend_from_slice(b"null"),
        }
    }
}

/// The owner asked by `field` of `data`, with the plans for its fields (kept in
/// `owners`, one per `owner` field); Some(None) when it has none, None to take
/// the ordinary path (an owner's own `owner`, or a hop that fails).
async fn owner_of<'a, 'o>(
    ctx: &ContextSelectionSet<'a>,
    owners: &'o mut OwnerPlans<'a>,
    data: &EntityData,
    field: &'a Positioned<Field>,
    nested: bool,
) -> Option<Option<(Entity, &'o mut Plans<'a>)>> {
    if nested {
        return None;
    }
    let owner = data.owner(&ctx.with_field(field)).await.ok()?;
    let Some(owner) = owner else {
        return Some(None);
    };
    let at = match owners.iter().position(|(f, _)| std::ptr::eq(*f, field)) {
        Some(at) => at,
        None => {
            owners.push((field, Plans::new(&field.node.selection_set.node)));
            owners.len() - 1
        }
    };
    Some(Some((owner, &mut owners[at].1)))
}

/// One entity as the plan for its type asks; None to take the ordinary path.
/// `owners` plans the owners' fields (one level: an owner's own `owner` takes the
/// ordinary path).
async fn entity_value<'a>(
    ctx: &ContextSelectionSet<'a>,
    plans: &mut Plans<'a>,
    owners: &mut OwnerPlans<'a>,
    entity: &Entity,
    nested: bool,
) -> Option<Value> {
    let type_name = entity.type_name();
    let data: &EntityData = entity.data();
    let index = plans.index(ctx, type_name)?;
    let mut object = IndexMap::with_capacity(plans.plans[index].fields.len());
    for i in 0..plans.plans[index].fields.len() {
        let (key, asked) = &plans.plans[index].fields[i];
        let key = key.clone();
        let value = match asked {
            EntityField::Owner(field) => match owner_of(ctx, owners, data, field, nested).await? {
                None => Value::Null,
                Some((owner, plans)) => {
                    let mut none = Vec::new();
                    Box::pin(entity_value(ctx, plans, &mut none, &owner, true)).await?
                }
            },
            asked => Leaf::of(asked, type_name, data)?.value(),
        };
        object.insert(key, value);
    }
    Some(Value::Object(object))
}

/// One entity as [`entity_value`] gives it, written as JSON text to `out`.
async fn entity_text<'a>(
    ctx: &ContextSelectionSet<'a>,
    plans: &mut Plans<'a>,
    owners: &mut OwnerPlans<'a>,
    entity: &Entity,
    nested: bool,
    out: &mut Vec<u8>,
) -> Option<()> {
    let type_name = entity.type_name();
    let data: &EntityData = entity.data();
    let index = plans.index(ctx, type_name)?;
    out.push(b'{');
    for i in 0..plans.plans[index].fields.len() {
        let (key, asked) = &plans.plans[index].fields[i];
        if i > 0 {
            out.push(b',');
        }
        raw::write_str(out, key);
        out.push(b':');
        match asked {
            EntityField::Owner(field) => match owner_of(ctx, owners, data, field, nested).await? {
                None => out.extend_from_slice(b"null"),
                Some((owner, plans)) => {
                    let mut none = Vec::new();
                    Box::pin(entity_text(ctx, plans, &mut none, &owner, true, out)).await?
                }
            },
            asked => Leaf::of(asked, type_name, data)?.write(out),
        }
    }
    out.push(b'}');
    Some(())
}

impl EntityNodes {
    async fn plain(&self, ctx: &ContextSelectionSet<'_>) -> Option<Vec<Value>> {
        let mut plans = Plans::new(&ctx.item.node);
        let mut owners = Vec::new();
        let mut values = Vec::with_capacity(self.0.len());
        for entity in &self.0 {
            values.push(entity_value(ctx, &mut plans, &mut owners, entity, false).await?);
        }
        Some(values)
    }

    /// The nodes as the JSON text [`Self::plain`]'s values would serialise to.
    async fn text(&self, ctx: &ContextSelectionSet<'_>) -> Option<Vec<u8>> {
        let mut plans = Plans::new(&ctx.item.node);
        let mut owners = Vec::new();
        let mut out = Vec::with_capacity(self.0.len() * 96 + 2);
        out.push(b'[');
        for (i, entity) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            entity_text(ctx, &mut plans, &mut owners, entity, false, &mut out).await?;
        }
        out.push(b']');
        Some(out)
    }
}

impl OutputType for EntityNodes {
    fn type_name() -> Cow<'static, str> {
        <Vec<Entity>>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Entity>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Entity>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(raw) = RawJson::offered(ctx) {
            if let Some(text) = self.text(ctx).await {
                size::charge_bytes(ctx, text.len())?;
                return Ok(raw.splice(text));
            }
        } else if let Some(nodes) = self.plain(ctx).await {
            return charged(ctx, nodes);
        }
        resolve_list(ctx, field, &self.0, Some(self.0.len())).await
    }
}
