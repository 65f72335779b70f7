//! What a parsed document costs beyond async-graphql's own complexity count,
//! measured before anything runs: introspection (whose lists async-graphql
//! counts as one field each, though `types` alone answers every type of the
//! schema), the number of aliases, and NUL characters in argument values and
//! variables (PostgreSQL cannot store or compare them).
//!
//! The introspection cost is an estimate from the schema's real sizes: a list
//! field multiplies its selection by the schema's average list length (every
//! type for `types`, the mean fields per type for `fields`, and so on), so a
//! full introspection query costs about what it returns. It does not execute
//! anything and does not replace the validation rules: fragments are followed
//! up to a nesting bound, so a cyclic one (refused by validation) cannot loop.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Value, Variables};

/// Deeper than any valid query (the depth limit is far lower): the walk stops.
/// Each step of the walk counts a field, and the walk stops past its cap, so a
/// fragment that spreads another many times cannot make it explode either.
const MAX_NESTING: usize = 128;

/// What [`measure`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentCost {
    /// Estimated fields returned by `__schema` and `__type` selections.
    pub introspection: usize,
    /// Selected fields that carry an alias, fragments expanded.
    pub aliases: usize,
    /// Every selected field, fragments expanded (introspection included).
    pub fields: usize,
    /// The first argument or variable holding a NUL, by name.
    pub nul_in: Option<String>,
}

/// Mean list lengths of the schema's introspection lists.
struct Factors {
    types: usize,
    fields: usize,
    args: usize,
    input_fields: usize,
    enum_values: usize,
    possible_types: usize,
    interfaces: usize,
    directives: usize,
}

fn mean(total: usize, owners: usize) -> usize {
    total.div_ceil(owners.max(1)).max(1)
}

impl Factors {
    fn of(registry: &Registry) -> Factors {
        let types = registry.types.len().max(1);
        let (mut fields, mut args, mut inputs, mut values, mut possible) = (0, 0, 0, 0, 0);
        for ty in registry.types.values() {
            match ty {
                MetaType::Object { fields: f, .. } => {
                    fields += f.len();
                    args += f.values().map(|field| field.args.len()).sum::<usize>();
                }
                MetaType::Interface {
                    fields: f,
                    possible_types: p,
                    ..
                } => {
                    fields += f.len();
                    args += f.values().map(|field| field.args.len()).sum::<usize>();
                    possible += p.len();
                }
                MetaType::Union {
                    possible_types: p, ..
                } => possible += p.len(),
                MetaType::Enum { enum_values, .. } => values += enum_values.len(),
                MetaType::InputObject { input_fields, .. } => inputs += input_fields.len(),
                MetaType::Scalar { .. } => {}
            }
        }
        let implements: usize = registry.implements.values().map(|i| i.len()).sum();
        Factors {
            types,
            fields: mean(fields, types),
            args: mean(args, fields),
            input_fields: mean(inputs, types),
            enum_values: mean(values, types),
            possible_types: mean(possible, types),
            interfaces: mean(implements, types),
            directives: registry.directives.len().max(1),
        }
    }

    fn of_field(&self, name: &str) -> usize {
        match name {
            "types" => self.types,
            "fields" => self.fields,
            "args" => self.args,
            "inputFields" => self.input_fields,
            "enumValues" => self.enum_values,
            "possibleTypes" => self.possible_types,
            "interfaces" => self.interfaces,
            "directives" => self.directives,
            _ => 1,
        }
    }
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    factors: Option<Factors>,
    registry: &'a Registry,
    /// Stop counting past this: the request is refused anyway.
    cap: usize,
    cost: DocumentCost,
}

/// Measures `document` (every operation) and `variables` against `registry`.
/// Counting stops once either count passes `cap`.
pub fn measure(
    document: &ExecutableDocument,
    variables: &Variables,
    registry: &Registry,
    cap: usize,
) -> DocumentCost {
    let mut walk = Walk {
        document,
        factors: None,
        registry,
        cap,
        cost: DocumentCost::default(),
    };
    for (name, value) in variables.iter() {
        if walk.cost.nul_in.is_none() && has_nul(value) {
            walk.cost.nul_in = Some(format!("${name}"));
        }
    }
    for (_, operation) in document.operations.iter() {
        walk.selections(&operation.node.selection_set.node, 0, None);
    }
    walk.cost
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::List(items) => items.iter().any(has_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k.as_str().contains('\0') || has_nul(v)),
        _ => false,
    }
}

impl Walk<'_> {
    fn over(&self) -> bool {
        self.cost.aliases > self.cap
            || self.cost.introspection > self.cap
            || self.cost.fields > self.cap
    }

    /// Walks `set`; `introspection` is the multiplier of the enclosing
    /// introspection selection, if inside one. Returns the introspection cost
    /// of `set` (one per field, lists multiplied).
    fn selections(
        &mut self,
        set: &SelectionSet,
        nesting: usize,
        introspection: Option<usize>,
    ) -> usize {
        if nesting > MAX_NESTING {
            return 0;
        }
        let mut cost = 0usize;
        for item in &set.items {
            if self.over() {
                return cost;
            }
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    self.cost.fields += 1;
                    if field.alias.is_some() {
                        self.cost.aliases += 1;
                    }
                    for (argument, value) in &field.arguments {
                        // Variables are checked as sent; here they count as null.
                        let literal = value
                            .node
                            .clone()
                            .into_const_with(|_| Ok::<_, ()>(Value::Null))
                            .unwrap_or(Value::Null);
                        if self.cost.nul_in.is_none() && has_nul(&literal) {
                            self.cost.nul_in = Some(argument.node.to_string());
                        }
                    }
                    let name = field.name.node.as_str();
                    let entering = introspection.is_none() && is_introspection_root(name);
                    if entering || introspection.is_some() {
                        let factor = self.factor(name);
                        let children =
                            self.selections(&field.selection_set.node, nesting + 1, Some(factor));
                        let here = factor.saturating_mul(1usize.saturating_add(children));
                        cost = cost.saturating_add(here);
                        if entering {
                            self.cost.introspection = self.cost.introspection.saturating_add(here);
                        }
                    } else {
                        self.selections(&field.selection_set.node, nesting + 1, None);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let inner = self.selections(
                        &fragment.node.selection_set.node,
                        nesting + 1,
                        introspection,
                    );
                    cost = cost.saturating_add(inner);
                }
                Selection::FragmentSpread(spread) => {
                    // Counted as a step, so spreads of empty fragments add up too.
                    self.cost.fields += 1;
                    let document = self.document;
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        let inner = self.selections(
                            &fragment.node.selection_set.node,
                            nesting + 1,
                            introspection,
                        );
                        cost = cost.saturating_add(inner);
                    }
                }
            }
        }
        cost
    }

    fn factor(&mut self, name: &str) -> usize {
        let registry = self.registry;
        self.factors
            .get_or_insert_with(|| Factors::of(registry))
            .of_field(name)
    }
}

fn is_introspection_root(name: &str) -> bool {
    name == "__schema" || name == "__type"
}
