//! Integration tests of the API: a real server on 127.0.0.1:0, a real
//! PostgreSQL, the demo catalog ingested.
#![allow(clippy::unwrap_used)]

mod api {
    mod authz;
    mod batching;
    mod compare;
    mod connections;
    mod consistency;
    mod conventions;
    mod cors;
    mod dependencies;
    mod descriptors;
    mod dry_runs;
    mod entity_page;
    mod errors;
    mod explorer;
    mod filters;
    mod flat;
    mod history;
    mod identity;
    mod lists;
    mod live;
    mod locations;
    mod min_position;
    mod mutations;
    mod naming;
    mod operability;
    mod ops_rules;
    mod ownership;
    mod pool_waits;
    mod portal;
    mod position;
    mod projection_failures;
    mod pushes;
    mod rate_limits;
    mod readers;
    mod reading;
    mod rest;
    mod schema;
    pub mod support;
    mod transport;
    mod typos;
}
