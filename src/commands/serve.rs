//! `almanac serve`: open the database, apply migrations, serve until SIGINT or
//! SIGTERM, then stop cleanly (the embedded database too).

use crate::config::{Settings, DEFAULT_LISTEN};
use crate::database::Connected;
use almanac_api::{AppState, AuthConfig, CorsConfig, GraphqlLimits};
use almanac_ingest::refresh::{run_refresh, ConfiguredLocation};
use almanac_ingest::{CatalogPolicy, Ingestor, KindRules, OrphanStrategy, ReadLimits, ReadPolicy};
use almanac_store::embedded::{DatabaseHealth, DatabaseState};
use almanac_store::log::seal::Sealer;
use almanac_store::projection::tap::PageTap;
use almanac_store::projection::Projector;
use almanac_store::EventLog;
use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [env: ALMANAC_LISTEN] [default: 127.0.0.1:7007]
    #[arg(long)]
    listen: Option<String>,
    /// Also load the demo catalog (examples/demo, embedded in the binary; written to
    /// `<data-dir>/demo/` on each start) as a location.
    #[arg(long)]
    demo: bool,
}

/// The demo catalog, written from the binary into `<data-dir>/demo/`, so `--demo` works
/// wherever the binary runs.
fn demo_location(data_dir: &std::path::Path) -> anyhow::Result<ConfiguredLocation> {
    let path = crate::demo::write_into(data_dir)?;
    Ok(ConfiguredLocation {
        location_type: "file".into(),
        target: path.display().to_string(),
        rules: Vec::new(),
    })
}

pub async fn run(
    settings: Settings,
    sealer: Arc<Sealer>,
    args: ServeArgs,
) -> anyhow::Result<ExitCode> {
    let listen = args
        .listen
        .or(settings.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let mut connected = Connected::open(&settings).await?;
    connected.supervise(settings.database.supervisor.supervision());
    let mut locations = settings.catalog.locations.clone();
    if args.demo {
        locations.push(demo_location(&settings.data_dir())?);
    }
    let interval = Duration::from_secs(settings.catalog.refresh_interval_seconds.max(1));
    settings.catalog.report_ignored();
    let catalog = (
        settings.catalog.kind_rules(),
        settings.catalog.orphan_strategy,
    );
    let api_settings = (
        settings.auth.clone(),
        settings.graphql.clone(),
        settings.reading.clone(),
        settings.limits.read_limits(),
        (settings.cors.clone(), settings.rate_limit.clone()),
    );
    let served = serve(
        &connected,
        &listen,
        (locations, interval, catalog),
        sealer,
        api_settings,
    )
    .await;
    connected.close().await?;
    served?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    connected: &Connected,
    listen: &str,
    (locations, interval, (rules, orphans)): (
        Vec<ConfiguredLocation>,
        Duration,
        (KindRules, Option<OrphanStrategy>),
    ),
    sealer: Arc<Sealer>,
    (auth, graphql, reading, read_limits, (cors, rate_limit)): (
        AuthConfig,
        GraphqlLimits,
        ReadPolicy,
        ReadLimits,
        (CorsConfig, almanac_api::RateLimitConfig),
    ),
) -> anyhow::Result<()> {
    connected.migrate().await?;
    let pool = connected.database.pool.clone();
    let (stop, stopped) = watch::channel(false);
    // The follower's pages feed the projector: one read of the log for both.
    let tap = Arc::new(PageTap::default());
    let projector = tokio::spawn(
        Projector::new(pool.clone())
            .with_tap(tap.clone())
            .run(stopped.clone()),
    );
    // The refresh loop and the API's reads judge kinds and orphans alike.
    let catalog = CatalogPolicy {
        rules,
        orphans: orphans.unwrap_or_default(),
    };
    let ingestor = Ingestor::new(EventLog::new(pool).with_sealer(sealer.clone()))
        .with_reading(reading.clone())
        .with_limits(read_limits.clone())
        .with_catalog(catalog.clone());
    let refresher = tokio::spawn(run_refresh(ingestor, locations, interval, stopped));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "almanac listening");
    for warning in auth.warnings() {
        tracing::warn!("{warning}");
    }
    // GraphQL reads get a pool of their own, so readers cannot take the
    // connections the projector and writers need; its statement_timeout
    // backs up the per-request one the catalog sets.
    let read_options = (*connected.database.pool.connect_options())
        .clone()
        .options([("statement_timeout", graphql.query_timeout_ms.to_string())]);
    let read_pool = almanac_store::pool_options(graphql.read_connections.max(1));
    // Guarded like the main pool: a restarted embedded database's dead
    // connections are dropped, not handed out.
    let read_pool = match &connected.database.health {
        Some(health) => health.guard(read_pool),
        None => read_pool,
    };
    let reads = almanac_store::connect_with(read_pool, read_options).await?;
    let state = AppState::new(connected.database.clone())
        .with_auth(auth)
        .with_limits(graphql)
        .with_reading(reading)
        .with_read_limits(read_limits)
        .with_catalog(catalog)
        .with_cors(cors)
        .with_rate_limit(rate_limit)
        .with_sealer(sealer)
        .with_read_pool(reads.clone())
        .with_page_tap(tap);
    // The catalog in memory: folded from the log before the first request, then
    // followed on the same wake-ups as subscriptions.
    let (state, follower) = state
        .with_follower()
        .await
        .context("cannot fold the log into the in-memory catalog")?;
    let health = connected.database.health.clone();
    let stopping = {
        let health = health.clone();
        async move {
            tokio::select! {
                () = shutdown_signal() => {}
                reason = database_failed(health) => {
                    tracing::error!(%reason, "the embedded database is gone for good; exiting");
                }
            }
        }
    };
    let served = tokio::select! {
        served = almanac_api::serve(listener, state, stopping) => served,
        // Requests still open (a WebSocket subscription, say) must not keep a
        // process without a database alive.
        () = async {
            database_failed(health.clone()).await;
            tokio::time::sleep(FAILED_DRAIN).await;
        } => {
            tracing::warn!("requests still open after the database was given up; exiting anyway");
            Ok(())
        }
    };
    reads.close().await;
    let _ = stop.send(true);
    // A read in progress is abandoned (its transaction rolls back); the next
    // start reads again.
    let _ = tokio::time::timeout(Duration::from_secs(10), projector).await;
    refresher.abort();
    follower.abort();
    served.context("server failed")?;
    if let Some(DatabaseState::Failed { reason }) = health.map(|health| health.state()) {
        // Non-zero, so that systemd or Kubernetes restarts the process.
        anyhow::bail!("embedded database could not be restarted: {reason}");
    }
    tracing::info!("almanac stopped");
    Ok(())
}

/// How long open requests may finish once the database was given up.
const FAILED_DRAIN: Duration = Duration::from_secs(10);

/// Resolves, with the reason, when the embedded database's supervisor gives
/// up; never without one (`DATABASE_URL`).
async fn database_failed(health: Option<DatabaseHealth>) -> String {
    match health {
        Some(health) => health.failed().await,
        None => std::future::pending().await,
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, shutting down"),
        _ = terminate.recv() => tracing::info!("terminated, shutting down"),
    }
}
