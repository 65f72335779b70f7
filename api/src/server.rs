//! The server entry point: `serve(listener, state, shutdown)`, so tests bind
//! `127.0.0.1:0` and run the real server in-process.

use crate::auth::AuthConfig;
use crate::graphql;
use crate::graphql::descriptors::DescriptorCache;
use crate::graphql::WakeHub;
use crate::http::{self, CorsConfig, GraphqlService, RateLimitConfig};
use crate::limits::GraphqlLimits;
use almanac_ingest::{ReadLimits, ReadPolicy};
use almanac_store::catalog::{Catalog, StatementCounter};
use almanac_store::follow::{Followed, Follower};
use almanac_store::log::seal::Sealer;
use almanac_store::projection::tap::PageTap;
use almanac_store::Database;
use almanac_store::{EventLog, PgPool, StoreError};
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Largest request body: pushed descriptors can be large, but not unbounded.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub database: Database,
    /// Bearer tokens and whether anonymous clients may read.
    pub auth: AuthConfig,
    pub limits: GraphqlLimits,
    /// What pushes and locations may read by URL (`reading:`); by default nothing.
    pub reading: ReadPolicy,
    /// What one read of a push or a location may hold (`limits:`); by default
    /// [`ReadLimits::default`].
    pub read_limits: ReadLimits,
    /// Which kinds reads through the API may register (`catalog.rules`) and what
    /// becomes of what a location no longer holds (`catalog.orphanStrategy`).
    pub catalog: almanac_ingest::CatalogPolicy,
    /// Counts the catalog's SQL statements (tests read it).
    pub statements: StatementCounter,
    /// The pool GraphQL reads use, apart from `database.pool` (the
    /// projector's and writers'), so readers cannot take their connections.
    /// `None`: reads share `database.pool`.
    pub read_pool: Option<PgPool>,
    /// The key mutations' appends sign with; without one they fail
    /// (`SealError::NoKey`), reads still work.
    pub sealer: Option<Arc<Sealer>>,
    /// The server's one event listener (subscriptions and the follower share it);
    /// `None`: the router makes one.
    pub wakes: Option<WakeHub>,
    /// The in-memory catalog, followed from the log ([`AppState::with_follower`]).
    /// Every current-state read (entities by ref, every hop and walk) answers from
    /// it: `almanac serve` always sets it. `None` only for a state not yet
    /// finished: operations pin no snapshot and such reads fail (`INTERNAL`).
    pub followed: Option<Followed>,
    /// Where the follower leaves the pages it reads for the projector of the same
    /// process ([`almanac_store::projection::tap`]); `None`: it keeps none.
    pub page_tap: Option<Arc<PageTap>>,
    /// Full descriptors of entities held elided, fetched on demand and kept
    /// within `limits.descriptor_cache_bytes` across requests.
    pub descriptors: Arc<DescriptorCache>,
    /// Which browser origins may call the API (`cors:`); by default none.
    pub cors: CorsConfig,
    /// Requests per client (`rate_limit:`); off here by default (`almanac serve`'s
    /// configuration has it on: 100 per second, bursts of 200).
    pub rate_limit: RateLimitConfig,
}

impl AppState {
    /// Defaults: anonymous reads allowed, no tokens (so no writes), default limits.
    pub fn new(database: Database) -> Self {
        Self {
            database,
            auth: AuthConfig::default(),
            limits: GraphqlLimits::default(),
            reading: ReadPolicy::default(),
            read_limits: ReadLimits::default(),
            catalog: almanac_ingest::CatalogPolicy::default(),
            statements: StatementCounter::default(),
            read_pool: None,
            sealer: None,
            wakes: None,
            followed: None,
            page_tap: None,
            descriptors: Arc::new(DescriptorCache::new(
                GraphqlLimits::default().descriptor_cache_bytes,
            )),
            cors: CorsConfig::default(),
            rate_limit: RateLimitConfig::off(),
        }
    }

    /// Folds the log into the in-memory catalog and keeps following it on the
    /// wake-ups of this state's listener (read with the read pool, when set).
    /// Call it last: it takes the read pool and limits set so far. The task
    /// ends when the server is gone (or when aborted).
    pub async fn with_follower(mut self) -> Result<(Self, JoinHandle<()>), StoreError> {
        let reads = self
            .read_pool
            .clone()
            .unwrap_or_else(|| self.database.pool.clone());
        let hub = self
            .wakes
            .clone()
            .unwrap_or_else(|| WakeHub::new(reads.clone(), self.limits.subscription_poll()));
        let (mut follower, followed) = Follower::start(EventLog::new(reads)).await?;
        if let Some(tap) = &self.page_tap {
            follower = follower.with_tap(tap.clone());
        }
        let task = tokio::spawn(follower.run(hub.subscribe().await));
        self.wakes = Some(hub);
        self.followed = Some(followed);
        Ok((self, task))
    }

