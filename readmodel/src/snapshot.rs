//! The catalog at one log position, and the pure fold that advances it by a batch.
//!
//! A [`Snapshot`] is immutable and cheap to clone (one `Arc`). Advancing returns a new
//! snapshot that shares every part the batch did not touch with the old one (persistent
//! maps, `imbl`), so a reader pinned to the old snapshot keeps a consistent view while the
//! projector publishes the next. Entity events fold exactly as the projector folds them
//! (`almanac_domain::evolve`, strict); an event that does not fold leaves its entity as it
//! was and is reported in [`Advanced::skipped`], so the outcome does not depend on batch
//! boundaries. A [`Build`] folds many batches before anything is published (a server's
//! start) and indexes them together; a large reindex updates the search index on a
//! second, scoped thread. This module does no IO: reading the log, publishing snapshots
//! and waking on NOTIFY are the server's.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use almanac_domain::{evolve, CatalogEvent, EntityState};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::entity::{elide, elide_changes, relation_rows, Birth, Entity, ELIDE_BYTES};
use crate::fast::{HashSet, PMap};
use crate::list::{facet_values, FACET_FIELDS};
use crate::names::NameKey;
use crate::query::FacetField;
use crate::rows::HeldRow;
use crate::search::SearchIndex;
use crate::set::Set;

/// One stored event, as the fold needs it: the log row's position, stream (the entity's
/// canonical ref), stream version and time, with its decoded event.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEvent {
    pub position: i64,
    pub stream: String,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub event: CatalogEvent,
}

/// An event the fold passed over, and why (the projector records the same in
/// `projection_failures`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub position: i64,
    pub stream: String,
    pub reason: String,
}

/// What advancing produced: the new snapshot and the events it could not fold.
#[derive(Clone, Debug)]
pub struct Advanced {
    pub snapshot: Snapshot,
    pub skipped: Vec<Skipped>,
}

/// The catalog's current state at [`Snapshot::position`]. Clone it freely: clones share.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) state: Arc<State>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub position: i64,
    /// Live entities by canonical ref (unordered: whoever needs an order sorts).
    pub entities: PMap<Arc<str>, Arc<Entity>>,
    /// The `relations` table indexed by `source_ref`: every declaration of an edge leaving
    /// that ref by another entity, sorted (the source's own are in its `declared`; see
    /// `graph::relation_rows`). Such a row is declared by its target (see `rows`).
    /// Sources need not exist (dangling edges are kept, as in SQL).
    pub edges: PMap<Arc<str>, Set<HeldRow>>,
    /// Canonical `owner_ref` -> the entities it owns (directly).
    pub owned: PMap<Arc<str>, Set<Arc<str>>>,
    pub search: SearchIndex,
    /// Live entities in `lower(name)`, then ref, order: the API's default page order,
    /// walked from the cursor instead of sorting the catalog.
    pub by_name: imbl::OrdSet<NameKey>,
    /// Live refs in order, for pages ordered by ref.
    pub by_ref: imbl::OrdSet<Arc<str>>,
    /// Facet counts over the whole catalog: field -> value -> live entities holding it.
    pub facets: PMap<FacetField, PMap<Arc<str>, i64>>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot::empty()
    }
}

impl PartialEq for Snapshot {
    /// Equal when they reflect the same position and hold the same entities (every field)
    /// and the same relation rows. The indexes are functions of those.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.state, &*other.state);
        a.position == b.position
            && a.entities == b.entities
            && a.edges.len() == b.edges.len()
            && a.edges.iter().all(|(k, v)| b.edges.get(k) == Some(v))
            && a.owned == b.owned
            && a.search == b.search
            && a.facets == b.facets
            && a.by_name == b.by_name
            && a.by_ref == b.by_ref
    }
}

impl Snapshot {
    /// The catalog before the first event.
    pub fn empty() -> Snapshot {
        Snapshot {
            state: Arc::new(State::default()),
        }
    }

