//! A persistent sorted set for the snapshot's indexes: a shared sorted vector while small,
//! an `imbl::OrdSet` once large.
//!
//! Most index lists are short (an entity's few relation rows, a rare word's few entities)
//! and a few are huge (a word every entity holds, a resource half the catalog depends
//! on). `imbl::OrdSet` alone gives every short list a whole tree leaf (64 slots), which
//! measured at several KB per entity; a vector alone makes every batch that touches a huge
//! list copy it. Each form is used where it is cheap. Nothing here knows what it holds.

use std::sync::Arc;

/// Above this many elements the set is a tree.
const SMALL: usize = 48;

#[derive(Clone, Debug)]
pub(crate) enum Set<T: Clone + Ord> {
    /// One allocation (the `Arc` header and the items), no spare capacity.
    Small(Arc<[T]>),
    Large(imbl::OrdSet<T>),
}

impl<T: Clone + Ord> Default for Set<T> {
    fn default() -> Self {
        Set::Small(Arc::from(Vec::new()))
    }
}

impl<T: Clone + Ord> PartialEq for Set<T> {
    /// Equal contents, whatever the form.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Clone + Ord> Set<T> {
    pub fn len(&self) -> usize {
        match self {
            Set::Small(items) => items.len(),
            Set::Large(set) => set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, item: &T) -> bool {
        match self {
            Set::Small(items) => items.binary_search(item).is_ok(),
            Set::Large(set) => set.contains(item),
        }
    }

    pub fn iter(&self) -> Iter<'_, T> {
        match self {
            Set::Small(items) => Iter::Small(items.iter()),
            Set::Large(set) => Iter::Large(set.iter()),
        }
    }

    /// The items after `after` (every item when None), in order: a search, not a scan.
    pub fn iter_after<'a, Q>(&'a self, after: Option<&Q>) -> After<'a, T>
    where
        T: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match (self, after) {
            (Set::Small(items), None) => After::Small(items.iter()),
            (Set::Small(items), Some(after)) => {
                let start = items.partition_point(|item| item.borrow() <= after);
                After::Small(items[start..].iter())
            }
            (Set::Large(set), None) => After::Large(set.range::<_, T>(..)),
            (Set::Large(set), Some(after)) => After::Large(
                set.range::<_, Q>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            ),
        }
    }

    /// Applies removals then additions, copying a small set once and a large one's paths.
    pub fn apply<'a>(
        &mut self,
        gone: impl IntoIterator<Item = &'a T>,
        added: impl IntoIterator<Item = T>,
    ) where
        T: 'a,
    {
        match self {
            Set::Small(held) => {
                // Copied once per change: the previous snapshot shares the old slice.
                let mut items = held.to_vec();
                for item in gone {
                    if let Ok(at) = items.binary_search(item) {
                        items.remove(at);
                    }
                }
                let mut added: Vec<T> = added.into_iter().collect();
                if added.len() <= SMALL {
                    for item in added {
                        if let Err(at) = items.binary_search(&item) {
                            items.insert(at, item);
                        }
                    }
                } else {
                    // Inserting one by one shifts the vector each time: quadratic when a
                    // build adds a word's ten thousand holders at once. Merge instead.
                    added.sort_unstable();
                    added.dedup();
                    items = merge(items, added);
                }
                *self = if items.len() > SMALL {
                    Set::Large(items.into_iter().collect())
                } else {
                    Set::Small(Arc::from(items))
                };
            }
            Set::Large(set) => {
                for item in gone {
                    set.remove(item);
                }
                for item in added {
                    set.insert(item);
                }
                if set.len() <= SMALL / 2 {
                    *self = Set::Small(set.iter().cloned().collect());
                }
            }
        }
    }
}

/// The union of two sorted, duplicate-free vectors, sorted and duplicate-free.
fn merge<T: Ord>(a: Vec<T>, b: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.cmp(y) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    b.next();
                    a.next()
                }
            },
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(item) => out.push(item),
            None => return out,
        }
    }
}

/// In order, whatever the form.
pub(crate) enum Iter<'a, T: Clone + Ord> {
    Small(std::slice::Iter<'a, T>),
    Large(imbl::ordset::Iter<'a, T, imbl::shared_ptr::DefaultSharedPtr>),
}

impl<'a, T: Clone + Ord> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match self {
            Iter::Small(items) => items.next(),
            Iter::Large(items) => items.next(),
        }
    }
}

/// In order from a point, whatever the form ([`Set::iter_after`]).
pub(crate) enum After<'a, T: Clone + Ord> {
    Small(std::slice::Iter<'a, T>),
    Large(imbl::ordset::RangedIter<'a, T, imbl::shared_ptr::DefaultSharedPtr>),
}

impl<'a, T: Clone + Ord> Iterator for After<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match self {
            After::Small(items) => items.next(),
            After::Large(items) => items.next(),
        }
    }
}

impl<'a, T: Clone + Ord> IntoIterator for &'a Set<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_into_a_tree_and_shrinks_back_keeping_order_and_old_versions() {
        let mut set: Set<u32> = Set::default();
        set.apply([], [5, 1, 3]);
        let small = set.clone();
        set.apply(&[3], 0..100);
        assert!(matches!(set, Set::Large(_)));
        assert_eq!(set.len(), 100);
        assert_eq!(small.iter().copied().collect::<Vec<_>>(), vec![1, 3, 5]);
        let large = set.clone();
        let gone: Vec<u32> = (10..100).collect();
        set.apply(&gone, []);
        assert!(matches!(set, Set::Small(_)));
        assert_eq!(
            set.iter().copied().collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(large.len(), 100);
        assert!(large.contains(&99) && !set.contains(&99));
        // Many additions at once (a build) merge: same contents as one by one.
        let mut merged: Set<u32> = Set::default();
        merged.apply([], [7, 3]);
        merged.apply([&3], (0..200).rev().chain([150, 7]));
        assert_eq!(
            merged.iter().copied().collect::<Vec<_>>(),
            (0..200).collect::<Vec<_>>()
        );
        let mut evens: Set<u32> = Set::default();
        evens.apply([], [9, 2, 9]);
        evens.apply([], (0..120).filter(|n| n % 2 == 0));
        assert!(matches!(evens, Set::Large(_)));
        assert_eq!(
            evens.iter().copied().collect::<Vec<_>>(),
            (0..120)
                .filter(|n| n % 2 == 0)
                .chain([9])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        for set in [&small, &large, &evens] {
            for after in [None, Some(0), Some(3), Some(9), Some(64), Some(500)] {
                let expected: Vec<u32> = set
                    .iter()
                    .copied()
                    .filter(|item| after.is_none_or(|after| *item > after))
                    .collect();
                let got: Vec<u32> = set.iter_after(after.as_ref()).copied().collect();
                assert_eq!(got, expected, "after {after:?}");
            }
        }
        let mut same: Set<u32> = Set::default();
        same.apply([], 0..10);
        assert_eq!(same, set);
    }
}
