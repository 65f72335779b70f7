//! Apollo's automatic persisted queries (APQ): a request may name its query by
//! the sha-256 of its text (`extensions.persistedQuery.sha256Hash`, version 1)
//! instead of sending it. A hash the server does not hold answers
//! `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`, HTTP 200 as
//! Apollo Server answers, since Apollo Client turns APQ off on a 400); the client
//! then sends the query with its hash, which registers it.
//!
//! The cache is bounded by the bytes of query text it holds
//! (`graphql.persisted_query_bytes`), least recently used first out. It is per
//! server and not shared between replicas: a client that meets a server without
//! its hash just registers it again. It does not do Apollo's "trusted documents"
//! (refusing queries not registered beforehand).

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// What a request's `persistedQuery` extension asks, once read.
pub enum Persisted {
    /// No extension: an ordinary request.
    None,
    /// The query text to run (looked up, or sent and now registered).
    Query(Arc<str>),
    /// A hash the cache does not hold.
    NotFound,
    /// A malformed extension or a query that does not match its hash; the
    /// message says which.
    Invalid(String),
}

#[derive(Default)]
struct Held {
    queries: HashMap<String, (Arc<str>, u64)>,
    /// Last use → hash: the eviction order.
    by_use: BTreeMap<u64, String>,
    bytes: usize,
    tick: u64,
}

/// The server's cache of persisted queries.
pub struct PersistedQueries {
    budget: usize,
    held: Mutex<Held>,
}

impl PersistedQueries {
    pub fn new(budget_bytes: usize) -> Self {
        PersistedQueries {
            budget: budget_bytes,
            held: Mutex::new(Held::default()),
        }
    }

    /// Reads `extensions.persistedQuery` of a request whose query text is
    /// `query` (empty when only the hash was sent).
    pub fn resolve(
        &self,
        extensions: &HashMap<String, async_graphql::Value>,
        query: &str,
    ) -> Persisted {
        let Some(extension) = extensions.get("persistedQuery") else {
            return Persisted::None;
        };
        let Ok(extension) = extension.clone().into_json() else {
            return Persisted::Invalid("extensions.persistedQuery must be an object".into());
        };
        if extension.get("version").and_then(serde_json::Value::as_i64) != Some(1) {
            return Persisted::Invalid(
                "extensions.persistedQuery.version must be 1 (the only version there is)".into(),
            );
        }
        let Some(hash) = extension
            .get("sha256Hash")
            .and_then(serde_json::Value::as_str)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
        else {
            return Persisted::Invalid(
                "extensions.persistedQuery.sha256Hash must be 64 hex digits (the sha-256 of the query text)"
                    .into(),
            );
        };
        if query.is_empty() {
            return match self.get(&hash) {
                Some(query) => Persisted::Query(query),
                None => Persisted::NotFound,
            };
        }
        if hex::encode(Sha256::digest(query.as_bytes())) != hash {
            return Persisted::Invalid(
                "provided sha does not match query: extensions.persistedQuery.sha256Hash must be \
                 the sha-256 of the query text"
                    .into(),
            );
        }
        let query: Arc<str> = Arc::from(query);
        self.insert(hash, query.clone());
        Persisted::Query(query)
    }

    fn get(&self, hash: &str) -> Option<Arc<str>> {
        let mut held = self.held.lock().ok()?;
        held.tick += 1;
        let tick = held.tick;
        let (query, last) = held.queries.get_mut(hash)?;
        let (query, before) = (query.clone(), std::mem::replace(last, tick));
        held.by_use.remove(&before);
        held.by_use.insert(tick, hash.to_string());
        Some(query)
    }

    fn insert(&self, hash: String, query: Arc<str>) {
        if query.len() > self.budget {
            return;
        }
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        held.tick += 1;
        let tick = held.tick;
        if let Some((old, last)) = held.queries.insert(hash.clone(), (query.clone(), tick)) {
            held.bytes -= old.len();
            held.by_use.remove(&last);
        }
        held.bytes += query.len();
        held.by_use.insert(tick, hash);
        while held.bytes > self.budget {
            let Some((_, oldest)) = held.by_use.pop_first() else {
                break;
            };
            if let Some((gone, _)) = held.queries.remove(&oldest) {
                held.bytes -= gone.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(cache: &PersistedQueries, query: &str, hash: &str) -> Persisted {
        let extension = async_graphql::Value::from_json(serde_json::json!({
            "version": 1, "sha256Hash": hash
        }))
        .unwrap_or_default();
        cache.resolve(
            &HashMap::from([("persistedQuery".to_string(), extension)]),
            query,
        )
    }

    fn hash(query: &str) -> String {
        hex::encode(Sha256::digest(query.as_bytes()))
    }

    #[test]
    fn the_cache_keeps_at_most_its_budget_least_recently_used_first_out() {
        let cache = PersistedQueries::new(20);
        let (a, b, c) = ("{ a: __typename }", "{ b }", "{ c }");
        assert!(matches!(ask(&cache, "", &hash(a)), Persisted::NotFound));
        assert!(matches!(ask(&cache, a, &hash(a)), Persisted::Query(_)));
        assert!(matches!(
            ask(&cache, b, &hash(b)),
            Persisted::NotFound | Persisted::Query(_)
        ));
        // 17 + 5 bytes > 20: `a`, the least recently used, is gone.
        assert!(matches!(ask(&cache, "", &hash(a)), Persisted::NotFound));
        assert!(matches!(ask(&cache, "", &hash(b)), Persisted::Query(_)));
        assert!(matches!(ask(&cache, c, &hash(c)), Persisted::Query(_)));
        assert!(matches!(ask(&cache, "", &hash(b)), Persisted::Query(_)));
        assert!(matches!(ask(&cache, c, &hash(a)), Persisted::Invalid(_)));
        assert!(matches!(ask(&cache, "", "xyz"), Persisted::Invalid(_)));
    }
}
