//! The filters and facets over relations, transitive owners, systems, domains, dotted
//! paths, dangling relations, and the bounds of their inputs, asserting values on a small
//! catalog with two domains, three systems, an elided API definition and a dangling ref.

use almanac_domain::RelationType;
use almanac_readmodel::{
    check_values, Facet, FacetField, FieldPath, Filter, FilterInputError, OrderDirection,
    OrderField, OrderKey, PathTest, Snapshot, MAX_FILTER_VALUES, MAX_PATH_BYTES, MAX_PATH_SEGMENTS,
};
use serde_json::{json, Value};

use crate::log::Log;

fn entity(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": name },
        "spec": spec,
    })
}

fn group(name: &str, parent: Option<&str>, members: &[&str]) -> Value {
    let mut spec = json!({ "type": "team", "children": [], "members": members });
    if let Some(parent) = parent {
        spec["parent"] = json!(parent);
    }
    entity("Group", name, spec)
}

fn component(name: &str, owner: &str, lifecycle: &str, system: Option<&str>) -> Value {
    let mut d = entity(
        "Component",
        name,
        json!({ "type": "service", "lifecycle": lifecycle, "owner": owner }),
    );
    if let Some(system) = system {
        d["spec"]["system"] = json!(system);
    }
    d
}

/// Two domains, three systems, components in and out of them; labels, annotations with
/// dotted keys, spec scalars, an API whose definition is held elided, a dangling ref.
fn catalog() -> Snapshot {
    let mut log = Log::default();
    log.put(group("org", None, &[]));
    log.put(group("eng", Some("org"), &[]));
    log.put(group("platform", Some("eng"), &["alice"]));
    log.put(group("payments-team", Some("eng"), &[]));
    log.put(group("sales", Some("org"), &[]));
    log.put(entity("User", "alice", json!({ "memberOf": ["platform"] })));
    log.put(entity("Domain", "commerce", json!({ "owner": "eng" })));
    log.put(entity("Domain", "internal", json!({ "owner": "eng" })));
    log.put(entity(
        "System",
        "payments",
        json!({ "owner": "payments-team", "domain": "commerce" }),
    ));
    log.put(entity(
        "System",
        "shop",
        json!({ "owner": "sales", "domain": "commerce" }),
    ));
    log.put(entity("System", "tooling", json!({ "owner": "platform" })));
    let mut ledger = component("ledger", "payments-team", "production", Some("payments"));
    ledger["metadata"]["labels"] = json!({ "tier": "1", "pci": "true" });
    ledger["metadata"]["annotations"] =
        json!({ "backstage.io/techdocs-ref": "dir:.", "example.com/on-call": "payments" });
    ledger["metadata"]["tags"] = json!(["java", "money"]);
    ledger["spec"]["replicas"] = json!(3);
    ledger["spec"]["public"] = json!(false);
    ledger["spec"]["consumesApis"] = json!(["fx-api"]);
    log.put(ledger);
    let mut payouts = component("payouts", "payments-team", "production", Some("payments"));
    payouts["metadata"]["labels"] = json!({ "tier": "2" });
    payouts["spec"]["consumesApis"] = json!(["fx-api", "gone-api"]);
    log.put(payouts);
    let mut refunds = component("refunds", "platform", "Production", Some("payments"));
    refunds["metadata"]["labels"] = json!({ "tier": "1" });
    log.put(refunds);
    log.put(component(
        "fraud-model",
        "platform",
        "experimental",
        Some("payments"),
    ));
    log.put(component("cart", "sales", "production", Some("shop")));
    log.put(component(
        "linter",
        "platform",
        "production",
        Some("tooling"),
    ));
    log.put(component("wiki", "eng", "production", None));
    let definition = format!("openapi: 3.0.3\n{}", "# padding\n".repeat(1_000));
    log.put(entity(
        "API",
        "fx-api",
        json!({
            "type": "openapi", "lifecycle": "production", "owner": "payments-team",
            "system": "payments", "definition": definition,
        }),
    ));
    Snapshot::from_log(&log.events).snapshot
}

fn names(snapshot: &Snapshot, filter: &Filter) -> Vec<String> {
    let order = [OrderKey {
        field: OrderField::Name,
        direction: OrderDirection::Asc,
    }];
    let page = snapshot.list_entities(filter, &order, 100, None);
    assert!(!page.has_next);
    assert_eq!(
        snapshot.count_entities(filter),
        page.rows.len() as i64,
        "the count agrees with the list for {filter:?}"
    );
    page.rows
        .iter()
        .map(|r| r.entity.name.to_string())
        .collect()
}

fn path(text: &str, test: PathTest) -> Filter {
    Filter::Path {
        path: FieldPath::parse(text).unwrap(),
        test,
    }
}

