//! Catalog queries answered from a snapshot, asserting values: ownership through
//! subgroups and memberships, members, ancestors, dependency walks with depth and APIs,
//! filter + sort + keyset pages, facet counts, search ranking, prefixes and near misses.

use almanac_readmodel::{
    Direction, Facet, FacetField, Filter, OrderDirection, OrderField, OrderKey, OwnedScope,
    Snapshot, TextQuery, WalkEdge, WalkLimits,
};
use serde_json::{json, Value};
use std::sync::Arc;

use crate::log::Log;

fn entity(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": name },
        "spec": spec,
    })
}

fn component(name: &str, owner: &str, spec: Value) -> Value {
    let mut d = entity("Component", name, spec);
    d["spec"]["owner"] = json!(owner);
    d["spec"]["lifecycle"] = json!("production");
    if d["spec"].get("type").is_none() {
        d["spec"]["type"] = json!("service");
    }
    d
}

fn group(name: &str, parent: Option<&str>, members: &[&str]) -> Value {
    let mut spec = json!({ "type": "team", "children": [], "members": members });
    if let Some(parent) = parent {
        spec["parent"] = json!(parent);
    }
    entity("Group", name, spec)
}

/// An organisation, its teams, their services, and a dependency chain through an API.
fn catalog() -> Snapshot {
    let mut log = Log::default();
    log.put(group("org", None, &[]));
    log.put(group("eng", Some("org"), &["bob"]));
    log.put(group("sales", Some("org"), &[]));
    log.put(group("platform", Some("eng"), &["alice"]));
    log.put(group("payments-team", Some("eng"), &["carol"]));
    log.put(entity("User", "alice", json!({ "memberOf": ["platform"] })));
    log.put(entity("User", "bob", json!({ "memberOf": [] })));
    log.put(entity("User", "carol", json!({ "memberOf": [] })));
    log.put(entity(
        "Resource",
        "db",
        json!({ "type": "database", "owner": "platform" }),
    ));
    log.put(component(
        "ledger",
        "platform",
        json!({ "dependsOn": ["resource:db"] }),
    ));
    log.put(component(
        "payments",
        "payments-team",
        json!({
            "dependsOn": ["component:ledger"], "providesApis": ["payments-api"],
        }),
    ));
    log.put(component(
        "checkout",
        "payments-team",
        json!({
            "consumesApis": ["payments-api"], "type": "website",
        }),
    ));
    log.put(component("crm", "sales", json!({})));
    log.put(component("wiki", "eng", json!({ "type": "website" })));
    let mut api = entity(
        "API",
        "payments-api",
        json!({
            "type": "openapi", "lifecycle": "production", "owner": "payments-team",
            "definition": "openapi: 3.0.0",
        }),
    );
    api["metadata"]["description"] = json!("Take payments for orders");
    log.put(api);
    // A service that was there and is gone: it must not count anywhere.
    let gone = log.put(component(
        "legacy",
        "platform",
        json!({ "dependsOn": ["resource:db"] }),
    ));
    log.remove(&gone);
    Snapshot::from_log(&log.events).snapshot
}

fn refs<'a>(
    items: impl IntoIterator<Item = &'a std::sync::Arc<almanac_readmodel::Entity>>,
) -> Vec<String> {
    items
        .into_iter()
        .map(|e| e.entity_ref.to_string())
        .collect()
}

