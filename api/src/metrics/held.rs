//! An estimate of the bytes the in-memory catalog's entities hold, counted at
//! scrape time from the snapshot's own values (one pass over the entities, no
//! allocation): each entity's struct, its held descriptor text, its name, title,
//! description, tags, labels, annotations and links, and its declared relation
//! rows. It deliberately leaves out the indexes (search words
//! and trigrams, the relation and owner indexes, the orders, the facet counts),
//! which hold about as much again (`readmodel`'s `measure` example, `memory`
//! mode, attributes every part with a counting allocator), and what snapshots
//! share with each other: the figure follows the catalog's growth, it is not
//! the process's memory (`almanac_process_resident_memory_bytes` is).

use almanac_readmodel::{Entity, Link, Snapshot};
use std::mem::size_of;

/// Bytes of `snapshot`'s entities, as the module doc says.
pub(super) fn entity_bytes(snapshot: &Snapshot) -> u64 {
    snapshot.entities().map(|entity| one(entity) as u64).sum()
}

fn one(entity: &Entity) -> usize {
    let text = |s: Option<&str>| s.map_or(0, str::len);
    let pairs = |pairs: &mut dyn Iterator<Item = (&str, &str)>| {
        pairs
            .map(|(k, v)| k.len() + v.len() + 2 * size_of::<Box<str>>())
            .sum::<usize>()
    };
    size_of::<Entity>()
        + entity.descriptor_json.len()
        + entity.name.len()
        + text(entity.title.as_deref())
        + text(entity.description.as_deref())
        + entity
            .tags
            .iter()
            .map(|t| t.len() + size_of::<Box<str>>())
            .sum::<usize>()
        + pairs(&mut entity.labels.iter())
        + pairs(&mut entity.annotations.iter())
        + entity.links.len() * size_of::<Link>()
        + entity.own_rows().count() * ROW_BYTES
}

/// A held relation row: type, field and target (an `Arc<str>` and two small values).
const ROW_BYTES: usize = 32;
