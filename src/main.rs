//! The `almanac` binary: command-line parsing and wiring. The work itself lives
//! in the library crates; errors become `anyhow` only here, at the edge.

mod commands;
mod config;
mod database;
mod demo;
mod signing;
mod telemetry;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc rather than the system allocator: a GraphQL response allocates for every
/// field it resolves (boxed futures, result maps), and glibc's malloc and free were
/// about a fifth of the server's CPU on a page of entities.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "almanac",
    version,
    about = "A software catalog with a full history"
)]
struct Cli {
    /// Service configuration (YAML). Environment variables and flags override it.
    #[arg(long, global = true, env = "ALMANAC_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded database (used when no DATABASE_URL is set).
    #[arg(long, global = true, env = "ALMANAC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "ALMANAC_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: GraphQL, health and readiness.
    Serve(commands::serve::ServeArgs),
    /// Apply database migrations (as the schema owner) and exit.
    Migrate,
    /// Read sources once (files, directories, URLs) and record every change.
    Ingest(commands::ingest::IngestArgs),
    /// Rebuild the projections from the log (or, with --verify, compare).
    Replay(commands::replay::ReplayArgs),
    /// Check the hash chains, the signed checkpoints and the append-only guards.
    Verify(commands::verify::VerifyArgs),
    /// Print the latest signed checkpoint as JSON, for an auditor to keep.
    ExportCheckpoint,
    /// Write the events as NDJSON to stdout (all, one entity's, or since a time).
    Export(commands::export::ExportArgs),
    /// Rebuild an empty database from an `almanac export` file.
    Import(commands::export::ImportArgs),
    /// Print the GraphQL schema (SDL), as checked in at schema.graphql.
    Schema,
    /// Print the sha-256 of a token read from stdin, for the `auth.tokens` of the configuration.
    HashToken {
        /// Refused: a token on the command line shows in `ps` and shell history.
        #[arg(hide = true)]
        refused: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let _traces = telemetry::init(cli.log_json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // The reader went away (`almanac export | head`): it has all it wanted.
        Err(err) if is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    // Only the commands that touch the catalog read the configuration.
    let settings = || -> anyhow::Result<config::Settings> {
        config::Settings::load(cli.config.as_deref(), cli.data_dir.clone())
    };
    match cli.command {
        Command::Serve(args) => {
            let settings = settings()?;
            let sealer = signing::sealer(&settings)?;
            commands::serve::run(settings, sealer, args).await
        }
        Command::Migrate => commands::migrate::run(settings()?).await,
        Command::Ingest(args) => {
            let settings = settings()?;
            let sealer = signing::sealer(&settings)?;
            commands::ingest::run(settings, sealer, args).await
        }
        Command::Replay(args) => commands::replay::run(settings()?, args).await,
        Command::Verify(args) => commands::verify::run(settings()?, args).await,
        Command::ExportCheckpoint => commands::verify::export_checkpoint(settings()?).await,
        Command::Export(args) => commands::export::export(settings()?, args).await,
        Command::Import(args) => {
            let settings = settings()?;
            let sealer = signing::sealer(&settings)?;
            commands::export::import(settings, sealer, args).await
        }
        Command::Schema => commands::schema::print_schema(),
        Command::HashToken { refused } => commands::schema::hash_token(refused.is_some()),
    }
}