#[test]
fn an_entity_by_ref_carries_its_summary_and_both_directions_of_its_relations() {
    let snapshot = catalog();
    let payments = snapshot.entity("component:default/payments").unwrap();
    assert_eq!(
        payments.owner_ref.as_deref(),
        Some("group:default/payments-team")
    );
    assert_eq!(payments.spec_type.as_deref(), Some("service"));
    assert!(snapshot.entity("component:default/legacy").is_none());
    let hops: Vec<(String, &str, String)> = snapshot
        .relations_from("component:default/payments")
        .iter()
        .map(|r| {
            (
                r.relation.as_str().to_string(),
                r.field.as_str(),
                r.target_ref.to_string(),
            )
        })
        .collect();
    assert_eq!(
        hops,
        vec![
            (
                "dependsOn".into(),
                "spec.dependsOn",
                "component:default/ledger".into()
            ),
            (
                "ownedBy".into(),
                "spec.owner",
                "group:default/payments-team".into()
            ),
            (
                "providesApi".into(),
                "spec.providesApis",
                "api:default/payments-api".into()
            ),
        ]
    );
    // The inverse, declared by payments, read from the ledger's side.
    let back = snapshot.relations_from("component:default/ledger");
    let dependency_of = back
        .iter()
        .find(|r| r.relation.as_str() == "dependencyOf")
        .unwrap();
    assert_eq!(&**dependency_of.target_ref, "component:default/payments");
    assert_eq!(&**dependency_of.declared_by, "component:default/payments");
    // A membership declared from both sides is one edge.
    let members: Vec<_> = snapshot
        .relations_from("group:default/platform")
        .into_iter()
        .filter(|r| r.relation.as_str() == "hasMember")
        .collect();
    assert_eq!(members.len(), 1);
    assert_eq!(
        snapshot
            .relation_rows("group:default/platform")
            .filter(|r| r.relation.as_str() == "hasMember")
            .count(),
        2
    );
}

#[test]
fn owned_entities_reach_through_subgroups_and_page_with_a_total() {
    let snapshot = catalog();
    let direct = snapshot.owned_entities("group:default/eng", OwnedScope::Direct, 10, None);
    assert_eq!(refs(&direct.rows), vec!["component:default/wiki"]);
    let all = snapshot.owned_entities("group:default/eng", OwnedScope::Subgroups, 10, None);
    let expected = vec![
        "api:default/payments-api",
        "component:default/checkout",
        "component:default/ledger",
        "component:default/payments",
        "component:default/wiki",
        "resource:default/db",
    ];
    assert_eq!(refs(&all.rows), expected);
    assert_eq!((all.total, all.has_next), (6, false));
    let first = snapshot.owned_entities("group:default/org", OwnedScope::Subgroups, 4, None);
    assert_eq!(first.total, 7, "the org owns eng's and sales' entities");
    assert!(first.has_next);
    let last = first.rows.last().unwrap().entity_ref.clone();
    let second =
        snapshot.owned_entities("group:default/org", OwnedScope::Subgroups, 4, Some(&last));
    assert_eq!(
        refs(&second.rows),
        vec![
            "component:default/payments",
            "component:default/wiki",
            "resource:default/db"
        ]
    );
    assert_eq!((second.total, second.has_next), (7, false));
    let alice = snapshot.owned_entities("user:default/alice", OwnedScope::Memberships, 10, None);
    assert_eq!(
        refs(&alice.rows),
        vec!["component:default/ledger", "resource:default/db"]
    );
}

#[test]
fn members_and_ancestors_follow_the_group_tree() {
    let snapshot = catalog();
    let direct = snapshot.members("group:default/eng", false, 10, None);
    assert_eq!(refs(&direct.rows), vec!["user:default/bob"]);
    let all = snapshot.members("group:default/eng", true, 10, None);
    assert_eq!(
        refs(&all.rows),
        vec![
            "user:default/alice",
            "user:default/bob",
            "user:default/carol"
        ]
    );
    let ancestors: Vec<(u32, String)> = snapshot
        .ancestors("group:default/platform")
        .iter()
        .map(|a| (a.depth, a.entity.entity_ref.to_string()))
        .collect();
    assert_eq!(
        ancestors,
        vec![
            (1, "group:default/eng".into()),
            (2, "group:default/org".into())
        ]
    );
}

