//! Integration tests of the store against a real PostgreSQL (one binary for
//! link time; one module per subject).
#![allow(clippy::unwrap_used)]

mod store {
    mod append_only;
    mod concurrency;
    mod digests;
    mod embedded;
    mod entity_row;
    mod hash_chain;
    mod history;
    mod log;
    mod numbers;
    mod poison;
    mod projection;
    pub mod support;
    mod tamper;
}
