//! A seeded random history of ingests, edits and removals: the snapshot advanced batch by
//! batch equals the one folded from the whole log at once and the one rebuilt entity by
//! entity with the domain's fold, and a snapshot once published never changes.

use std::collections::BTreeMap;

use almanac_domain::summary::Summary;
use almanac_domain::{CatalogEvent, Entity as DomainEntity};
use almanac_readmodel::entity::elide;
use almanac_readmodel::{
    Entity, FacetField, Filter, LogEvent, OrderDirection, OrderField, OrderKey, RelationRow,
    Relations, Snapshot,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::log::Log;

const WORDS: [&str; 12] = [
    "payments", "checkout", "ledger", "search", "billing", "gateway", "orders", "catalog",
    "identity", "metrics", "invoices", "shipping",
];

fn pick<'a>(rng: &mut StdRng, items: &'a [String]) -> &'a str {
    items.choose(rng).map(String::as_str).unwrap_or("x")
}

fn some<'a>(rng: &mut StdRng, items: &'a [String], most: usize) -> Vec<&'a str> {
    let n = rng.gen_range(0..=most);
    items.choose_multiple(rng, n).map(String::as_str).collect()
}

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| *WORDS.choose(rng).unwrap_or(&"x"))
        .collect::<Vec<_>>()
        .join(" ")
}

struct Names {
    components: Vec<String>,
    groups: Vec<String>,
    users: Vec<String>,
    apis: Vec<String>,
    resources: Vec<String>,
    systems: Vec<String>,
}

impl Names {
    fn new() -> Names {
        let n = |prefix: &str, count: usize| (0..count).map(|i| format!("{prefix}-{i}")).collect();
        Names {
            components: n("svc", 120),
            groups: n("team", 15),
            users: n("user", 25),
            apis: n("api", 20),
            resources: n("db", 10),
            systems: n("sys", 5),
        }
    }
}