    /// Shares the pages the follower reads with a projector (set before
    /// [`AppState::with_follower`]).
    pub fn with_page_tap(mut self, tap: Arc<PageTap>) -> Self {
        self.page_tap = Some(tap);
        self
    }

    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    pub fn with_read_pool(mut self, reads: PgPool) -> Self {
        self.read_pool = Some(reads);
        self
    }

    pub fn with_auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    pub fn with_limits(mut self, limits: GraphqlLimits) -> Self {
        if limits.descriptor_cache_bytes != self.limits.descriptor_cache_bytes {
            self.descriptors = Arc::new(DescriptorCache::new(limits.descriptor_cache_bytes));
        }
        self.limits = limits;
        self
    }

    pub fn with_reading(mut self, reading: ReadPolicy) -> Self {
        self.reading = reading;
        self
    }

    pub fn with_rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    pub fn with_cors(mut self, cors: CorsConfig) -> Self {
        self.cors = cors;
        self
    }

    /// Reads through the API judge kinds and orphans as the configured catalog does.
    pub fn with_catalog(mut self, catalog: almanac_ingest::CatalogPolicy) -> Self {
        self.catalog = catalog;
        self
    }

    pub fn with_read_limits(mut self, read_limits: ReadLimits) -> Self {
        self.read_limits = read_limits;
        self
    }
}

pub fn router(state: AppState) -> Router {
    // Figures recorded from here on reach /metrics.
    crate::metrics::recorder::handle();
    let cors = Arc::new(state.cors.clone());
    let rate = http::rate::RateLimit {
        limiter: (!state.rate_limit.is_off())
            .then(|| Arc::new(http::rate::RateLimiter::new(state.rate_limit.clone()))),
        auth: Arc::new(state.auth.clone()),
    };
    let pool = state.database.pool.clone();
    let reads = state.read_pool.clone().unwrap_or_else(|| pool.clone());
    let pool_name = if state.read_pool.is_some() {
        "read"
    } else {
        "write"
    };
    let catalog = Catalog::with_counter(reads.clone(), state.statements.clone()).on_pool(pool_name);
    let log = match &state.sealer {
        Some(sealer) => EventLog::new(pool).with_sealer(sealer.clone()),
        None => EventLog::new(pool),
    };
    let hub = state
        .wakes
        .clone()
        .unwrap_or_else(|| WakeHub::new(reads.clone(), state.limits.subscription_poll()));
    let rest = crate::rest::router(crate::rest::Rest {
        auth: Arc::new(state.auth.clone()),
        limits: state.limits.clone(),
        catalog: catalog.clone(),
        log: log.clone(),
        followed: state.followed.clone(),
        descriptors: state.descriptors.clone(),
        reading: state.reading.clone(),
        read_limits: state.read_limits.clone(),
        catalog_policy: state.catalog.clone(),
    })
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let service = GraphqlService {
        schema: graphql::build(
            catalog,
            log,
            reads,
            state.limits.clone(),
            state.reading.clone(),
            (state.read_limits.clone(), state.catalog.clone()),
            hub,
            state.followed.clone(),
            state.descriptors.clone(),
        ),
        auth: Arc::new(state.auth.clone()),
        limits: state.limits.clone(),
        cors: cors.clone(),
        persisted: Arc::new(http::PersistedQueries::new(
            state.limits.persisted_query_bytes,
        )),
        followed: state.followed.clone(),
    };
    let graphql = Router::new()
        .route("/graphql", get(http::get).post(http::post))
        .route(http::explorer::SCRIPT_PATH, get(http::explorer::script))
        .route(http::explorer::STYLE_PATH, get(http::explorer::style))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service);
    Router::new()
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .route("/metrics", get(super::metrics::metrics))
        .with_state(state)
        .merge(graphql)
        .merge(rest)
        .layer(axum::middleware::from_fn_with_state(
            rate,
            http::rate::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            cors,
            http::cors::layer,
        ))
        .layer(axum::middleware::from_fn(http::observe::layer))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address names an anonymous client for the rate limit.
    let service = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