#[test]
fn dependents_are_found_transitively_with_depth_and_through_apis() {
    let snapshot = catalog();
    let limits = WalkLimits {
        max_depth: 5,
        max_nodes: 100,
    };
    let walk = snapshot.walk_dependencies("resource:default/db", Direction::Incoming, true, limits);
    let reached: Vec<(String, u32, Option<String>)> = walk
        .reached
        .iter()
        .map(|r| {
            (
                r.entity_ref.to_string(),
                r.depth,
                r.via.as_deref().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        reached,
        vec![
            ("component:default/ledger".into(), 1, None),
            ("component:default/payments".into(), 2, None),
            (
                "component:default/checkout".into(),
                3,
                Some("api:default/payments-api".into())
            ),
        ]
    );
    assert_eq!(
        walk.path(&walk.reached[2].entity_ref)
            .iter()
            .map(|p| &**p)
            .collect::<Vec<_>>(),
        vec![
            "resource:default/db",
            "component:default/ledger",
            "component:default/payments",
            "component:default/checkout"
        ]
    );
    assert!(!walk.truncated);
    assert_eq!(&*walk.reached[2].previous, "component:default/payments");
    assert!(walk.path("component:default/nowhere").is_empty());
    assert!(walk.edges(&snapshot).contains(&WalkEdge {
        dependent: Arc::from("component:default/checkout"),
        dependency: Arc::from("component:default/payments"),
        via: Some(Arc::from("api:default/payments-api")),
    }));
    // Without APIs the chain ends at payments; with depth 2 the walk says it was cut.
    let direct =
        snapshot.walk_dependencies("resource:default/db", Direction::Incoming, false, limits);
    assert_eq!(direct.reached.len(), 2);
    let short = WalkLimits {
        max_depth: 2,
        max_nodes: 100,
    };
    let cut = snapshot.walk_dependencies("resource:default/db", Direction::Incoming, true, short);
    assert_eq!(cut.reached.len(), 2);
    assert!(cut.truncated);
    // Outgoing from checkout: payments through the API, then ledger, then db.
    let out = snapshot.walk_dependencies(
        "component:default/checkout",
        Direction::Outgoing,
        true,
        limits,
    );
    let depths: Vec<(String, u32)> = out
        .reached
        .iter()
        .map(|r| (r.entity_ref.to_string(), r.depth))
        .collect();
    assert_eq!(
        depths,
        vec![
            ("component:default/payments".into(), 1),
            ("component:default/ledger".into(), 2),
            ("resource:default/db".into(), 3),
        ]
    );
}

#[test]
fn filter_sort_and_keyset_pages_cut_at_the_right_rows() {
    let snapshot = catalog();
    let filter = Filter::All(vec![
        Filter::Kind(vec!["COMPONENT".into()]),
        Filter::Not(Box::new(Filter::Owner(vec!["group:default/sales".into()]))),
    ]);
    let order = [OrderKey {
        field: OrderField::Type,
        direction: OrderDirection::Desc,
    }];
    assert_eq!(snapshot.count_entities(&filter), 4);
    let page = snapshot.list_entities(&filter, &order, 3, None);
    let names: Vec<&str> = page.rows.iter().map(|r| &*r.entity.name).collect();
    // website first (desc), ties by ref: checkout before wiki; then the services by ref.
    assert_eq!(names, vec!["checkout", "wiki", "ledger"]);
    assert!(page.has_next);
    assert_eq!(page.rows[2].sort_keys, vec!["service".to_string()]);
    let last = &page.rows[2];
    let next = snapshot.list_entities(
        &filter,
        &order,
        3,
        Some((&last.sort_keys, &last.entity.entity_ref)),
    );
    let names: Vec<&str> = next.rows.iter().map(|r| &*r.entity.name).collect();
    assert_eq!(names, vec!["payments"]);
    assert!(!next.has_next);
    // "Not" over a missing value is true: groups and users have no lifecycle.
    let no_lifecycle = Filter::Not(Box::new(Filter::Lifecycle(vec!["production".into()])));
    assert_eq!(snapshot.count_entities(&no_lifecycle), 9);
    // Empty combinations are constants.
    assert_eq!(
        snapshot.count_entities(&Filter::all()),
        snapshot.len() as i64
    );
    assert_eq!(snapshot.count_entities(&Filter::Any(vec![])), 0);
}

#[test]
fn facets_count_values_over_the_filtered_set() {
    let snapshot = catalog();
    let owners = snapshot.facets(
        FacetField::Owner,
        &Filter::Kind(vec!["component".into()]),
        10,
    );
    assert_eq!(
        owners,
        vec![
            Facet {
                value: "group:default/payments-team".into(),
                count: 2
            },
            Facet {
                value: "group:default/eng".into(),
                count: 1
            },
            Facet {
                value: "group:default/platform".into(),
                count: 1
            },
            Facet {
                value: "group:default/sales".into(),
                count: 1
            },
        ]
    );
    let kinds = snapshot.facets(FacetField::Kind, &Filter::all(), 2);
    assert_eq!(
        kinds,
        vec![
            Facet {
                value: "Component".into(),
                count: 5
            },
            Facet {
                value: "Group".into(),
                count: 5
            },
        ]
    );
}

#[test]
fn search_ranks_names_first_and_finds_prefixes_and_near_misses() {
    let snapshot = catalog();
    let search = |text: &str| -> Vec<String> {
        let query = TextQuery::parse(text).unwrap();
        let page = snapshot.search(&query, &Filter::all(), 10, None);
        page.rows
            .iter()
            .map(|r| r.entity.name.to_string())
            .collect()
    };
    // The exact name first, then names it prefixes, then the description's word.
    assert_eq!(
        search("payments"),
        vec!["payments", "payments-api", "payments-team"]
    );
    assert_eq!(search("ledg"), vec!["ledger"], "a prefix");
    assert_eq!(
        search("ORDERS"),
        vec!["payments-api"],
        "a whole word of the description"
    );
    assert_eq!(search("ledgr"), vec!["ledger"], "a near miss");
    assert_eq!(search("checkot"), vec!["checkout"], "a near miss");
    assert!(search("zzzz").is_empty());
    let query = TextQuery::parse("payments").unwrap();
    assert_eq!(snapshot.count_search(&query, &Filter::all()), 3);
    assert_eq!(
        snapshot.count_search(&query, &Filter::Kind(vec!["api".into()])),
        1
    );
    // Keyset on (score, ref): the second page starts after the first's last row.
    let first = snapshot.search(&query, &Filter::all(), 1, None);
    assert!(first.has_next);
    assert_eq!(first.total, 3);
    let after = (first.rows[0].score, &*first.rows[0].entity.entity_ref);
    let second = snapshot.search(&query, &Filter::all(), 5, Some(after));
    assert_eq!((second.total, second.has_next), (3, false));
    let names: Vec<&str> = second.rows.iter().map(|r| &*r.entity.name).collect();
    assert_eq!(names, vec!["payments-api", "payments-team"]);
    // Text inside a filter tree.
    let text = Filter::Text(TextQuery::parse("ledg").unwrap());
    assert_eq!(snapshot.count_entities(&text), 1);
}

#[test]
fn an_api_held_elided_keeps_every_summary_field_and_is_found_by_search() {
    let definition = format!("openapi: 3.0.3\n{}", "# padding\n".repeat(20_000));
    let mut api = entity(
        "API",
        "ledger-api",
        json!({
            "type": "openapi", "lifecycle": "production", "owner": "platform",
            "system": "money", "definition": definition,
        }),
    );
    api["metadata"] = json!({
        "name": "ledger-api", "title": "Ledger API", "description": "Double-entry postings",
        "tags": ["rest", "money"], "labels": { "tier": "1" },
        "annotations": { "example.com/runbook": "https://runbooks/ledger" },
        "links": [{ "url": "https://docs/ledger", "title": "Docs" }],
    });
    let mut log = Log::default();
    log.put(api);
    let snapshot = Snapshot::from_log(&log.events).snapshot;
    let held = snapshot.entity("api:default/ledger-api").expect("live");
    assert!(held.elided);
    assert!(
        held.descriptor_json.len() < 1_000,
        "{}",
        held.descriptor_json
    );
    let stub = held.descriptor()["spec"]["definition"].clone();
    assert_eq!(
        stub.as_str().map(|s| s.starts_with("almanac:elided:")),
        Some(true)
    );
    assert_eq!(&*held.kind, "API");
    assert_eq!(held.title.as_deref(), Some("Ledger API"));
    assert_eq!(held.description.as_deref(), Some("Double-entry postings"));
    assert_eq!(held.spec_type.as_deref(), Some("openapi"));
    assert_eq!(held.lifecycle.as_deref(), Some("production"));
    assert_eq!(held.owner_ref.as_deref(), Some("group:default/platform"));
    assert_eq!(held.system_ref.as_deref(), Some("system:default/money"));
    assert_eq!(&*held.tags, ["rest".into(), "money".into()]);
    assert_eq!(held.labels.get("tier"), Some("1"));
    assert_eq!(
        held.annotations.get("example.com/runbook"),
        Some("https://runbooks/ledger")
    );
    assert_eq!(held.links.len(), 1);
    let rows: Vec<(&str, &str)> = snapshot
        .relation_rows("api:default/ledger-api")
        .map(|r| (r.relation.as_str(), &**r.target_ref))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("ownedBy", "group:default/platform"),
            ("partOf", "system:default/money")
        ]
    );
    let found = snapshot.search(
        &TextQuery::parse("postings").expect("valid"),
        &Filter::all(),
        10,
        None,
    );
    assert_eq!(found.total, 1);
}