/// A random valid descriptor for `(kind, name)`, pointing at random others.
fn descriptor(rng: &mut StdRng, names: &Names, kind: &str, name: &str) -> Value {
    let mut metadata = json!({ "name": name, "description": words(rng, 4) });
    if rng.gen_bool(0.5) {
        metadata["title"] = json!(words(rng, 2));
    }
    let count = rng.gen_range(0..3);
    let tags: Vec<&str> = ["java", "rust", "go", "critical"]
        .choose_multiple(rng, count)
        .copied()
        .collect();
    metadata["tags"] = json!(tags);
    let tier = ["1", "2", "3"][rng.gen_range(0..3)];
    metadata["labels"] = json!({ "tier": tier });
    if rng.gen_bool(0.3) {
        metadata["annotations"] = json!({
            "example.com/oncall": words(rng, 1),
            "backstage.io/managed-by-location": "url:https://git.example.com/catalog.yaml",
            "backstage.io/managed-by-origin-location": "url:https://git.example.com/all.yaml",
        });
    }
    if rng.gen_bool(0.2) {
        metadata["links"] = json!([{ "url": "https://example.com/dash", "title": "Dashboard" }]);
    }
    let lifecycle = ["production", "experimental", "deprecated"][rng.gen_range(0..3)];
    let spec = match kind {
        "Component" => {
            let component_type = ["service", "website", "library"][rng.gen_range(0..3)];
            let depends: Vec<String> = some(rng, &names.components, 3)
                .into_iter()
                .map(|c| format!("component:{c}"))
                .chain(
                    some(rng, &names.resources, 1)
                        .into_iter()
                        .map(|r| format!("resource:{r}")),
                )
                .collect();
            json!({
                "type": component_type,
                "lifecycle": lifecycle,
                "owner": pick(rng, &names.groups),
                "system": pick(rng, &names.systems),
                "dependsOn": depends,
                "providesApis": some(rng, &names.apis, 2),
                "consumesApis": some(rng, &names.apis, 2),
            })
        }
        "API" => {
            // Now and then an inline definition over the elision threshold, edited later.
            let definition = if rng.gen_bool(0.3) {
                format!(
                    "openapi: 3.0.0 # {}\n{}",
                    rng.gen::<u32>(),
                    "x".repeat(6000)
                )
            } else {
                format!("openapi: 3.0.0 # {}", rng.gen::<u32>())
            };
            json!({
                "type": "openapi", "lifecycle": lifecycle, "owner": pick(rng, &names.groups),
                "definition": definition,
            })
        }
        "Resource" => json!({ "type": "database", "owner": pick(rng, &names.groups) }),
        "System" => json!({ "owner": pick(rng, &names.groups) }),
        "Group" => {
            let mut spec = json!({
                "type": "team",
                "children": [],
                "members": some(rng, &names.users, 3),
            });
            if rng.gen_bool(0.7) {
                spec["parent"] = json!(pick(rng, &names.groups));
            }
            spec
        }
        _ => json!({ "memberOf": some(rng, &names.groups, 2) }),
    };
    let api_version = "backstage.io/v1alpha1";
    json!({ "apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec })
}

/// `events` ingests, edits and removals over a fixed set of names, seeded.
pub fn random_log(seed: u64, events: usize) -> Log {
    let mut rng = StdRng::seed_from_u64(seed);
    let names = Names::new();
    let all: Vec<(&str, &String)> = [
        ("Component", &names.components),
        ("Group", &names.groups),
        ("User", &names.users),
        ("API", &names.apis),
        ("Resource", &names.resources),
        ("System", &names.systems),
    ]
    .iter()
    .flat_map(|(kind, list)| list.iter().map(move |name| (*kind, name)))
    .collect();
    let mut log = Log::default();
    while log.events.len() < events {
        let Some(&(kind, name)) = all.choose(&mut rng) else {
            break;
        };
        let stream = format!("{}:default/{}", kind.to_lowercase(), name);
        let roll: f64 = rng.gen();
        if !log.live(&stream) || roll < 0.65 {
            let d = descriptor(&mut rng, &names, kind, name);
            log.put(d);
        } else if roll < 0.85 {
            log.remove(&stream);
        } else if roll < 0.92 {
            log.orphan(&stream);
        } else if roll < 0.95 {
            log.bad_update(&stream);
        } else {
            log.location(&format!("loc-{}", rng.gen_range(0..5)));
        }
    }
    log
}

/// A deep copy of everything a snapshot answers from, to compare it with later.
fn contents(snapshot: &Snapshot) -> (i64, Vec<Entity>, BTreeMap<String, Vec<RelationRow>>) {
    let mut entities: Vec<Entity> = snapshot.entities().map(|e| (**e).clone()).collect();
    entities.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    let mut rows = BTreeMap::new();
    for e in &entities {
        for row in e.declared_rows() {
            rows.insert(
                row.source_ref.to_string(),
                snapshot
                    .relation_rows(&row.source_ref)
                    .map(|r| r.to_row())
                    .collect(),
            );
        }
    }
    (snapshot.position(), entities, rows)
}

#[test]
fn batch_by_batch_equals_the_whole_log_and_old_snapshots_stay_put() {
    let log = random_log(7, 1_500);
    let whole = Snapshot::from_log(&log.events);
    assert_eq!(whole.snapshot.position(), 1_500);
    assert!(
        !whole.skipped.is_empty(),
        "the history holds events that do not fold"
    );

    let mut rng = StdRng::seed_from_u64(99);
    let mut current = Snapshot::empty();
    let mut skipped = Vec::new();
    let mut published: Vec<(Snapshot, _)> = Vec::new();
    let mut published_count = 0;
    let mut start = 0;
    while start < log.events.len() {
        let end = (start + rng.gen_range(1..=40)).min(log.events.len());
        let advanced = current.advance(&log.events[start..end]);
        skipped.extend(advanced.skipped);
        // A deep copy of every fourth snapshot (all of them would only slow the test).
        if published_count % 4 == 0 {
            published.push((current.clone(), contents(&current)));
        }
        published_count += 1;
        current = advanced.snapshot;
        start = end;
    }
    assert_eq!(current, whole.snapshot);
    assert_eq!(skipped, whole.skipped);
    assert!(published_count > 50 && published.len() > 12);
    for (snapshot, before) in &published {
        assert_eq!(contents(snapshot), *before, "at {}", snapshot.position());
    }
    // The whole-catalog facet counts kept per batch equal a count over every entity.
    let scan = Filter::All(vec![Filter::all()]);
    for field in [
        FacetField::Kind,
        FacetField::Type,
        FacetField::Owner,
        FacetField::Tag,
    ] {
        let kept = current.facets(field, &Filter::all(), 1_000);
        assert!(!kept.is_empty());
        assert_eq!(kept, current.facets(field, &scan, 1_000), "{field:?}");
    }
    // Counts from the facet counts equal counts over every entity (the `All` wrapper scans).
    let counted = [
        Filter::all(),
        Filter::Kind(vec!["COMPONENT".into(), "api".into()]),
        Filter::Type(vec!["service".into(), "openapi".into()]),
        Filter::Lifecycle(vec!["Production".into()]),
        Filter::Owner(vec![
            "group:default/team-1".into(),
            "group:default/team-2".into(),
        ]),
        Filter::Namespace(vec!["default".into()]),
        Filter::Kind(vec![]),
    ];
    for filter in counted {
        let scanned = current.count_entities(&Filter::All(vec![filter.clone()]));
        assert_eq!(current.count_entities(&filter), scanned, "{filter:?}");
    }
    // A batch delivered twice changes nothing.
    let again = current.advance(&log.events[1_400..]);
    assert_eq!(again.snapshot, current);
    assert!(again.skipped.is_empty());
}

/// A start-up build folds every page into one unpublished snapshot and indexes once:
/// the same snapshot and skipped events as publishing one per page, and a reader pinned
/// to the snapshot the build started from keeps it.
#[test]
fn a_build_over_many_pages_equals_advancing_page_by_page() {
    let log = random_log(13, 1_500);
    let mid = Snapshot::from_log(&log.events[..500]).snapshot;
    let reader = mid.clone();
    let reader_saw = contents(&reader);
    let mut stepped = mid.clone();
    let mut stepped_skipped = Vec::new();
    let mut build = mid.build();
    for page in log.events[500..].chunks(37) {
        build.fold(page);
        // Delivered twice: passed over.
        build.fold(page);
        let advanced = stepped.advance(page);
        stepped_skipped.extend(advanced.skipped);
        stepped = advanced.snapshot;
    }
    assert_eq!(build.position(), 1_500);
    let built = build.finish();
    assert!(!stepped_skipped.is_empty());
    assert_eq!(built.skipped, stepped_skipped);
    assert_eq!(built.snapshot, stepped);
    assert_eq!(contents(&reader), reader_saw);
    // From empty, owned by nobody else: changed in place, same result; also when the
    // indexes catch up within the build (every 60 changed entities, as every 20,000 at
    // start), pages then holding entities already indexed.
    for every in [60, usize::MAX] {
        let mut build = Snapshot::empty().build().index_every(every);
        for page in log.events.chunks(100) {
            build.fold(page);
        }
        let built = build.finish();
        assert_eq!(built.skipped, {
            let mut all = Snapshot::from_log(&log.events[..500]).skipped;
            all.extend(stepped_skipped.iter().cloned());
            all
        });
        assert!(built.snapshot == stepped, "indexed every {every}");
    }
}

/// The follower trusts the log (`Relations::Logged`, no validation again): on a history
/// of ingests, edits, renames of owners, removals and dangling targets it equals the
/// validating fold, batch by batch and in one build.
#[test]
fn trusting_the_log_folds_what_validating_folds() {
    for seed in [3, 17] {
        let log = random_log(seed, 1_200);
        let validated = Snapshot::from_log(&log.events);
        let mut build = Snapshot::empty().build().relations(Relations::Logged);
        for page in log.events.chunks(50) {
            build.fold(page);
        }
        let logged = build.finish();
        assert_eq!(logged.skipped, validated.skipped);
        assert!(logged.snapshot == validated.snapshot, "seed {seed}");
        let edges: usize = validated
            .snapshot
            .entities()
            .map(|e| e.declared_rows().len())
            .sum();
        assert!(edges > 1_000, "{edges}");
    }
}

/// The follower folds pages it decoded for the build alone, taking them (a
/// registration's descriptor moved, not copied): the same snapshot and skipped events
/// as folding borrowed pages, with registrations of live entities and a descriptor
/// with a long leaf (held elided) among them.
#[test]
fn folding_owned_pages_equals_folding_borrowed_ones() {
    let mut events = random_log(29, 1_200).events;
    let next = events.last().map_or(1, |event| event.position + 1);
    let register = |position: i64, version: i64| LogEvent {
        position,
        stream: "component:default/long-leaf".into(),
        version,
        recorded_at: chrono::DateTime::UNIX_EPOCH,
        event: CatalogEvent::EntityRegistered {
            descriptor: json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": { "name": "long-leaf" },
                "spec": { "type": "service", "lifecycle": "production", "owner": "team-a",
                          "definition": "x".repeat(almanac_readmodel::ELIDE_BYTES + 1) },
            }),
        },
    };
    // Registered, then registered again while live (skipped).
    events.extend([register(next, 1), register(next + 1, 2)]);
    for relations in [Relations::Validated, Relations::Logged] {
        let mut borrowed = Snapshot::empty().build().relations(relations);
        let mut owned = Snapshot::empty().build().relations(relations);
        for page in events.chunks(50) {
            borrowed.fold(page);
            owned.fold_owned(page.to_vec());
        }
        let (borrowed, owned) = (borrowed.finish(), owned.finish());
        assert!(owned.skipped.iter().any(|s| s.position == next + 1));
        assert_eq!(owned.skipped, borrowed.skipped);
        assert!(owned.snapshot == borrowed.snapshot, "{relations:?}");
        let long = owned
            .snapshot
            .entity("component:default/long-leaf")
            .unwrap();
        assert!(long.elided);
    }
}