fn equals(values: &[&str]) -> PathTest {
    PathTest::Equals(values.iter().map(|v| v.to_string()).collect())
}

fn facets(pairs: &[(&str, i64)]) -> Vec<Facet> {
    pairs
        .iter()
        .map(|(value, count)| Facet {
            value: value.to_string(),
            count: *count,
        })
        .collect()
}

#[test]
fn a_relation_filter_reads_edges_both_ways_with_or_without_a_target() {
    let snapshot = catalog();
    let part_of = |target: &str| Filter::Relation {
        relation: RelationType::PartOf,
        target: Some(target.into()),
    };
    assert_eq!(
        names(&snapshot, &part_of("system:default/payments")),
        vec!["fraud-model", "fx-api", "ledger", "payouts", "refunds"]
    );
    // The inverse, declared by the component: the system has it as a part.
    let has_part = Filter::Relation {
        relation: RelationType::HasPart,
        target: Some("component:default/cart".into()),
    };
    assert_eq!(names(&snapshot, &has_part), vec!["shop"]);
    let consumes = Filter::Relation {
        relation: RelationType::ConsumesApi,
        target: Some("api:default/fx-api".into()),
    };
    assert_eq!(names(&snapshot, &consumes), vec!["ledger", "payouts"]);
    // A target that does not exist still has its declared edges.
    let consumes_gone = Filter::Relation {
        relation: RelationType::ConsumesApi,
        target: Some("api:default/gone-api".into()),
    };
    assert_eq!(names(&snapshot, &consumes_gone), vec!["payouts"]);
    // No target: any edge of the type.
    let any_part = Filter::Relation {
        relation: RelationType::HasPart,
        target: None,
    };
    assert_eq!(
        names(&snapshot, &any_part),
        vec!["commerce", "payments", "shop", "tooling"]
    );
    assert_eq!(
        names(
            &snapshot,
            &Filter::Not(Box::new(part_of("system:default/payments")))
        )
        .len(),
        snapshot.len() - 5
    );
}

#[test]
fn a_transitive_owner_is_a_group_and_its_subgroups_or_a_user_and_their_groups() {
    let snapshot = catalog();
    let owned = |roots: &[&str]| {
        names(
            &snapshot,
            &Filter::All(vec![
                Filter::Kind(vec!["component".into()]),
                Filter::OwnerTransitive(roots.iter().map(|r| r.to_string()).collect()),
            ]),
        )
    };
    assert_eq!(
        owned(&["group:default/eng"]),
        vec![
            "fraud-model",
            "ledger",
            "linter",
            "payouts",
            "refunds",
            "wiki"
        ]
    );
    assert_eq!(
        owned(&["group:default/org"]),
        vec![
            "cart",
            "fraud-model",
            "ledger",
            "linter",
            "payouts",
            "refunds",
            "wiki"
        ]
    );
    // A user: what they own and what the groups they are a member of own.
    assert_eq!(
        owned(&["user:default/alice"]),
        vec!["fraud-model", "linter", "refunds"]
    );
    // A leaf group is its own tree; lists are any-of.
    assert_eq!(
        owned(&["group:default/sales", "group:default/platform"]),
        vec!["cart", "fraud-model", "linter", "refunds"]
    );
}

#[test]
fn system_and_domain_filters_follow_spec_system_and_the_systems_domain() {
    let snapshot = catalog();
    assert_eq!(
        names(
            &snapshot,
            &Filter::System(vec!["system:default/shop".into()])
        ),
        vec!["cart"]
    );
    assert_eq!(
        names(
            &snapshot,
            &Filter::Domain(vec!["domain:default/commerce".into()])
        ),
        vec![
            "cart",
            "fraud-model",
            "fx-api",
            "ledger",
            "payments",
            "payouts",
            "refunds",
            "shop"
        ]
    );
    // No system, or a system in no domain: not in any domain; `not` is total.
    let outside = Filter::All(vec![
        Filter::Kind(vec!["component".into()]),
        Filter::Not(Box::new(Filter::Domain(vec![
            "domain:default/commerce".into()
        ]))),
    ]);
    assert_eq!(names(&snapshot, &outside), vec!["linter", "wiki"]);
    assert!(names(
        &snapshot,
        &Filter::Domain(vec!["domain:default/internal".into()])
    )
    .is_empty());
}

