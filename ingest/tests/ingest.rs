//! Integration tests of ingestion against a real PostgreSQL.
#![allow(clippy::unwrap_used)]

mod ingest {
    mod changes;
    mod compat;
    mod demo;
    mod digests;
    mod follow;
    mod poison;
    mod races;
    mod read;
    pub mod support;
}
