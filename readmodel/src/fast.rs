//! The hash maps and sets of this crate: std's and imbl's with `foldhash` instead of
//! SipHash. Lookups by ref are the inner loop of every walk and search, and SipHash was
//! their largest cost; foldhash keeps a per-process random seed.

pub(crate) type Hasher = foldhash::fast::RandomState;
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, Hasher>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, Hasher>;
/// A persistent hash map (shared between snapshots).
pub(crate) type PMap<K, V> = imbl::GenericHashMap<K, V, Hasher, imbl::shared_ptr::DefaultSharedPtr>;