#[test]
fn path_filters_read_metadata_and_spec_by_dotted_paths() {
    let snapshot = catalog();
    // A held field (left out of the descriptor text) and case-insensitive values.
    assert_eq!(
        names(
            &snapshot,
            &Filter::All(vec![
                Filter::System(vec!["system:default/payments".into()]),
                path("spec.lifecycle", equals(&["production"])),
            ])
        ),
        vec!["fx-api", "ledger", "payouts", "refunds"]
    );
    // Keys compare case-insensitively too, as Backstage's filters do.
    assert_eq!(
        names(
            &snapshot,
            &path("Spec.Lifecycle", equals(&["experimental"]))
        ),
        vec!["fraud-model"]
    );
    // `in`: any of the values.
    assert_eq!(
        names(
            &snapshot,
            &path("metadata.labels.tier", equals(&["1", "2"]))
        ),
        vec!["ledger", "payouts", "refunds"]
    );
    // A key with dots in it is written whole.
    assert_eq!(
        names(
            &snapshot,
            &path(
                "metadata.annotations.backstage.io/techdocs-ref",
                PathTest::Exists
            )
        ),
        vec!["ledger"]
    );
    assert_eq!(
        names(
            &snapshot,
            &path(
                "metadata.annotations.example.com/on-call",
                equals(&["PAYMENTS"])
            )
        ),
        vec!["ledger"]
    );
    // Through arrays: any element.
    assert_eq!(
        names(&snapshot, &path("metadata.tags", equals(&["money"]))),
        vec!["ledger"]
    );
    assert_eq!(
        names(&snapshot, &path("spec.consumesApis", equals(&["gone-api"]))),
        vec!["payouts"]
    );
    // Numbers and booleans as JSON writes them.
    assert_eq!(
        names(&snapshot, &path("spec.replicas", equals(&["3"]))),
        vec!["ledger"]
    );
    assert_eq!(
        names(&snapshot, &path("spec.public", equals(&["false"]))),
        vec!["ledger"]
    );
    // Objects exist; a path through a scalar reaches nothing.
    assert_eq!(
        names(&snapshot, &path("metadata.labels", PathTest::Exists)),
        vec!["ledger", "payouts", "refunds"]
    );
    assert!(names(&snapshot, &path("spec.type.more", PathTest::Exists)).is_empty());
    // `exists: false` is `not exists`.
    let no_system = Filter::All(vec![
        Filter::Kind(vec!["component".into()]),
        Filter::Not(Box::new(path("spec.system", PathTest::Exists))),
    ]);
    assert_eq!(names(&snapshot, &no_system), vec!["wiki"]);
    // The kind as written, held apart from the descriptor text.
    assert_eq!(
        names(&snapshot, &path("kind", equals(&["api"]))),
        vec!["fx-api"]
    );
}

