//! One module per subcommand.

pub mod export;
pub mod ingest;
pub mod migrate;
pub mod replay;
pub mod schema;
pub mod serve;
pub mod verify;