/// Where a stored descriptor no longer validates, the two folds part only when the
/// failed rule is not about references: a bad reference declares nothing either way,
/// another failure declares the relations only when trusting the log (what
/// `replay --verify` then reports).
#[test]
fn descriptors_that_no_longer_validate_part_the_folds_only_off_references() {
    let register = |position: i64, name: &str, depends: &str| LogEvent {
        position,
        stream: format!("component:default/{}", name.to_lowercase()),
        version: 1,
        recorded_at: chrono::DateTime::UNIX_EPOCH,
        event: CatalogEvent::EntityRegistered {
            descriptor: json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": { "name": name },
                "spec": { "type": "service", "lifecycle": "production", "owner": "team-a",
                          "dependsOn": [depends] },
            }),
        },
    };
    let fold = |events: &[LogEvent], relations| {
        let mut build = Snapshot::empty().build().relations(relations);
        build.fold(events);
        build.finish().snapshot
    };
    let rows = |snapshot: &Snapshot, source: &str| snapshot.relation_rows(source).count();
    // A bad reference: declares none either way.
    let bad_ref = [register(1, "svc", "component:")];
    assert_eq!(
        fold(&bad_ref, Relations::Logged),
        fold(&bad_ref, Relations::Validated)
    );
    assert_eq!(
        rows(&fold(&bad_ref, Relations::Logged), "component:default/svc"),
        0
    );
    // A name a newer rule refuses (a space): trusted, it declares its relations.
    let bad_name = [register(1, "svc x", "resource:db")];
    let (logged, validated) = (
        fold(&bad_name, Relations::Logged),
        fold(&bad_name, Relations::Validated),
    );
    assert_eq!(rows(&validated, "component:default/svc x"), 0);
    assert_eq!(rows(&logged, "component:default/svc x"), 2);
    assert!(logged != validated);
}