#[test]
fn an_elided_leaf_exists_but_equals_nothing_and_is_no_facet_value() {
    let snapshot = catalog();
    let api = snapshot.entity("api:default/fx-api").unwrap();
    assert!(api.elided, "the definition is held as a stub");
    assert_eq!(
        names(&snapshot, &path("spec.definition", PathTest::Exists)),
        vec!["fx-api"]
    );
    let stub = api.descriptor()["spec"]["definition"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(names(&snapshot, &path("spec.definition", equals(&[&stub]))).is_empty());
    let definition = FieldPath::parse("spec.definition").unwrap();
    assert!(snapshot
        .path_facets(&definition, &Filter::all(), 10)
        .is_empty());
}

#[test]
fn dangling_relations_are_declared_edges_to_no_entity() {
    let snapshot = catalog();
    assert_eq!(
        names(&snapshot, &Filter::HasDanglingRelations),
        vec!["payouts"]
    );
    // Alice is a member of a group that exists; the org has no parent: nothing else.
    let not_dangling = Filter::Not(Box::new(Filter::HasDanglingRelations));
    assert_eq!(names(&snapshot, &not_dangling).len(), snapshot.len() - 1);
}

#[test]
fn facets_count_systems_domains_label_and_annotation_keys_and_paths() {
    let snapshot = catalog();
    let components = Filter::Kind(vec!["component".into()]);
    assert_eq!(
        snapshot.facets(FacetField::System, &Filter::all(), 10),
        facets(&[
            ("system:default/payments", 5),
            ("system:default/shop", 1),
            ("system:default/tooling", 1)
        ])
    );
    assert_eq!(
        snapshot.facets(FacetField::Domain, &components, 10),
        facets(&[("domain:default/commerce", 5)])
    );
    // Systems count for their own domain.
    assert_eq!(
        snapshot.facets(FacetField::Domain, &Filter::all(), 10),
        facets(&[("domain:default/commerce", 8)])
    );
    assert_eq!(
        snapshot.facets(FacetField::LabelKey, &Filter::all(), 10),
        facets(&[("tier", 3), ("pci", 1)])
    );
    assert_eq!(
        snapshot.facets(FacetField::AnnotationKey, &components, 10),
        facets(&[("backstage.io/techdocs-ref", 1), ("example.com/on-call", 1)])
    );
    let tier = FieldPath::parse("metadata.labels.tier").unwrap();
    assert_eq!(
        snapshot.path_facets(&tier, &Filter::all(), 10),
        facets(&[("1", 2), ("2", 1)])
    );
    // Values as written; each entity once per value; the limit cuts the least frequent.
    let lifecycle = FieldPath::parse("spec.lifecycle").unwrap();
    assert_eq!(
        snapshot.path_facets(&lifecycle, &components, 2),
        facets(&[("production", 5), ("Production", 1)])
    );
    let apis = FieldPath::parse("spec.consumesApis").unwrap();
    assert_eq!(
        snapshot.path_facets(&apis, &Filter::all(), 10),
        facets(&[("fx-api", 2), ("gone-api", 1)])
    );
}

#[test]
fn production_components_of_a_system_come_in_pages_from_one_filter() {
    let snapshot = catalog();
    let filter = Filter::All(vec![
        Filter::Kind(vec!["component".into()]),
        path("spec.lifecycle", equals(&["production"])),
        Filter::Relation {
            relation: RelationType::PartOf,
            target: Some("system:default/payments".into()),
        },
    ]);
    let order = [OrderKey {
        field: OrderField::Name,
        direction: OrderDirection::Asc,
    }];
    let mut seen = Vec::new();
    let mut after: Option<(Vec<String>, String)> = None;
    loop {
        let cursor = after.as_ref().map(|(k, r)| (k.as_slice(), r.as_str()));
        let page = snapshot.list_entities(&filter, &order, 2, cursor);
        seen.push(
            page.rows
                .iter()
                .map(|r| r.entity.name.to_string())
                .collect::<Vec<_>>(),
        );
        let Some(last) = page.rows.last() else { break };
        after = Some((last.sort_keys.clone(), last.entity.entity_ref.to_string()));
        if !page.has_next {
            break;
        }
    }
    assert_eq!(
        seen,
        vec![vec!["ledger", "payouts"], vec!["refunds"]],
        "two pages, refunds' `Production` matching case-insensitively"
    );
    assert_eq!(snapshot.count_entities(&filter), 3);
}

#[test]
fn paths_and_value_lists_are_bounded_with_the_limit_named() {
    assert_eq!(FieldPath::parse(""), Err(FilterInputError::EmptyPath));
    let long = "a".repeat(MAX_PATH_BYTES + 1);
    let err = FieldPath::parse(&long).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the path is {} bytes; the limit is 256", MAX_PATH_BYTES + 1)
    );
    let deep = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
    assert_eq!(
        FieldPath::parse(&deep).unwrap_err().to_string(),
        "the path has 17 segments; the limit is 16"
    );
    assert_eq!(
        FieldPath::parse("spec..type").unwrap_err().to_string(),
        "the path \"spec..type\" has an empty segment (a leading, trailing or doubled dot)"
    );
    assert!(FieldPath::parse("spec.type\n").is_err());
    let many: Vec<String> = (0..=MAX_FILTER_VALUES).map(|i| i.to_string()).collect();
    assert_eq!(
        check_values(&many).unwrap_err().to_string(),
        "the list has 101 values; the limit is 100"
    );
    assert_eq!(
        check_values(&["x".repeat(1025)]).unwrap_err().to_string(),
        "a value is 1025 bytes; the limit is 1024"
    );
    assert!(check_values(&["production".into()]).is_ok());
}

/// The usual `apiVersion` is left out of an entity's held text and put back whole: the
/// descriptor reads as written, path filters find it, and another version stays in the
/// text as it was.
#[test]
fn the_usual_api_version_is_left_out_of_the_held_text_and_read_back() {
    let mut log = crate::log::Log::default();
    let usual = log.put(json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "usual" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team" },
    }));
    let beta = log.put(json!({
        "apiVersion": "backstage.io/v1beta1", "kind": "Component",
        "metadata": { "name": "beta" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team" },
    }));
    let snapshot = Snapshot::from_log(&log.events).snapshot;
    let usual = snapshot.entity(&usual).unwrap();
    let beta = snapshot.entity(&beta).unwrap();
    assert!(!usual.descriptor_json.contains("apiVersion"));
    assert!(beta
        .descriptor_json
        .contains("\"apiVersion\":\"backstage.io/v1beta1\""));
    assert_eq!(
        usual.descriptor()["apiVersion"],
        json!("backstage.io/v1alpha1")
    );
    assert_eq!(
        beta.descriptor()["apiVersion"],
        json!("backstage.io/v1beta1")
    );
    assert_eq!(
        names(
            &snapshot,
            &path("apiVersion", equals(&["backstage.io/v1alpha1"]))
        ),
        vec!["usual"]
    );
    assert_eq!(
        names(
            &snapshot,
            &path("apiVersion", equals(&["backstage.io/v1beta1"]))
        ),
        vec!["beta"]
    );
    assert_eq!(
        names(&snapshot, &path("apiVersion", PathTest::Exists)),
        vec!["beta", "usual"]
    );
}
