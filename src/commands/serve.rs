//! `almanac serve`: open the database, apply migrations, serve until SIGINT or
//! SIGTERM, then stop cleanly (the embedded database too).

use crate::config::{Settings, DEFAULT_LISTEN};
use crate::database::Connected;
use almanac_api::AppState;
use anyhow::Context;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [env: ALMANAC_LISTEN] [default: 127.0.0.1:7007]
    #[arg(long)]
    listen: Option<String>,
}

pub async fn run(settings: Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listen = args
        .listen
        .or(settings.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let connected = Connected::open(&settings).await?;
    let served = serve(&connected, &listen).await;
    connected.close().await?;
    served?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(connected: &Connected, listen: &str) -> anyhow::Result<()> {
    connected.migrate().await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "almanac listening");
    let state = AppState {
        database: connected.database.clone(),
    };
    almanac_api::serve(listener, state, shutdown_signal())
        .await
        .context("server failed")?;
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