    /// Folds a whole log from the start.
    pub fn from_log(events: &[LogEvent]) -> Advanced {
        let mut build = Snapshot::empty().build();
        build.fold(events);
        build.finish()
    }

    /// The log position this snapshot reflects: every event at or below it is folded in.
    pub fn position(&self) -> i64 {
        self.state.position
    }

    /// Number of live entities.
    pub fn len(&self) -> usize {
        self.state.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.entities.is_empty()
    }

    /// A new snapshot with `events` folded in, in position order; `self` is unchanged.
    /// Events at or below [`Snapshot::position`] are already folded and are passed over,
    /// so a batch delivered twice changes nothing.
    pub fn advance(&self, events: &[LogEvent]) -> Advanced {
        let mut build = self.clone().build();
        build.fold(events);
        build.finish()
    }

    /// Starts advancing this snapshot by any number of batches, published at
    /// [`Build::finish`]. Consumes the snapshot: when no reader holds it (a build at
    /// start, before anything is published) its maps change in place.
    pub fn build(self) -> Build {
        Build {
            state: Arc::try_unwrap(self.state).unwrap_or_else(|shared| (*shared).clone()),
            before: BTreeMap::new(),
            interned: HashSet::default(),
            skipped: Vec::new(),
            relations: Relations::Validated,
            index_every: INDEX_EVERY,
        }
    }

    /// The live entity with this canonical ref.
    pub fn entity(&self, entity_ref: &str) -> Option<&Arc<Entity>> {
        self.state.entities.get(entity_ref)
    }

    /// Every live entity, in no particular order.
    pub fn entities(&self) -> impl Iterator<Item = &Arc<Entity>> {
        self.state.entities.values()
    }
}

/// A build brings its indexes up to date when this many entities have changed since
/// they last were: the lists it gathers to update them (every relation row, every word)
/// would otherwise grow with the whole log, and the allocator keeps what a process once
/// held (measured: +140 MB of RSS at 100,000 entities, indexing once at the end).
pub const INDEX_EVERY: usize = 20_000;

/// How the fold derives the relations an entity's descriptor declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Relations {
    /// Validate the descriptor first (`relations::of_descriptor`), as the projector does:
    /// one that no longer validates declares none. The reference fold.
    #[default]
    Validated,
    /// Trust the log (`relations::of_logged_descriptor`): every logged descriptor was
    /// validated when written, so this equals `Validated` unless a rule changed since;
    /// most of the cost of a fold at start was that validation. The server's follower
    /// folds so, and `replay --verify` compares it with a `Validated` fold.
    Logged,
}

/// A snapshot being advanced, batch after batch, before it is published: the entities
/// change as each event folds, and the indexes (relations, owners, names, facets, search)
/// catch up every [`INDEX_EVERY`] changed entities and at [`Build::finish`]. Folding a
/// large log in one build is several times cheaper than publishing a snapshot per page:
/// no map is copied node by node for a reader, and each index list is updated once per
/// catch-up, not once per page that touches it. The result equals advancing batch by
/// batch.
pub struct Build {
    state: State,
    /// Each touched entity as it was before the build (None: absent).
    before: BTreeMap<Arc<str>, Option<Arc<Entity>>>,
    /// One `Arc<str>` per ref within the build.
    interned: HashSet<Arc<str>>,
    skipped: Vec<Skipped>,
    relations: Relations,
    index_every: usize,
}

impl std::fmt::Debug for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Build")
            .field("position", &self.state.position)
            .field("touched", &self.before.len())
            .finish()
    }
}

impl Build {
    /// Derives relations as `relations` says (the default: [`Relations::Validated`]).
    pub fn relations(mut self, relations: Relations) -> Build {
        self.relations = relations;
        self
    }

    /// Folds `events`, in position order; those at or below the position reached are
    /// passed over.
    pub fn fold(&mut self, events: &[LogEvent]) {
        self.fold_each(events.iter().map(Cow::Borrowed));
    }