/// A build of thousands of entities updates its search index on a second thread: the
/// same snapshot as batches small enough to be indexed on one.
#[test]
fn a_large_build_indexed_on_two_threads_equals_small_batches() {
    let names = Names::new();
    let mut rng = StdRng::seed_from_u64(21);
    let mut log = crate::log::Log::default();
    for i in 0..1_700 {
        let name = format!("bulk-{i}");
        log.put(descriptor(&mut rng, &names, "Component", &name));
        if i % 29 == 0 {
            log.remove(&format!("component:default/bulk-{}", i / 2));
        }
    }
    // Trusting the log (no validation again): the test is about indexing.
    let fold = |events: &[LogEvent]| {
        let mut build = Snapshot::empty().build().relations(Relations::Logged);
        build.fold(events);
        build.finish().snapshot
    };
    let whole = fold(&log.events);
    let mut stepped = Snapshot::empty();
    for batch in log.events.chunks(500) {
        let mut build = stepped.build().relations(Relations::Logged);
        build.fold(batch);
        stepped = build.finish().snapshot;
    }
    assert!(whole.len() >= 1_500, "{}", whole.len());
    assert!(whole == stepped);
}

#[test]
fn the_snapshot_equals_one_rebuilt_entity_by_entity_with_the_domain_fold() {
    let log = random_log(11, 1_200);
    let snapshot = Snapshot::from_log(&log.events).snapshot;
    let mut streams: BTreeMap<&str, Vec<&CatalogEvent>> = BTreeMap::new();
    for event in &log.events {
        if event.event.is_entity_event() {
            streams.entry(&event.stream).or_default().push(&event.event);
        }
    }
    let mut live = 0;
    let mut elided = 0;
    let mut sources = 0;
    for (stream, events) in streams {
        // The stale patches are the only events that do not fold: drop them, as the fold does.
        let mut state = None;
        for event in events {
            if let Ok(next) = almanac_domain::evolve(state.clone(), event) {
                state = Some(next);
            } else if let Some(s) = &mut state {
                s.version += 1;
            }
        }
        let expected = state.and_then(|s| s.descriptor);
        let held = snapshot.entity(stream);
        assert_eq!(expected.is_some(), held.is_some(), "{stream}");
        let (Some(expected), Some(held)) = (expected, held) else {
            continue;
        };
        live += 1;
        assert_eq!(held.descriptor(), elide(expected.clone()), "{stream}");
        elided += usize::from(held.elided);
        let entity = DomainEntity::from_value(expected).expect("valid");
        let mut rows: Vec<(String, &str, String)> = entity
            .relations()
            .iter()
            .flat_map(|r| r.edges())
            .map(|(from, rel, to)| (from.canonical(), rel.as_str(), to.canonical()))
            .collect();
        rows.sort();
        rows.dedup();
        let declared: Vec<(String, &str, String)> = held
            .declared_rows()
            .iter()
            .map(|r| {
                (
                    r.source_ref.to_string(),
                    r.relation.as_str(),
                    r.target_ref.to_string(),
                )
            })
            .collect();
        assert_eq!(declared, rows, "{stream}");
        for row in &held.declared_rows() {
            assert!(snapshot
                .relation_rows(&row.source_ref)
                .any(|r| r.to_row() == *row));
        }
        assert_eq!(held.title.as_deref(), entity.title());
        assert_eq!(
            held.tags.iter().map(|t| &**t).collect::<Vec<_>>(),
            entity.tags()
        );
        // Every summary field (shared or boxed, source and origin read from annotations)
        // equals the domain's derivation.
        let summary = Summary::of(&held.descriptor());
        let text = |t: &Option<String>| t.clone();
        assert_eq!(&*held.kind, summary.kind, "{stream}");
        assert_eq!(&*held.namespace, summary.namespace, "{stream}");
        assert_eq!(&*held.name, summary.name, "{stream}");
        assert_eq!(held.description.as_deref(), summary.description.as_deref());
        assert_eq!(
            held.spec_type.as_deref().map(str::to_string),
            text(&summary.spec_type)
        );
        assert_eq!(
            held.lifecycle.as_deref().map(str::to_string),
            text(&summary.lifecycle)
        );
        assert_eq!(
            held.owner_ref.as_deref().map(str::to_string),
            text(&summary.owner_ref)
        );
        assert_eq!(held.source().map(str::to_string), text(&summary.source));
        assert_eq!(held.origin().map(str::to_string), text(&summary.origin));
        sources += usize::from(held.source().is_some() && held.origin().is_some());
    }
    assert_eq!(live, snapshot.len());
    assert!(live > 50 && elided > 0, "live {live}, elided {elided}");
    assert!(sources > 0, "no entity with a managed-by location");
    // Each source's rows are exactly the live entities' declarations leaving it, sorted
    // (a source's own are held in its `declared`, the others' in the index: merged).
    let mut by_source: BTreeMap<String, Vec<RelationRow>> = BTreeMap::new();
    for entity in snapshot.entities() {
        for row in entity.declared_rows() {
            by_source
                .entry(row.source_ref.to_string())
                .or_default()
                .push(row);
        }
    }
    for (source, mut rows) in by_source {
        rows.sort();
        let read: Vec<RelationRow> = snapshot
            .relation_rows(&source)
            .map(|r| r.to_row())
            .collect();
        assert_eq!(read, rows, "{source}");
    }
}

