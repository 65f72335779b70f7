//! One test per row of the relation table (`RULES` in `relations.rs`), and the rules
//! around it: default namespace, explicit kinds, both-sided facts.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::*;
use crate::entity::Entity;

/// A valid entity of `kind` in namespace `ns`: the kind's required spec fields, then `extra`.
fn entity(kind: &str, ns: &str, extra: Value) -> Result<Entity, crate::ValidationErrors> {
    let mut spec = match kind {
        "Component" => json!({"type": "service", "lifecycle": "production", "owner": "team-a"}),
        "API" => {
            json!({"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "x"})
        }
        "Resource" => json!({"type": "database", "owner": "team-a"}),
        "System" | "Domain" => json!({"owner": "team-a"}),
        "Group" => json!({"type": "team", "children": []}),
        "User" => json!({"memberOf": []}),
        "Template" => json!({"type": "service", "steps": []}),
        _ => json!({}),
    };
    for (key, value) in extra.as_object().unwrap() {
        spec[key] = value.clone();
    }
    let api_version = if kind == "Template" {
        "scaffolder.backstage.io/v1beta3"
    } else {
        "backstage.io/v1alpha1"
    };
    Entity::from_value(json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "me", "namespace": ns},
        "spec": spec
    }))
}

/// `(relation, target)` pairs the entity declares from `field`, targets in display form.
fn declared_from(kind: &str, extra: Value, field: &str) -> Vec<(String, String)> {
    entity(kind, "ns1", extra)
        .unwrap()
        .relations()
        .into_iter()
        .filter(|r| r.field == field)
        .map(|r| (r.relation.to_string(), r.target.to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn row_owner_of_every_owned_kind_defaults_to_group() {
    for kind in [
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Template",
    ] {
        assert_eq!(
            declared_from(kind, json!({"owner": "team-b"}), "spec.owner"),
            pairs(&[("ownedBy", "Group:ns1/team-b")]),
            "{kind}"
        );
    }
}

#[test]
fn row_component_subcomponent_of_defaults_to_component() {
    assert_eq!(
        declared_from(
            "Component",
            json!({"subcomponentOf": "parent"}),
            "spec.subcomponentOf"
        ),
        pairs(&[("partOf", "Component:ns1/parent")])
    );
}

#[test]
fn row_system_of_component_api_and_resource_defaults_to_system() {
    for kind in ["Component", "API", "Resource"] {
        assert_eq!(
            declared_from(kind, json!({"system": "shop"}), "spec.system"),
            pairs(&[("partOf", "System:ns1/shop")]),
            "{kind}"
        );
    }
}

#[test]
fn row_component_provides_apis_defaults_to_api() {
    assert_eq!(
        declared_from(
            "Component",
            json!({"providesApis": ["a", "b"]}),
            "spec.providesApis"
        ),
        pairs(&[("providesApi", "API:ns1/a"), ("providesApi", "API:ns1/b")])
    );
}

#[test]
fn row_component_consumes_apis_defaults_to_api() {
    assert_eq!(
        declared_from(
            "Component",
            json!({"consumesApis": ["a"]}),
            "spec.consumesApis"
        ),
        pairs(&[("consumesApi", "API:ns1/a")])
    );
}

#[test]
fn row_depends_on_of_component_and_resource_needs_a_kind() {
    for kind in ["Component", "Resource"] {
        assert_eq!(
            declared_from(
                kind,
                json!({"dependsOn": ["resource:db", "component:other/x"]}),
                "spec.dependsOn"
            ),
            pairs(&[
                ("dependsOn", "resource:ns1/db"),
                ("dependsOn", "component:other/x")
            ]),
            "{kind}"
        );
        let errors = entity(kind, "ns1", json!({"dependsOn": ["resource:db", "db"]})).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors}");
        assert_eq!(errors.0[0].field, "spec.dependsOn[1]");
        assert!(errors.0[0].message.contains("kind is required"), "{errors}");
    }
}

#[test]
fn row_dependency_of_of_component_and_resource_needs_a_kind() {
    for kind in ["Component", "Resource"] {
        assert_eq!(
            declared_from(
                kind,
                json!({"dependencyOf": ["component:web"]}),
                "spec.dependencyOf"
            ),
            pairs(&[("dependencyOf", "component:ns1/web")]),
            "{kind}"
        );
        let errors = entity(kind, "ns1", json!({"dependencyOf": ["web"]})).unwrap_err();
        assert_eq!(errors.0[0].field, "spec.dependencyOf[0]");
    }
}

#[test]
fn row_system_domain_defaults_to_domain() {
    assert_eq!(
        declared_from("System", json!({"domain": "commerce"}), "spec.domain"),
        pairs(&[("partOf", "Domain:ns1/commerce")])
    );
}

#[test]
fn row_domain_subdomain_of_defaults_to_domain() {
    assert_eq!(
        declared_from("Domain", json!({"subdomainOf": "top"}), "spec.subdomainOf"),
        pairs(&[("partOf", "Domain:ns1/top")])
    );
}

#[test]
fn row_user_member_of_defaults_to_group() {
    assert_eq!(
        declared_from(
            "User",
            json!({"memberOf": ["team-a", "team-b"]}),
            "spec.memberOf"
        ),
        pairs(&[
            ("memberOf", "Group:ns1/team-a"),
            ("memberOf", "Group:ns1/team-b")
        ])
    );
}

#[test]
fn row_group_parent_defaults_to_group() {
    assert_eq!(
        declared_from("Group", json!({"parent": "org"}), "spec.parent"),
        pairs(&[("childOf", "Group:ns1/org")])
    );
}

#[test]
fn row_group_children_defaults_to_group() {
    assert_eq!(
        declared_from("Group", json!({"children": ["sub-a"]}), "spec.children"),
        pairs(&[("parentOf", "Group:ns1/sub-a")])
    );
}

#[test]
fn row_group_members_defaults_to_user() {
    assert_eq!(
        declared_from("Group", json!({"members": ["jdoe"]}), "spec.members"),
        pairs(&[("hasMember", "User:ns1/jdoe")])
    );
}

#[test]
fn the_default_namespace_is_the_referring_entitys_own() {
    let e = entity(
        "Component",
        "payments",
        json!({"owner": "team-a", "system": "other/shop"}),
    )
    .unwrap();
    let targets: Vec<String> = e.relations().iter().map(|r| r.target.to_string()).collect();
    assert_eq!(targets, ["Group:payments/team-a", "System:other/shop"]);
    assert_eq!(e.relations()[0].source.to_string(), "Component:payments/me");
}

#[test]
fn an_explicit_kind_wins_whatever_the_field() {
    assert_eq!(
        declared_from("Component", json!({"owner": "user:jdoe"}), "spec.owner"),
        pairs(&[("ownedBy", "user:ns1/jdoe")])
    );
    assert_eq!(
        declared_from(
            "Group",
            json!({"members": ["Group:nested"]}),
            "spec.members"
        ),
        pairs(&[("hasMember", "Group:ns1/nested")])
    );
}

#[test]
fn fields_outside_a_kinds_rows_declare_nothing() {
    // API has no dependsOn row; System has no system row; Location and custom kinds none.
    let api = entity("API", "ns1", json!({"dependsOn": ["x"]})).unwrap();
    assert_eq!(api.relations().len(), 1); // just the owner
    let system = entity("System", "ns1", json!({"system": "x"})).unwrap();
    assert_eq!(system.relations().len(), 1);
    let location = entity("Location", "ns1", json!({"target": "./x.yaml"})).unwrap();
    assert!(location.relations().is_empty());
    let custom = Entity::from_value(json!({"apiVersion": "x.io/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"owner": "team-a"}}))
    .unwrap();
    assert!(custom.relations().is_empty());
}

#[test]
fn the_same_fact_from_both_sides_is_the_same_pair_of_edges() {
    let group = Entity::from_value(json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
        "metadata": {"name": "team-a"}, "spec": {"type": "team", "children": [], "members": ["jdoe"]}}))
    .unwrap();
    let user = Entity::from_value(
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User",
        "metadata": {"name": "jdoe"}, "spec": {"memberOf": ["team-a"]}}),
    )
    .unwrap();
    let from_group = group.relations()[0].edges();
    let from_user = user.relations()[0].edges();
    assert_eq!(from_group, from_user);
    let [first, second] = from_user;
    assert_eq!(first.1.inverse(), second.1);
}

#[test]
fn a_repeated_target_is_declared_once() {
    assert_eq!(
        declared_from(
            "Component",
            json!({"providesApis": ["a", "A", "api:a"]}),
            "spec.providesApis"
        ),
        pairs(&[("providesApi", "API:ns1/a")])
    );
}

/// Past the few a scan checks, repeats are still kept once, in the order first declared.
#[test]
fn repeated_targets_among_many_are_declared_once_in_first_order() {
    let names: Vec<String> = (0..40).map(|n| format!("api-{n}")).collect();
    // Each name twice, the second spelled with its kind: 80 declarations, 40 targets.
    let listed: Vec<String> = names
        .iter()
        .flat_map(|name| [name.clone(), format!("api:{name}")])
        .chain(names.iter().rev().cloned())
        .collect();
    let expected: Vec<(String, String)> = names
        .iter()
        .map(|name| ("providesApi".to_string(), format!("API:ns1/{name}")))
        .collect();
    assert_eq!(
        declared_from(
            "Component",
            json!({ "providesApis": listed }),
            "spec.providesApis"
        ),
        expected
    );
}

#[test]
fn relation_types_spell_parse_and_invert() {
    for relation in RelationType::ALL {
        assert_eq!(RelationType::parse(relation.as_str()), Some(relation));
        assert_eq!(relation.inverse().inverse(), relation);
        assert_ne!(relation.inverse(), relation);
        let json = serde_json::to_value(relation).unwrap();
        assert_eq!(json, Value::String(relation.as_str().into()));
    }
    assert_eq!(RelationType::parse("OwnedBy"), None);
    assert_eq!(RelationType::OwnedBy.inverse(), RelationType::OwnerOf);
    assert_eq!(
        RelationType::ProvidesApi.inverse().as_str(),
        "apiProvidedBy"
    );
}

/// The start-up fast path derives exactly the validating path's relations from every
/// descriptor that validates, and none where a reference does not parse (as validation
/// then refuses the descriptor): kinds × reference fields × many reference spellings
/// (default kinds, explicit kinds, other namespaces, case, duplicates, empty, bad refs,
/// over-long parts, non-strings), in seeded combinations.
#[test]
fn logged_descriptors_declare_what_validated_ones_declare() {
    let values: Vec<Value> = vec![
        json!("team-a"),
        json!("Team-B"),
        json!("group:other/team-c"),
        json!("other/team-d"),
        json!("component:svc-1"),
        json!("resource:default/db"),
        json!("API:payments"),
        json!("svc-2"),
        json!(""),
        json!("component:"),
        json!("a:b:c"),
        json!(format!("component:{}", "n".repeat(300))),
        json!(42),
        json!(["team-a", "team-a", "user:jo"]),
        json!(["resource:db", 7, "component:x/y"]),
        json!([]),
        json!(null),
    ];
    let fields = [
        "owner",
        "subcomponentOf",
        "system",
        "providesApis",
        "consumesApis",
        "dependsOn",
        "dependencyOf",
        "domain",
        "subdomainOf",
        "memberOf",
        "parent",
        "children",
        "members",
    ];
    let kinds = [
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Group",
        "User",
        "Template",
        "Widget",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = |below: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % below
    };
    let (mut valid, mut refused, mut declaring) = (0, 0, 0);
    for round in 0..2_000 {
        let kind = kinds[round % kinds.len()];
        let mut extra = serde_json::Map::new();
        for _ in 0..1 + next(4) {
            extra.insert(
                fields[next(fields.len())].to_string(),
                values[next(values.len())].clone(),
            );
        }
        let ns = ["default", "prod"][next(2)];
        let built = entity(kind, ns, Value::Object(extra.clone()));
        let mut descriptor = match &built {
            Ok(entity) => entity.descriptor().clone(),
            Err(_) => entity(kind, ns, json!({})).unwrap().into_descriptor(),
        };
        if built.is_err() {
            // Logged before a rule it fails: the spec as written, unvalidated.
            for (key, value) in &extra {
                descriptor["spec"][key] = value.clone();
            }
        }
        let logged = of_logged_descriptor(&descriptor);
        match of_descriptor(&descriptor) {
            Ok(validated) => {
                valid += 1;
                declaring += usize::from(!validated.is_empty());
                assert_eq!(logged, validated, "{descriptor}");
            }
            Err(errors) => {
                refused += 1;
                let by_references = declared(
                    &Kind::parse(kind),
                    &EntityRef::new(kind, ns, "me"),
                    &descriptor["spec"],
                )
                .1;
                if !by_references.is_empty() {
                    assert_eq!(logged, Vec::new(), "{descriptor}: {errors}");
                }
            }
        }
    }
    assert!(
        valid > 500 && refused > 200 && declaring > 300,
        "{valid} {refused} {declaring}"
    );
}