/// Annotation and label keys and values are held once per build, shared by every entity
/// carrying them (ingest gives each entity the same two annotation keys, and the entities
/// of one file the same location): the texts read back are the descriptor's, and equal
/// texts are one allocation.
#[test]
fn annotations_and_labels_read_back_as_written_and_equal_texts_are_shared() {
    let annotated = |name: &str, file: &str| {
        let mut d = component(name, "team", json!({}));
        d["metadata"]["annotations"] = json!({
            "backstage.io/managed-by-location": format!("file:/srv/{file}.yaml"),
            "backstage.io/managed-by-origin-location": "file:/srv/catalog-info.yaml",
        });
        d["metadata"]["labels"] = json!({ "tier": "1", "Team": name });
        d
    };
    let mut log = Log::default();
    let a = log.put(annotated("a", "one"));
    let b = log.put(annotated("b", "one"));
    let c = log.put(annotated("c", "two"));
    let snapshot = Snapshot::from_log(&log.events).snapshot;
    let held = |r: &str| snapshot.entity(r).expect("live").clone();
    let (a, b, c) = (held(&a), held(&b), held(&c));
    for (entity, file) in [(&a, "one"), (&b, "one"), (&c, "two")] {
        let location = format!("file:/srv/{file}.yaml");
        assert_eq!(
            entity.annotations.iter().collect::<Vec<_>>(),
            vec![
                ("backstage.io/managed-by-location", location.as_str()),
                (
                    "backstage.io/managed-by-origin-location",
                    "file:/srv/catalog-info.yaml"
                ),
            ]
        );
        assert_eq!(entity.source(), Some(location.as_str()));
        assert_eq!(entity.labels.get("tier"), Some("1"));
        assert_eq!(entity.labels.get("Team"), Some(&*entity.name));
        assert_eq!(
            entity.descriptor()["metadata"]["labels"]["tier"],
            json!("1")
        );
    }
    let texts = |e: &almanac_readmodel::Entity| -> Vec<*const u8> {
        e.annotations
            .iter()
            .flat_map(|(k, v)| [k.as_ptr(), v.as_ptr()])
            .collect()
    };
    // Same keys, same location and origin: one text each.
    assert_eq!(texts(&a), texts(&b));
    let (ta, tc) = (texts(&a), texts(&c));
    assert_eq!((ta[0], ta[2], ta[3]), (tc[0], tc[2], tc[3]));
    assert_ne!(ta[1], tc[1]);
}