    /// As [`Build::fold`], taking the events: the registration of an entity not live
    /// moves its descriptor into the entity instead of copying it (`evolve` copies from
    /// a borrowed event), and the page is not dropped beside the copies. For pages
    /// decoded for this build alone (the follower's).
    pub fn fold_owned(&mut self, events: Vec<LogEvent>) {
        self.fold_each(events.into_iter().map(Cow::Owned));
    }

    fn fold_each<'a>(&mut self, events: impl Iterator<Item = Cow<'a, LogEvent>>) {
        let Build {
            state,
            before,
            interned,
            skipped,
            relations,
            ..
        } = self;
        for mut stored in events {
            if stored.position <= state.position {
                continue;
            }
            state.position = stored.position;
            if !stored.event.is_entity_event() {
                continue; // locations are not part of the catalog graph
            }
            let (key, current) = match state.entities.get_key_value(stored.stream.as_str()) {
                Some((key, entity)) => (key.clone(), Some(entity.clone())),
                None => (intern(interned, &stored.stream), None),
            };
            before.entry(key.clone()).or_insert_with(|| current.clone());
            let registered = match (&current, &mut stored) {
                (None, Cow::Owned(event)) => take_registered(&mut event.event),
                _ => None,
            };
            let folded = match registered {
                Some(descriptor) => Ok(Some(entity_of(
                    interned, &key, None, &stored, descriptor, *relations,
                ))),
                None => fold_one(interned, &key, current.as_deref(), &stored, *relations),
            };
            match folded {
                Ok(Some(entity)) => {
                    state.entities.insert(key, Arc::new(entity));
                }
                Ok(None) => {
                    state.entities.remove(&key);
                }
                Err(reason) => skipped.push(Skipped {
                    position: stored.position,
                    stream: stored.stream.clone(),
                    reason,
                }),
            }
        }
        self.index_if_due();
    }

    /// Brings the indexes up to date whenever `entities` have changed since they last were
    /// (default [`INDEX_EVERY`]); the result is the same whatever the number.
    pub fn index_every(mut self, entities: usize) -> Build {
        self.index_every = entities.max(1);
        self
    }

    fn index_if_due(&mut self) {
        if self.before.len() >= self.index_every {
            reindex(&mut self.state, &self.before);
            self.before.clear();
        }
    }

    /// The log position folded so far.
    pub fn position(&self) -> i64 {
        self.state.position
    }

    /// Brings every index in line with the folded entities and returns the snapshot,
    /// with every event skipped since the build began.
    pub fn finish(self) -> Advanced {
        let Build {
            mut state,
            before,
            skipped,
            ..
        } = self;
        reindex(&mut state, &before);
        Advanced {
            snapshot: Snapshot {
                state: Arc::new(state),
            },
            skipped,
        }
    }
}

/// One event on one entity, as `store::projection::batch::fold_into`: the stream version
/// before it is the event's minus one; a removal yields `None`.
fn fold_one(
    interned: &mut HashSet<Arc<str>>,
    key: &Arc<str>,
    current: Option<&Entity>,
    stored: &LogEvent,
    relations: Relations,
) -> Result<Option<Entity>, String> {
    let held = EntityState {
        version: stored.version - 1,
        descriptor: current.map(Entity::descriptor),
    };
    // Large leaves are held as stubs, so the event is elided the same way before it
    // applies; an event without any (nearly every one) applies as stored, not copied.
    let elided;
    let event = match &stored.event {
        CatalogEvent::EntityRegistered { descriptor } if long_leaf(descriptor) => {
            elided = CatalogEvent::EntityRegistered {
                descriptor: elide(descriptor.clone()),
            };
            &elided
        }
        CatalogEvent::EntityUpdated { changes }
            if changes
                .iter()
                .flat_map(|c| [&c.old_value, &c.new_value])
                .any(|value| value.as_ref().is_some_and(long_leaf)) =>
        {
            elided = CatalogEvent::EntityUpdated {
                changes: elide_changes(changes),
            };
            &elided
        }
        stored => stored,
    };
    let next = evolve(Some(held), event).map_err(|err| err.to_string())?;
    let Some(descriptor) = next.descriptor else {
        return Ok(None);
    };
    Ok(Some(entity_of(
        interned, key, current, stored, descriptor, relations,
    )))
}

