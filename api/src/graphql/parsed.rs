//! The server's cache of parsed GraphQL documents, keyed by the query text: a
//! client sends the same few queries again and again (variables apart), and
//! parsing one cost more than cloning it (some 7% of a page query's CPU).
//!
//! It holds only documents that parsed, of texts up to [`MAX_TEXT_BYTES`], at most
//! [`MAX_DOCUMENTS`] of them (emptied whole when full: no eviction order to keep).
//! It does not skip validation or the gate's limits: those run on every request.

use async_graphql::parser::types::ExecutableDocument;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many documents the cache holds before it starts over.
pub const MAX_DOCUMENTS: usize = 256;
/// Longer query texts are parsed every time (they are rare, and bound the memory).
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

#[derive(Debug, Default)]
pub struct ParsedCache {
    documents: Mutex<HashMap<Box<str>, Arc<ExecutableDocument>>>,
}

impl ParsedCache {
    /// The document `query` parsed to before, if it is held.
    pub fn get(&self, query: &str) -> Option<ExecutableDocument> {
        let held = {
            // A poisoned map only means another request panicked; entries are whole.
            let documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
            documents.get(query).cloned()
        };
        held.map(|document| (*document).clone())
    }

    /// Keeps `document` as what `query` parses to.
    pub fn insert(&self, query: &str, document: &ExecutableDocument) {
        if query.len() > MAX_TEXT_BYTES {
            return;
        }
        let document = Arc::new(document.clone());
        let mut documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        if documents.len() >= MAX_DOCUMENTS {
            documents.clear();
        }
        documents.insert(query.into(), document);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_parsed_and_starts_over_when_full() {
        let cache = ParsedCache::default();
        let query = "{ entities { nodes { ref } } }";
        assert!(cache.get(query).is_none());
        let document = async_graphql::parser::parse_query(query).unwrap();
        cache.insert(query, &document);
        assert_eq!(cache.get(query).unwrap().operations.iter().count(), 1);
        for i in 0..MAX_DOCUMENTS {
            cache.insert(&format!("{{ a{i} }}"), &document);
        }
        assert!(cache.get(query).is_none(), "emptied when full");
        let long = format!("{{ a }}{}", " ".repeat(MAX_TEXT_BYTES));
        cache.insert(&long, &document);
        assert!(cache.get(&long).is_none(), "long texts are not held");
    }
}
