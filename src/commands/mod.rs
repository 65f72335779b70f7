//! One module per subcommand, and `outln!`, the way they print to stdout.

/// `println!` that returns the write's error instead of panicking: a command piped into
/// `head` must stop quietly when the pipe closes (`main` treats a broken pipe as done).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

pub mod export;
pub mod ingest;
mod ingest_progress;
pub mod migrate;
pub mod replay;
pub mod schema;
pub mod serve;
pub mod verify;
