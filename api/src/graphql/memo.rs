//! Per-request memoisation of loads, in flight included.
//!
//! async-graphql's DataLoader caches a value only once its batch has returned,
//! so a key asked for while its batch is still running goes into a second
//! batch: with a page's fields polled over several scheduler turns, the same
//! owners or systems were fetched twice. Sharing the pending load per key
//! makes every key cost exactly one place in one batch, per request.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

type Pending<V, E> = Shared<BoxFuture<'static, Result<V, E>>>;

pub struct Memo<K, V, E> {
    pending: Mutex<HashMap<K, Pending<V, E>>>,
}

impl<K, V, E> Default for Memo<K, V, E> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V, E> Memo<K, V, E>
where
    K: Hash + Eq + Clone,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// The value for `key`, loading it with `load` only the first time.
    pub async fn get<F>(&self, key: K, load: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let pending = {
            // A poisoned map only means another field panicked; its entries are still sound.
            let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key)
                .or_insert_with(|| load().boxed().shared())
                .clone()
        };
        pending.await
    }
}
