//! Measures the read model on a synthetic catalog shaped like `almanac-bench`'s (5% groups,
//! 10% users, 1% domains, 4% systems, 50% components, 20% APIs, 10% resources, about four
//! references each): folding it from the log, the memory it holds, advancing it by
//! batches of 100 events while the previous snapshot stays pinned, the floor of the
//! copy-on-write alternative, and the latency of each catalog query. JSON on stdout.
//!
//! `cargo run --release -p almanac-readmodel --example measure -- [entities] [definition-bytes] [fold-only]`
//! (defaults: 100000 entities, 200-byte API definitions). Not a test: no assertion on time.
//! A third argument `memory` stops after the fold and reports where the bytes go: per
//! part of the snapshot (`almanac_readmodel::footprint`), the bytes it holds alone,
//! counted by this example's allocator (the heap's own overhead, 8–16 bytes per
//! allocation with glibc, comes on top and shows in the RSS figure).
//! Memory is the growth of this process's resident set (Linux `/proc/self/statm`), so it
//! includes the allocator's overhead, as a server's RSS would.

use std::alloc::System;
use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use almanac_domain::{diff, CatalogEvent, Entity as DomainEntity, RemovalReason};
use almanac_readmodel::{
    Direction, FacetField, FieldPath, Filter, LogEvent, OrderDirection, OrderField, OrderKey,
    OwnedScope, PathTest, Relations, Snapshot, TextQuery, WalkLimits,
};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

const WORDS: &[&str] = &[
    "amber", "anchor", "arrow", "atlas", "aurora", "badger", "basalt", "beacon", "birch", "bison",
    "bolt", "breeze", "bridge", "canyon", "cargo", "cedar", "cobalt", "comet", "coral", "crane",
    "delta", "dune", "eagle", "ember", "falcon", "fern", "fjord", "flint", "fox", "galena",
    "garnet", "glacier", "granite", "harbor", "hawk", "heron", "indigo", "iris", "jade", "juniper",
    "kestrel", "lagoon", "lantern", "ledger", "lynx", "maple", "marble", "meadow", "mesa",
    "nebula", "nickel", "oak", "onyx", "orbit", "osprey", "otter", "pebble",
];
const NOUNS: &[&str] = &[
    "billing",
    "checkout",
    "search",
    "orders",
    "payments",
    "shipping",
    "catalog",
    "identity",
    "metrics",
    "invoices",
    "ledger",
    "pricing",
    "inventory",
    "reviews",
    "alerts",
    "reports",
];

/// The system allocator, counting the bytes live: what each part of a snapshot holds is
/// what dropping it frees (`almanac_readmodel::footprint`).
#[global_allocator]
static ALLOCATOR: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

fn live() -> i64 {
    ALLOCATOR.allocated() as i64
}

/// Bytes per entity each part holds alone (see `footprint`), by stripping the parts one
/// after the other; consumes the snapshot.
fn breakdown(snapshot: Snapshot) -> Value {
    let entities = snapshot.len().max(1) as f64;
    let total_before = live();
    let mut parts = serde_json::Map::new();
    let mut current = snapshot;
    for part in almanac_readmodel::footprint::STEPS {
        // Net of the copy: stripping an entity's part re-allocates the rest of it.
        let bytes = live();
        let next = current.stripped(part);
        drop(current);
        parts.insert(
            format!("{part:?}"),
            json!(((bytes - live()) as f64 / entities).round()),
        );
        current = next;
    }
    drop(current);
    json!({
        "allocated_bytes_per_entity": ((total_before - live()) as f64 / entities).round(),
        "bytes_per_entity_by_part": parts,
    })
}

/// A small deterministic generator (xorshift), so one run equals the next.
struct Seq(u64);

impl Seq {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }
}

struct Shape {
    groups: usize,
    users: usize,
    domains: usize,
    systems: usize,
    components: usize,
    apis: usize,
    resources: usize,
}