/// Every page through `order`, following each page's cursor; the refs in page order.
fn all_pages(snapshot: &Snapshot, filter: &Filter, order: &[OrderKey]) -> Vec<String> {
    let mut refs = Vec::new();
    let mut cursor: Option<(Vec<String>, String)> = None;
    loop {
        let after = cursor.as_ref().map(|(k, r)| (k.as_slice(), r.as_str()));
        let page = snapshot.list_entities(filter, order, 7, after);
        refs.extend(page.rows.iter().map(|r| r.entity.entity_ref.to_string()));
        let Some(last) = page.rows.last() else {
            break;
        };
        cursor = Some((last.sort_keys.clone(), last.entity.entity_ref.to_string()));
        if !page.has_next {
            break;
        }
    }
    refs
}

#[test]
fn pages_read_from_the_ordered_indexes_equal_pages_sorted_from_a_scan() {
    let snapshot = Snapshot::from_log(&random_log(5, 1_000).events).snapshot;
    let key = |field, direction| OrderKey { field, direction };
    let (asc, desc) = (OrderDirection::Asc, OrderDirection::Desc);
    let filters = [
        Filter::all(),
        Filter::Kind(vec!["component".into()]),
        Filter::Not(Box::new(Filter::Lifecycle(vec!["production".into()]))),
        Filter::Tag(vec!["java".into()]),
    ];
    for filter in &filters {
        // One key reads an index; the same order with a redundant second key sorts.
        let cases = [
            (key(OrderField::Name, asc), key(OrderField::Ref, asc)),
            (key(OrderField::Ref, asc), key(OrderField::Name, asc)),
            (key(OrderField::Ref, desc), key(OrderField::Name, asc)),
        ];
        for (single, with_tie) in cases {
            let indexed = all_pages(&snapshot, filter, &[single]);
            let sorted = all_pages(&snapshot, filter, &[single, with_tie]);
            assert!(!indexed.is_empty());
            assert_eq!(indexed, sorted, "{filter:?} {single:?}");
        }
        assert_eq!(
            all_pages(&snapshot, filter, &[key(OrderField::Name, asc)]).len() as i64,
            snapshot.count_entities(filter)
        );
    }
}