/// The descriptor of a registration whose leaves need no eliding, taken out of the
/// event (left `null`): what `evolve` gives for the registration of an entity not
/// live, without the copy. `None` for any other event.
fn take_registered(event: &mut CatalogEvent) -> Option<Value> {
    match event {
        CatalogEvent::EntityRegistered { descriptor } if !long_leaf(descriptor) => {
            Some(std::mem::take(descriptor))
        }
        _ => None,
    }
}

/// The entity holding `descriptor` after `stored` (its fold's result).
fn entity_of(
    interned: &mut HashSet<Arc<str>>,
    key: &Arc<str>,
    current: Option<&Entity>,
    stored: &LogEvent,
    descriptor: Value,
    relations: Relations,
) -> Entity {
    let birth = current.map(Entity::birth).unwrap_or(Birth {
        registered_position: stored.position,
        created_at: stored.recorded_at,
    });
    // The entity's own ref is in every row it declares: share its key.
    let mut intern = |text: String| {
        if *text == **key {
            key.clone()
        } else {
            intern(interned, &text)
        }
    };
    let declared = relation_rows(key, &descriptor, relations, &mut intern);
    Entity::derive(
        key.clone(),
        descriptor,
        declared,
        stored,
        birth,
        &mut intern,
    )
}

/// Some string leaf of `value` is longer than [`ELIDE_BYTES`]: eliding it may change it
/// (a value without one is its own elision).
fn long_leaf(value: &Value) -> bool {
    match value {
        Value::String(text) => text.len() > ELIDE_BYTES,
        Value::Array(items) => items.iter().any(long_leaf),
        Value::Object(map) => map.values().any(long_leaf),
        _ => false,
    }
}

/// Adds `delta` to the whole-catalog facet counts of each of the entity's values; a
/// value whose count reaches zero is dropped.
fn count_facets(
    facets: &mut PMap<FacetField, PMap<Arc<str>, i64>>,
    entity: Option<&Entity>,
    delta: i64,
) {
    let Some(entity) = entity else {
        return;
    };
    for field in FACET_FIELDS {
        let counts = facets.entry(field).or_default();
        for value in facet_values(entity, field) {
            match counts.get_mut(value) {
                Some(count) => {
                    *count += delta;
                    if *count == 0 {
                        counts.remove(value);
                    }
                }
                None => {
                    counts.insert(Arc::from(value), delta);
                }
            }
        }
    }
}

/// One `Arc<str>` per ref within a batch.
fn intern(interned: &mut HashSet<Arc<str>>, text: &str) -> Arc<str> {
    // A set of the shared texts themselves, found by `&str`: no second copy as a key.
    if let Some(found) = interned.get(text) {
        return found.clone();
    }
    let shared: Arc<str> = Arc::from(text);
    interned.insert(shared.clone());
    shared
}

/// From this many changed entities on (a build at start; the follower's pages after it
/// hold 1,000 events), the search index, the largest part, is updated on a second thread
/// while this one updates the others.
const PARALLEL_REINDEX: usize = 1_500;

/// Each entity the batch changed: its ref, as it was, as it is.
type Changed = (Arc<str>, Option<Arc<Entity>>, Option<Arc<Entity>>);

