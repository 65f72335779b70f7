//! `almanac serve`: open the database, apply migrations, serve until SIGINT or
//! SIGTERM, then stop cleanly (the embedded database too).

use crate::config::{Settings, DEFAULT_LISTEN};
use crate::database::Connected;
use almanac_api::{AppState, AuthConfig, Limits};
use almanac_ingest::schedule::{run_schedule, ConfiguredLocation};
use almanac_store::projection::Projector;
use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [env: ALMANAC_LISTEN] [default: 127.0.0.1:7007]
    #[arg(long)]
    listen: Option<String>,
    /// Also load the demo catalog (examples/demo) as a location.
    #[arg(long)]
    demo: bool,
}

/// The demo catalog's root: beside the binary's sources when run from a
/// checkout, else `examples/demo` under the current directory.
fn demo_location() -> ConfiguredLocation {
    let built_in =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/catalog-info.yaml");
    let path = if built_in.is_file() {
        built_in
    } else {
        std::path::PathBuf::from("examples/demo/catalog-info.yaml")
    };
    ConfiguredLocation {
        location_type: "file".into(),
        target: path.display().to_string(),
    }
}

pub async fn run(settings: Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listen = args
        .listen
        .or(settings.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let connected = Connected::open(&settings).await?;
    let mut locations = settings.catalog.locations.clone();
    if args.demo {
        locations.push(demo_location());
    }
    let interval = Duration::from_secs(settings.catalog.refresh_interval_seconds.max(1));
    let api_settings = (settings.auth.clone(), settings.graphql.clone());
    let served = serve(&connected, &listen, locations, interval, api_settings).await;
    connected.close().await?;
    served?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    connected: &Connected,
    listen: &str,
    locations: Vec<ConfiguredLocation>,
    interval: Duration,
    (auth, graphql): (AuthConfig, Limits),
) -> anyhow::Result<()> {
    connected.migrate().await?;
    let pool = connected.database.pool.clone();
    let (stop, stopped) = watch::channel(false);
    let projector = tokio::spawn(Projector::new(pool.clone()).run(stopped.clone()));
    let scheduler = tokio::spawn(run_schedule(pool, locations, interval, stopped));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "almanac listening");
    // GraphQL reads get a pool of their own, so readers cannot take the
    // connections the projector and writers need; its statement_timeout
    // backs up the per-request one the catalog sets.
    let read_options = (*connected.database.pool.connect_options())
        .clone()
        .options([("statement_timeout", graphql.query_timeout_ms.to_string())]);
    let reads = almanac_store::connect(read_options, graphql.read_connections.max(1)).await?;
    let state = AppState::new(connected.database.clone())
        .with_auth(auth)
        .with_limits(graphql)
        .with_read_pool(reads.clone());
    let served = almanac_api::serve(listener, state, shutdown_signal()).await;
    reads.close().await;
    let _ = stop.send(true);
    // A read in progress is abandoned (its transaction rolls back); the next
    // start reads again.
    let _ = tokio::time::timeout(Duration::from_secs(10), projector).await;
    scheduler.abort();
    served.context("server failed")?;
    tracing::info!("almanac stopped");
    Ok(())
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
