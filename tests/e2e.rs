//! End-to-end tests of the `almanac` binary: real processes, real HTTP, a real
//! embedded PostgreSQL. One test binary; one module per subject.
#![allow(clippy::unwrap_used)]

mod e2e {
    mod cli;
    mod request_ids;
    mod serve;
    mod supervise;
    pub mod support;
    mod traces;
    mod unprivileged;
}