/// Brings the relation, owner, name, facet and search indexes in line with the touched
/// entities, once per batch: each posting list or adjacency list the batch changes is
/// copied once.
fn reindex(state: &mut State, before: &BTreeMap<Arc<str>, Option<Arc<Entity>>>) {
    let changed: Vec<Changed> = before
        .iter()
        .filter_map(|(key, old)| {
            let new = state.entities.get(key).cloned();
            let same = old.as_ref().map(Arc::as_ptr) == new.as_ref().map(Arc::as_ptr);
            (!same).then(|| (key.clone(), old.clone(), new))
        })
        .collect();
    let search = &mut state.search;
    let update_search = |search: &mut SearchIndex| {
        search.update(
            changed
                .iter()
                .map(|(key, old, new)| (key, old.as_deref(), new.as_deref())),
        );
    };
    let mut others = Others {
        edges: &mut state.edges,
        owned: &mut state.owned,
        by_name: &mut state.by_name,
        by_ref: &mut state.by_ref,
        facets: &mut state.facets,
    };
    if changed.len() < PARALLEL_REINDEX {
        others.update(&changed);
        update_search(search);
        return;
    }
    let spawned = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("almanac-reindex".into())
            .spawn_scoped(scope, || update_search(search))
            .is_ok();
        others.update(&changed);
        spawned
    });
    if !spawned {
        // No thread to be had: the same work, in turn.
        update_search(search);
    }
}

/// Every index but the search index, borrowed apart from it.
struct Others<'a> {
    edges: &'a mut PMap<Arc<str>, Set<HeldRow>>,
    owned: &'a mut PMap<Arc<str>, Set<Arc<str>>>,
    by_name: &'a mut imbl::OrdSet<NameKey>,
    by_ref: &'a mut imbl::OrdSet<Arc<str>>,
    facets: &'a mut PMap<FacetField, PMap<Arc<str>, i64>>,
}

impl Others<'_> {
    fn update(&mut self, changed: &[Changed]) {
        // Every index row the batch removes (false) or adds (true) under its source;
        // sorted, rows of one source are adjacent.
        let mut rows: Vec<((&Arc<str>, HeldRow), bool)> = Vec::new();
        for (key, old, new) in changed {
            let old_rows = old.as_ref().map(|e| &e.declared[..]).unwrap_or(&[]);
            let new_rows = new.as_ref().map(|e| &e.declared[..]).unwrap_or(&[]);
            if old_rows != new_rows {
                // A source's own rows are read from its `declared`; the index holds the
                // inverses, under the other end.
                for (entity, added) in [(old, false), (new, true)] {
                    if let Some(entity) = entity {
                        rows.extend(entity.inverse_rows().map(|row| (row, added)));
                    }
                }
            }
            let old_owner = old.as_ref().and_then(|e| e.owner_ref.as_deref());
            let new_owner = new.as_ref().and_then(|e| e.owner_ref.as_deref());
            if old_owner != new_owner {
                if let Some(owner) = old_owner {
                    if let Some(set) = self.owned.get_mut(owner) {
                        set.apply([key], []);
                        if set.is_empty() {
                            self.owned.remove(owner);
                        }
                    }
                }
                if let Some(owner) = new_owner {
                    let owner: Arc<str> = match self.owned.get_key_value(owner) {
                        Some((k, _)) => k.clone(),
                        None => Arc::from(owner),
                    };
                    self.owned
                        .entry(owner)
                        .or_default()
                        .apply([], [key.clone()]);
                }
            }
            if let Some(old) = old {
                self.by_name
                    .remove(&NameKey::new(key.clone(), old.key_name()));
                self.by_ref.remove(key);
            }
            if let Some(new) = new {
                self.by_name
                    .insert(NameKey::new(key.clone(), new.key_name()));
                self.by_ref.insert(key.clone());
            }
            count_facets(self.facets, old.as_deref(), -1);
            count_facets(self.facets, new.as_deref(), 1);
        }
        rows.sort_unstable();
        rows.dedup();
        for group in rows.chunk_by(|a, b| a.0 .0 == b.0 .0) {
            let source = group[0].0 .0;
            let mut set = self.edges.get(source).cloned().unwrap_or_default();
            set.apply(
                group
                    .iter()
                    .filter(|(_, added)| !added)
                    .map(|((_, row), _)| row),
                group
                    .iter()
                    .filter(|(_, added)| *added)
                    .map(|((_, row), _)| row.clone()),
            );
            if set.is_empty() {
                self.edges.remove(source);
            } else {
                self.edges.insert(source.clone(), set);
            }
        }
    }
}
