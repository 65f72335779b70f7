//! Bounds on what one request may cost: query depth and complexity, aliases,
//! page size, walk size, response bytes, database statements and wall-clock
//! time; and on what one WebSocket may hold (subscriptions, buffered bytes).
//! Each refusal is a clear error with its own `extensions.code` (see
//! [`crate::error::ErrorCode`]).

use serde::Deserialize;
use std::time::Duration;

/// `graphql:` in the configuration file (the `limits:` section is what one
/// source read may hold: `ReadLimitSettings` in the binary); every field has a
/// default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GraphqlLimits {
    /// Deepest selection nesting a query may have.
    pub max_depth: usize,
    /// Largest query cost: one per field, list fields multiplied by their page size.
    pub max_complexity: usize,
    /// Largest `first:` of a paginated field.
    pub max_page_size: i32,
    /// `first:` when the client does not say.
    pub default_page_size: i32,
    /// Deepest `dependencies(depth:)` walk.
    pub max_walk_depth: u32,
    /// Most entities one dependency walk may reach before it is truncated.
    pub max_walk_nodes: usize,
    /// Most leaf conditions in one `EntityFilter` (and/or/not included).
    pub max_filter_conditions: usize,
    /// Wall-clock budget of a query, in milliseconds.
    pub query_timeout_ms: u64,
    /// Wall-clock budget of a mutation (reads sources, waits for the projector).
    pub mutation_timeout_ms: u64,
    /// How long a batch loader gathers keys before it queries. Longer windows
    /// make fewer, larger batches on a slow or busy machine, at that latency
    /// per level of the query.
    pub batch_window_us: u64,
    /// Events buffered for one subscriber; a subscriber further behind than
    /// this (for longer than `subscription_grace_ms`) is ended with
    /// `SUBSCRIBER_TOO_SLOW` and the position to resume from.
    pub subscription_buffer: usize,
    /// How long a full buffer may wait for room before the subscriber is ended.
    pub subscription_grace_ms: u64,
    /// How often live subscriptions re-read the log when no notification came.
    pub subscription_poll_ms: u64,
    /// Bytes of query text kept for Apollo's automatic persisted queries
    /// (least recently used out first); 0 keeps none, so a hash alone is
    /// always `PERSISTED_QUERY_NOT_FOUND`.
    pub persisted_query_bytes: usize,
    /// Largest GraphQL document (the `query` text, not its variables), in
    /// bytes: checked before parsing. Send large values as variables.
    pub max_query_bytes: usize,
    /// Most aliased fields in one document (fragments expanded): aliases are
    /// how one small request asks for the same costly field many times.
    pub max_aliases: usize,
    /// Largest response body, in bytes. Counted while the response is built
    /// (every field's name and value), so a request past it stops early with
    /// `RESPONSE_TOO_LARGE` instead of building the whole response first.
    pub max_response_bytes: usize,
    /// Most catalog statements one request runs at once; further statements
    /// of that request wait for one of its own to finish, so one request with
    /// many aliases queues inside itself instead of taking the read pool.
    pub max_request_statements: usize,
    /// Connections in the read pool that serves GraphQL reads, apart from
    /// the pool the projector and writers use (set up by `almanac serve`).
    pub read_connections: u32,
    /// Bytes of events buffered for one subscriber (besides the count bound
    /// `subscription_buffer`); past it for longer than the grace period, the
    /// subscriber is ended with `SUBSCRIBER_TOO_SLOW`.
    pub subscription_buffer_bytes: usize,
    /// Most live subscriptions on one WebSocket; another one is refused with
    /// `SUBSCRIPTION_LIMIT_EXCEEDED`.
    pub max_subscriptions_per_connection: usize,
    /// Whether `addLocation(type: "file")` is allowed: off by default, since it
    /// lets any holder of a write token make the server read its own disk.
    pub allow_file_locations: bool,
    /// How long a request sent with `Almanac-Min-Position` waits for this
    /// server's in-memory catalog to reach that position before it is answered
    /// `POSITION_NOT_REACHED`, in milliseconds.
    pub min_position_wait_ms: u64,
    /// Bytes of full descriptors (of entities the in-memory catalog holds with
    /// large leaves elided, such as an API's inline `definition`) this server
    /// keeps between requests; least recently used first out.
    pub descriptor_cache_bytes: usize,
}

impl Default for GraphqlLimits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_complexity: 50_000,
            max_page_size: 500,
            default_page_size: 50,
            max_walk_depth: 16,
            max_walk_nodes: 2_000,
            max_filter_conditions: 64,
            query_timeout_ms: 15_000,
            mutation_timeout_ms: 120_000,
            // Paid once per relation hop of every query: long enough for a
            // page's siblings to register their keys, short next to a query.
            batch_window_us: 500,
            subscription_buffer: 1_000,
            subscription_grace_ms: 1_000,
            subscription_poll_ms: 1_000,
            persisted_query_bytes: 4 * 1024 * 1024,
            max_query_bytes: 256 * 1024,
            max_aliases: 100,
            max_response_bytes: 16 * 1024 * 1024,
            max_request_statements: 4,
            read_connections: 8,
            subscription_buffer_bytes: 4 * 1024 * 1024,
            max_subscriptions_per_connection: 32,
            allow_file_locations: false,
            min_position_wait_ms: 5_000,
            descriptor_cache_bytes: crate::graphql::descriptors::DEFAULT_BUDGET_BYTES,
        }
    }
}

impl GraphqlLimits {
    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.query_timeout_ms)
    }

    pub fn batch_window(&self) -> Duration {
        Duration::from_micros(self.batch_window_us)
    }

    pub fn subscription_grace(&self) -> Duration {
        Duration::from_millis(self.subscription_grace_ms)
    }

    pub fn subscription_poll(&self) -> Duration {
        Duration::from_millis(self.subscription_poll_ms)
    }

    pub fn mutation_timeout(&self) -> Duration {
        Duration::from_millis(self.mutation_timeout_ms)
    }

    pub fn min_position_wait(&self) -> Duration {
        Duration::from_millis(self.min_position_wait_ms)
    }
}
