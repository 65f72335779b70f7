//! The read model's tests: no database, the real fold over logs written as ingest writes
//! them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod filters;
mod history;
mod log;
mod queries;
mod walks;
