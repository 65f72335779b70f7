//! The server's most recent dependency walks, shared across requests.
//!
//! A snapshot never changes, so a walk over it from the same root with the same
//! arguments is the same walk: a portal's impact view of a widely used resource,
//! asked by every visitor, walks once per published snapshot instead of once per
//! request (the walk was two fifths of such a request's CPU at 100,000 entities).
//! Entries are keyed by the snapshot's position (one server folds one log, so a
//! position names one snapshot) and the walk's key; the few most recently used
//! are kept, so the memory is bounded by [`KEPT`] walks of at most
//! `graphql.max_walk_nodes` entities each. It does not hold snapshots (a walk
//! holds refs only) and does not cache anything built from a walk (items, values).

use super::loaders::WalkKey;
use almanac_readmodel::Walk;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Walks kept: a handful of distinct questions asked over and over is what pays.
pub const KEPT: usize = 8;

/// A walk's key within the server: the snapshot's position and the walk asked.
pub type Key = (i64, WalkKey);

/// Recently used walks, most recent first.
#[derive(Default)]
pub struct RecentWalks {
    recent: Mutex<VecDeque<(Key, Arc<Walk>)>>,
}

impl RecentWalks {
    /// The walk `key` names, if it is still kept (it becomes the most recent).
    pub fn get(&self, key: &Key) -> Option<Arc<Walk>> {
        // A poisoned lock only means another request panicked; the entries are sound.
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let at = recent.iter().position(|(k, _)| k == key)?;
        let entry = recent.remove(at)?;
        let walk = entry.1.clone();
        recent.push_front(entry);
        Some(walk)
    }

    /// Keeps `walk` as the most recent, forgetting the least recent past [`KEPT`].
    pub fn put(&self, key: Key, walk: Arc<Walk>) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = recent.iter().position(|(k, _)| *k == key) {
            recent.remove(at);
        }
        recent.push_front((key, walk));
        recent.truncate(KEPT);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use almanac_readmodel::Direction;

    fn key(position: i64, root: &str) -> Key {
        (
            position,
            WalkKey {
                root: root.to_string(),
                direction: Direction::Incoming,
                via_apis: false,
                depth: 3,
            },
        )
    }

    #[test]
    fn keeps_the_most_recently_used_walks_by_position_and_key() {
        let walks = RecentWalks::default();
        let first = Arc::new(Walk::default());
        walks.put(key(1, "resource:default/db"), first.clone());
        for n in 0..KEPT - 1 {
            walks.put(key(1, &format!("component:default/c{n}")), Arc::default());
        }
        // Used again: now the most recent, so the next put forgets another.
        assert!(Arc::ptr_eq(
            &walks.get(&key(1, "resource:default/db")).unwrap(),
            &first
        ));
        walks.put(key(2, "resource:default/db"), Arc::default());
        assert!(walks.get(&key(1, "resource:default/db")).is_some());
        assert!(walks.get(&key(1, "component:default/c0")).is_none());
        // Another position is another snapshot.
        assert!(!Arc::ptr_eq(
            &walks.get(&key(2, "resource:default/db")).unwrap(),
            &first
        ));
        assert!(walks.get(&key(3, "resource:default/db")).is_none());
    }
}