impl Shape {
    fn new(entities: usize) -> Shape {
        let share = |p: usize| (entities * p / 100).max(1);
        let (g, u, d, s, c, a) = (
            share(5),
            share(10),
            share(1),
            share(4),
            share(50),
            share(20),
        );
        Shape {
            groups: g,
            users: u,
            domains: d,
            systems: s,
            components: c,
            apis: a,
            resources: entities.saturating_sub(g + u + d + s + c + a).max(1),
        }
    }
}

fn base(kind: &str, name: &str, seq: &mut Seq) -> Value {
    let description = format!(
        "{} {} service for {} with {} {} and {}",
        seq.word(),
        seq.word(),
        NOUNS[seq.below(NOUNS.len())],
        seq.word(),
        seq.word(),
        seq.word()
    );
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "description": description,
            "tags": ["bench"],
            "annotations": {
                "backstage.io/managed-by-location": format!("file:/srv/catalog/{name}/catalog-info.yaml"),
                "backstage.io/managed-by-origin-location": "file:/srv/catalog/catalog-info.yaml",
            },
        },
        "spec": {},
    })
}

fn component_name(i: usize) -> String {
    format!(
        "{}-{}-{i}",
        WORDS[i % WORDS.len()],
        NOUNS[(i / 7) % NOUNS.len()]
    )
}

/// The descriptors of a catalog of about `entities`.
fn catalog(entities: usize, definition_bytes: usize) -> Vec<Value> {
    let shape = Shape::new(entities);
    let mut seq = Seq(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(entities);
    for g in 0..shape.groups {
        let mut d = base("Group", &format!("team-{g}"), &mut seq);
        d["spec"] = json!({ "type": "team", "children": [] });
        if g > 0 {
            // A tree: each group's parent is one of the groups before it, ten children each.
            d["spec"]["parent"] = json!(format!("team-{}", (g - 1) / 10));
        }
        out.push(d);
    }
    for u in 0..shape.users {
        let mut d = base("User", &format!("user-{u}"), &mut seq);
        let groups: Vec<String> = (0..1 + seq.below(3))
            .map(|_| format!("team-{}", seq.below(shape.groups)))
            .collect();
        d["spec"] = json!({ "memberOf": groups });
        out.push(d);
    }
    for d_ in 0..shape.domains {
        let mut d = base("Domain", &format!("domain-{d_}"), &mut seq);
        d["spec"] = json!({ "owner": format!("team-{}", seq.below(shape.groups)) });
        out.push(d);
    }
    for s in 0..shape.systems {
        let mut d = base("System", &format!("system-{s}"), &mut seq);
        d["spec"] = json!({
            "owner": format!("team-{}", seq.below(shape.groups)),
            "domain": format!("domain-{}", seq.below(shape.domains)),
        });
        out.push(d);
    }
    for r in 0..shape.resources {
        let name = if r == 0 {
            "shared-postgres".to_string()
        } else {
            format!("db-{r}")
        };
        let mut d = base("Resource", &name, &mut seq);
        d["spec"] = json!({
            "type": "database",
            "owner": format!("team-{}", seq.below(shape.groups)),
            "system": format!("system-{}", seq.below(shape.systems)),
        });
        out.push(d);
    }
    for c in 0..shape.components {
        let mut d = base("Component", &component_name(c), &mut seq);
        let mut depends: Vec<String> = Vec::new();
        if c > 0 {
            depends.push(format!("component:{}", component_name(seq.below(c))));
        }
        // One in ten depends on the shared database, the rest on some other resource.
        if seq.below(10) == 0 {
            depends.push("resource:shared-postgres".into());
        } else {
            depends.push(format!(
                "resource:db-{}",
                1 + seq.below(shape.resources.max(2) - 1)
            ));
        }
        d["spec"] = json!({
            "type": "service",
            "lifecycle": "production",
            "owner": format!("team-{}", seq.below(shape.groups)),
            "system": format!("system-{}", seq.below(shape.systems)),
            "dependsOn": depends,
            "consumesApis": [format!("api-{}", seq.below(shape.apis))],
        });
        if c < shape.apis {
            d["spec"]["providesApis"] = json!([format!("api-{c}")]);
        }
        out.push(d);
    }
    for a in 0..shape.apis {
        let mut d = base("API", &format!("api-{a}"), &mut seq);
        let mut definition = String::from("openapi: 3.0.3\ninfo:\n  title: bench\npaths: {}\n");
        while definition.len() < definition_bytes {
            definition.push_str("# padding of an inline definition\n");
        }
        d["spec"] = json!({
            "type": "openapi",
            "lifecycle": "production",
            "owner": format!("team-{}", seq.below(shape.groups)),
            "definition": definition,
        });
        out.push(d);
    }
    out
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Nanoseconds this thread has spent on a CPU (`/proc/thread-self/schedstat`): on a
/// shared machine the wall clock also counts other processes' turns; this does not.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Milliseconds of user and system time of every thread of this process so far
/// (`/proc/self/stat`, in clock ticks of 10 ms): the fold's second thread included.
fn process_cpu_ms() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks * 10)
        })
        .unwrap_or(0)
}

/// Median, 99th percentile and maximum, in microseconds, of wall and CPU time.
fn spread(mut wall: Vec<f64>, mut cpu: Vec<f64>) -> Value {
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    // The kernel may account CPU time by the tick: the mean over runs is the exact figure.
    let mean = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
    json!({
        "runs": wall.len(),
        "wall_p50_us": at(&wall, 0.5), "wall_p99_us": at(&wall, 0.99),
        "cpu_mean_us": mean, "cpu_p50_us": at(&cpu, 0.5), "cpu_p99_us": at(&cpu, 0.99), "cpu_max_us": at(&cpu, 1.0),
    })
}

fn time<T>(runs: usize, mut f: impl FnMut(usize) -> T) -> Value {
    let (mut wall, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for i in 0..runs {
        let (start, start_cpu) = (Instant::now(), cpu_ns());
        std::hint::black_box(f(i));
        cpu.push((cpu_ns() - start_cpu) as f64 / 1e3);
        wall.push(start.elapsed().as_secs_f64() * 1e6);
    }
    spread(wall, cpu)
}

struct Writer {
    events: Vec<LogEvent>,
    heads: HashMap<String, (i64, Option<Value>)>,
}

impl Writer {
    fn push(&mut self, stream: &str, event: CatalogEvent) -> LogEvent {
        let position = self.events.len() as i64 + 1;
        let head = self.heads.entry(stream.to_string()).or_insert((0, None));
        head.0 += 1;
        let event = LogEvent {
            position,
            stream: stream.to_string(),
            version: head.0,
            recorded_at: Utc
                .timestamp_opt(1_767_225_600 + position, 0)
                .single()
                .unwrap_or_default(),
            event,
        };
        self.events.push(event.clone());
        event
    }

    fn put(&mut self, descriptor: Value) -> Result<LogEvent, Box<dyn Error>> {
        let entity = DomainEntity::from_value(descriptor).map_err(|e| e.to_string())?;
        let stream = entity.entity_ref().canonical();
        let descriptor = entity.into_descriptor();
        let event = match self.heads.get(&stream).and_then(|h| h.1.clone()) {
            Some(old) => CatalogEvent::EntityUpdated {
                changes: diff(&old, &descriptor),
            },
            None => CatalogEvent::EntityRegistered {
                descriptor: descriptor.clone(),
            },
        };
        let stored = self.push(&stream, event);
        if let Some(head) = self.heads.get_mut(&stream) {
            head.1 = Some(descriptor);
        }
        Ok(stored)
    }

    fn remove(&mut self, stream: &str) -> LogEvent {
        let stored = self.push(
            stream,
            CatalogEvent::EntityRemoved {
                reason: RemovalReason::GoneFromSource,
            },
        );
        if let Some(head) = self.heads.get_mut(stream) {
            head.1 = None;
        }
        stored
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let entities: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let definition_bytes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    // `memory`: stop after the fold and report where the bytes go; `fold-only`: stop
    // after the fold from the log (start-up profiling).
    let mode = args.next();
    let memory_only = mode.as_deref() == Some("memory");
    let fold_only = mode.as_deref() == Some("fold-only");
    // `queries`: skip the batches and the copy-on-write floor, time the queries only.
    let queries_only = mode.as_deref() == Some("queries");
    // `ALMANAC_MEASURE_VALIDATE=1`: derive relations validating every descriptor again;
    // `ALMANAC_MEASURE_PER_PAGE=1`: publish a snapshot per page of 1,000, validating (the
    // start-up before the build: the figure to compare with).
    let relations = if std::env::var_os("ALMANAC_MEASURE_VALIDATE").is_some() {
        Relations::Validated
    } else {
        Relations::Logged
    };

    let descriptors = catalog(entities, definition_bytes);
    let descriptor_json_bytes: usize = descriptors.iter().map(|d| d.to_string().len()).sum();
    let mut writer = Writer {
        events: Vec::new(),
        heads: HashMap::new(),
    };
    for d in descriptors {
        writer.put(d)?;
    }
    let initial: Vec<LogEvent> = writer.events.clone();

    // Fold from the log in pages of 1,000 into one build, as the server's start does.
    let rss_before = rss_bytes();
    let (start, start_cpu, start_process) = (Instant::now(), cpu_ns(), process_cpu_ms());
    let snapshot = if std::env::var_os("ALMANAC_MEASURE_PER_PAGE").is_some() {
        // As the follower started before: a snapshot published per page, validating.
        let mut snapshot = Snapshot::empty();
        for batch in initial.chunks(1_000) {
            snapshot = snapshot.advance(batch).snapshot;
        }
        snapshot
    } else {
        let mut build = Snapshot::empty().build().relations(relations);
        for batch in initial.chunks(1_000) {
            build.fold(batch);
        }
        build.finish().snapshot
    };
    let fold_ms = start.elapsed().as_secs_f64() * 1e3;
    let fold_cpu_ms = (cpu_ns() - start_cpu) as f64 / 1e6;
    let fold_process_cpu_ms = process_cpu_ms() - start_process;
    let rss_after = rss_bytes();
    let held = rss_after.saturating_sub(rss_before);
    let memory = json!({
        "rss_growth_bytes": held,
        "bytes_per_entity": held / snapshot.len().max(1) as u64,
        "entity_struct_bytes": std::mem::size_of::<almanac_readmodel::Entity>(),
        "relation_row_bytes": std::mem::size_of::<almanac_readmodel::RelationRow>(),
        "held_descriptor_json_bytes_per_entity":
            snapshot.entities().map(|e| e.descriptor_json.len()).sum::<usize>() / snapshot.len().max(1),
        "declared_rows_per_entity":
            snapshot.entities().map(|e| e.declared_rows().len()).sum::<usize>() as f64 / snapshot.len().max(1) as f64,
    });
    if memory_only {
        // The breakdown strips the snapshot part by part, so it ends the run.
        let report = json!({
            "entities": snapshot.len(),
            "api_definition_bytes": definition_bytes,
            "descriptor_json_bytes_per_entity": descriptor_json_bytes / entities.max(1),
            "fold_from_log_cpu_ms": fold_cpu_ms,
            "memory": memory,
            "breakdown": breakdown(snapshot),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if mode.as_deref() == Some("search-loop") {
        // Profiling aid: search for `ledger` until killed.
        let term = TextQuery::parse("ledger")?;
        eprintln!("folded");
        loop {
            std::hint::black_box(snapshot.search(&term, &Filter::all(), 20, None));
        }
    }
    if fold_only {
        let report = json!({
            "entities": snapshot.len(),
            "events": initial.len(),
            "fold_from_log_wall_ms": fold_ms,
            "fold_from_log_cpu_ms": fold_cpu_ms,
            "fold_from_log_process_cpu_ms": fold_process_cpu_ms,
            "rss_growth_bytes": held,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }

    // Advance by batches of 100 events (60 edits, 20 registrations, 20 removals), the
    // previous snapshot pinned by a reader throughout.
    let mut seq = Seq(42);
    let mut components: Vec<String> = snapshot
        .entities()
        .filter(|e| *e.kind == *"Component")
        .map(|e| e.entity_ref.to_string())
        .collect();
    components.sort();
    let mut batches: Vec<Vec<LogEvent>> = Vec::new();
    let mut fresh = 0usize;
    let mut removed = std::collections::HashSet::new();
    for _ in 0..50 {
        let mut batch = Vec::new();
        for k in 0..100 {
            if k < 60 {
                let stream = &components[seq.below(components.len())];
                if removed.contains(stream) {
                    continue;
                }
                let Some(mut d) = writer.heads.get(stream).and_then(|h| h.1.clone()) else {
                    continue;
                };
                d["metadata"]["description"] =
                    json!(format!("edited {} {}", seq.word(), seq.word()));
                d["spec"]["owner"] = json!(format!("team-{}", seq.below(entities / 20)));
                batch.push(writer.put(d)?);
            } else if k < 80 {
                fresh += 1;
                let mut d = base("Component", &format!("fresh-{fresh}"), &mut seq);
                d["spec"] = json!({
                    "type": "service", "lifecycle": "experimental",
                    "owner": "team-1", "dependsOn": ["resource:shared-postgres"],
                });
                batch.push(writer.put(d)?);
            } else {
                let stream = components[seq.below(components.len())].clone();
                if removed.insert(stream.clone()) {
                    batch.push(writer.remove(&stream));
                }
            }
        }
        batches.push(batch);
    }
    let mut pinned = snapshot.clone();
    if queries_only {
        batches.truncate(1);
    }
    let advance = time(batches.len(), |i| {
        let next = pinned.advance(&batches[i]).snapshot;
        // The reader's snapshot is kept until the next one is published.
        let old = std::mem::replace(&mut pinned, next);
        old.len()
    });
    let advanced_to = pinned.clone();

    // The floor of copy-on-write per batch: cloning whole std maps of the same contents
    // (entities and relation rows only; the search index would come on top).
    let entity_map: HashMap<Arc<str>, Arc<almanac_readmodel::Entity>> = snapshot
        .entities()
        .map(|e| (e.entity_ref.clone(), e.clone()))
        .collect();
    let mut edge_map: HashMap<Arc<str>, Arc<Vec<almanac_readmodel::RelationRow>>> = HashMap::new();
    for e in snapshot.entities() {
        for row in &e.declared_rows() {
            edge_map.entry(row.source_ref.clone()).or_insert_with(|| {
                Arc::new(
                    snapshot
                        .relation_rows(&row.source_ref)
                        .map(|r| r.to_row())
                        .collect(),
                )
            });
        }
    }
    let ordered: BTreeMap<Arc<str>, Arc<almanac_readmodel::Entity>> = entity_map
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let cow_clone = time(if queries_only { 1 } else { 20 }, |_| {
        (entity_map.clone(), edge_map.clone(), ordered.clone())
    });

    // Queries on the 100k snapshot.
    let s = &advanced_to;
    let refs: Vec<String> = components
        .iter()
        .filter(|r| s.entity(r).is_some())
        .cloned()
        .collect();
    let entity_by_ref = time(2_000, |i| {
        let e = s.entity(&refs[i * 7919 % refs.len()]);
        let owner = e
            .and_then(|e| e.owner_ref.as_deref())
            .and_then(|o| s.entity(o));
        let system = e
            .and_then(|e| e.system_ref.as_deref())
            .and_then(|r| s.entity(r));
        let depends: Vec<_> = e
            .map(|e| {
                s.relations_from(&e.entity_ref)
                    .into_iter()
                    .filter(|r| r.relation.as_str() == "dependsOn")
                    .filter_map(|r| s.entity(r.target_ref))
                    .collect()
            })
            .unwrap_or_default();
        (owner.is_some(), system.is_some(), depends.len())
    });
    let components_filter = Filter::Kind(vec!["component".into()]);
    let by_name = [OrderKey {
        field: OrderField::Name,
        direction: OrderDirection::Asc,
    }];
    let component_page = time(200, |_| {
        let page = s.list_entities(&components_filter, &by_name, 100, None);
        let owners = page
            .rows
            .iter()
            .filter_map(|r| s.entity(r.entity.owner_ref.as_deref()?))
            .count();
        (page.rows.len(), owners)
    });
    let last = s
        .list_entities(&components_filter, &by_name, 100, None)
        .rows
        .pop();
    let cursor = last.map(|r| (r.sort_keys, r.entity.entity_ref.to_string()));
    let component_page_2 = time(200, |_| {
        let after = cursor.as_ref().map(|(k, r)| (k.as_slice(), r.as_str()));
        s.list_entities(&components_filter, &by_name, 100, after)
            .rows
            .len()
    });
    let by_type = [OrderKey {
        field: OrderField::Type,
        direction: OrderDirection::Desc,
    }];
    let component_page_sorted = time(20, |_| {
        s.list_entities(&components_filter, &by_type, 100, None)
            .rows
            .len()
    });
    let component_count = time(20, |_| s.count_entities(&components_filter));
    let owned_transitive = time(200, |i| {
        let group = format!("group:default/team-{}", i % 10);
        let page = s.owned_entities(&group, OwnedScope::Subgroups, 100, None);
        (page.rows.len(), page.total)
    });
    let owned_total = s
        .owned_entities("group:default/team-0", OwnedScope::Subgroups, 0, None)
        .total;
    let limits = WalkLimits {
        max_depth: 10,
        max_nodes: 100_000,
    };
    let dependents = time(20, |_| {
        s.walk_dependencies(
            "resource:default/shared-postgres",
            Direction::Incoming,
            true,
            limits,
        )
    });
    let dependents_reached = s
        .walk_dependencies(
            "resource:default/shared-postgres",
            Direction::Incoming,
            true,
            limits,
        )
        .reached
        .len();
    // The bench's walk (`dependents_of_resource`): incoming, no APIs, the server's default
    // budget (`graphql.max_walk_nodes` 2,000, `max_walk_depth` 16), refs and depths.
    let bench_limits = WalkLimits {
        max_depth: 16,
        max_nodes: 2_000,
    };
    let bench_dependents = time(200, |_| {
        let walk = s.walk_dependencies(
            "resource:default/shared-postgres",
            Direction::Incoming,
            false,
            bench_limits,
        );
        (walk.reached.len(), walk.truncated)
    });
    let term = TextQuery::parse("ledger")?;
    let search = time(50, |_| {
        let page = s.search(&term, &Filter::all(), 20, None);
        (page.rows.len(), page.total)
    });
    let search_total = s.count_search(&term, &Filter::all());
    let typo = TextQuery::parse("ledgr")?;
    let search_typo = time(20, |_| s.search(&typo, &Filter::all(), 20, None).rows.len());
    let prefix = TextQuery::parse("led")?;
    let search_prefix = time(20, |_| {
        s.search(&prefix, &Filter::all(), 20, None).rows.len()
    });
    // The bench's facets request: kind (first: the page size), owner and tag (first 20).
    let bench_facets = time(200, |_| {
        (
            s.facets(FacetField::Kind, &Filter::all(), 100),
            s.facets(FacetField::Owner, &Filter::all(), 20),
            s.facets(FacetField::Tag, &Filter::all(), 20),
        )
    });
    let facets = time(50, |_| {
        (
            s.facets(FacetField::Kind, &Filter::all(), 20),
            s.facets(FacetField::Owner, &Filter::all(), 20),
            s.facets(FacetField::Tag, &Filter::all(), 20),
        )
    });

    // Issue 15's filters: a page of production components of one system (relation index +
    // a held field), the same by a path read from the descriptor text, a path count over
    // the whole catalog, dangling relations, and facets over systems and a path.
    let path = |text: &str, values: &[&str]| Filter::Path {
        path: FieldPath::parse(text).unwrap_or_else(|_| unreachable!("a valid path")),
        test: if values.is_empty() {
            PathTest::Exists
        } else {
            PathTest::Equals(values.iter().map(|v| v.to_string()).collect())
        },
    };
    let production_of_system = Filter::All(vec![
        Filter::Kind(vec!["component".into()]),
        Filter::System(vec!["system:default/system-1".into()]),
        path("spec.lifecycle", &["production"]),
    ]);
    let production_components_of_system_page = time(50, |_| {
        let page = s.list_entities(&production_of_system, &by_name, 50, None);
        (page.rows.len(), s.count_entities(&production_of_system))
    });
    let part_of_system = Filter::All(vec![
        Filter::Kind(vec!["component".into()]),
        Filter::Relation {
            relation: almanac_domain::RelationType::PartOf,
            target: Some("system:default/system-1".into()),
        },
    ]);
    let part_of_system_page = time(50, |_| {
        let page = s.list_entities(&part_of_system, &by_name, 50, None);
        (page.rows.len(), s.count_entities(&part_of_system))
    });
    let by_spec_path = path("spec.system", &["system-1"]);
    let spec_path_count_whole_catalog = time(5, |_| s.count_entities(&by_spec_path));
    let dangling_count_whole_catalog = time(5, |_| s.count_entities(&Filter::HasDanglingRelations));
    let system_path = FieldPath::parse("spec.system")?;
    let facets_system_and_path_whole_catalog = time(5, |_| {
        (
            s.facets(FacetField::System, &Filter::all(), 20),
            s.path_facets(&system_path, &Filter::all(), 20),
        )
    });

    let report = json!({
        "entities": snapshot.len(),
        "events": initial.len(),
        "api_definition_bytes": definition_bytes,
        "descriptor_json_bytes_per_entity": descriptor_json_bytes / entities.max(1),
        "fold_from_log_wall_ms": fold_ms,
        "fold_from_log_cpu_ms": fold_cpu_ms,
        "fold_from_log_process_cpu_ms": fold_process_cpu_ms,
        "memory": memory,
        "advance_batch_of_100": advance,
        "copy_on_write_floor_per_batch": cow_clone,
        "queries": {
            "entity_by_ref_with_owner_system_depends_on": entity_by_ref,
            "page_of_100_components_by_name_with_owners": component_page,
            "second_page_of_100_components_by_name": component_page_2,
            "page_of_100_components_by_type_desc_sorted": component_page_sorted,
            "count_components": component_count,
            "owned_by_group_transitive_first_100_with_total": owned_transitive,
            "owned_by_root_group_total": owned_total,
            "dependents_of_shared_resource_transitive": dependents,
            "dependents_reached": dependents_reached,
            "bench_dependents_budget_2000_depth_16": bench_dependents,
            "bench_facets_kind_owner_tag": bench_facets,
            "search_first_20_with_total": search,
            "search_total": search_total,
            "search_near_miss_first_20": search_typo,
            "search_prefix_first_20": search_prefix,
            "facets_kind_owner_tag_whole_catalog": facets,
            "production_components_of_system_first_50_with_count": production_components_of_system_page,
            "part_of_system_components_first_50_with_count": part_of_system_page,
            "spec_path_equals_count_whole_catalog": spec_path_count_whole_catalog,
            "dangling_relations_count_whole_catalog": dangling_count_whole_catalog,
            "facets_system_and_spec_path_whole_catalog": facets_system_and_path_whole_catalog,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
