//! `/metrics` after a scripted workload (queries, a failing one, a push, a
//! subscription, a location that fails to read): the counts, the histogram
//! buckets, the freshness of the location; and the operations files in `ops/`,
//! whose every metric name must be one the server exports.

use super::live::{connect, next_json, subscribe, Socket};
use super::support::{auth, first_code, server, TestServer, ADMIN};
use almanac_api::GraphqlLimits;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One sample of the text format: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples and the declared families (`# TYPE name kind`) of a scrape.
pub(super) struct Scrape {
    samples: Vec<Sample>,
    families: BTreeMap<String, String>,
    text: String,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = Vec::new();
        let mut families = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                families.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once("=\"").unwrap();
                    (key.to_string(), value.trim_end_matches('"').to_string())
                })
                .collect();
            samples.push(Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap(),
            });
        }
        Scrape {
            samples,
            families,
            text,
        }
    }

    /// The value of the series `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    pub(super) fn expect(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{}", self.text))
    }

    /// Whether `name` is exported: a family, or a histogram's series of one.
    fn exports(&self, name: &str) -> bool {
        if self.families.contains_key(name) {
            return true;
        }
        ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix).is_some_and(|family| {
                matches!(
                    self.families.get(family).map(String::as_str),
                    Some("histogram" | "summary")
                )
            })
        })
    }
}

pub(super) async fn scrape(server: &TestServer) -> Scrape {
    let response = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    Scrape::parse(response.text().await.unwrap())
}

const ONE_COMPONENT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  \
    name: metered\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

/// The scripted workload; returns the open socket (its subscription live) and the
/// failing location's origin.
async fn workload(server: &TestServer) -> (Socket, String) {
    for _ in 0..2 {
        server
            .data(
                "query CatalogSize { entities(first: 1) { totalCount } }",
                json!({}),
            )
            .await;
    }
    let failed = server
        .call(
            r#"query Broken { entity(ref: "component:") { __typename } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(first_code(&failed), "INVALID_REF", "{failed:#}");
    server.push_to("ci-bot", ONE_COMPONENT).await;

    let mut socket = connect(server).await;
    subscribe(
        &mut socket,
        "w",
        "subscription Watch { events(afterPosition: 0) { position } }",
        json!({}),
    )
    .await;
    let first = next_json(&mut socket).await;
    assert_eq!(first["type"], "next", "{first:#}");

    // A location read once, then gone: its next read fails.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(&file, ONE_COMPONENT.replace("metered", "located")).unwrap();
    let added = server
        .mutate_as(
            ADMIN,
            r#"mutation($t: String!) { addLocation(type: "file", target: $t) {
                 ... on LocationSuccess { location { id } } } }"#,
            json!({ "t": file.display().to_string() }),
        )
        .await;
    let id = added["addLocation"]["location"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(&file).unwrap();
    server
        .call(
            r#"mutation($id: String!) { refreshLocation(id: $id) { __typename } }"#,
            json!({ "id": id }),
            Some(ADMIN),
        )
        .await;
    (socket, format!("file:{}", file.display()))
}

async fn metered_server() -> TestServer {
    server(
        auth(true),
        GraphqlLimits {
            allow_file_locations: true,
            ..GraphqlLimits::default()
        },
        true,
    )
    .await
}

#[tokio::test]
async fn metrics_count_a_scripted_workload() {
    let server = metered_server().await;
    let (_socket, origin) = workload(&server).await;
    let metrics = scrape(&server).await;

    let ops = "almanac_graphql_operations_total";
    let ok = [
        ("operation", "CatalogSize"),
        ("type", "query"),
        ("outcome", "ok"),
    ];
    assert_eq!(metrics.expect(ops, &ok), 2.0);
    let broken = [
        ("operation", "Broken"),
        ("type", "query"),
        ("outcome", "INVALID_REF"),
    ];
    assert_eq!(metrics.expect(ops, &broken), 1.0);
    let pushed = [
        ("operation", "Apply"),
        ("type", "mutation"),
        ("outcome", "ok"),
    ];
    assert_eq!(metrics.expect(ops, &pushed), 1.0);
    let watched = [
        ("operation", "Watch"),
        ("type", "subscription"),
        ("outcome", "ok"),
    ];
    assert_eq!(metrics.expect(ops, &watched), 1.0);

    // The histogram: both runs in the +Inf bucket and the count, none below 0.
    let duration = "almanac_graphql_operation_duration_seconds";
    let timed = [("operation", "CatalogSize"), ("type", "query")];
    assert_eq!(metrics.expect(&format!("{duration}_count"), &timed), 2.0);
    assert_eq!(
        metrics.expect(
            &format!("{duration}_bucket"),
            &[
                ("operation", "CatalogSize"),
                ("type", "query"),
                ("le", "+Inf")
            ]
        ),
        2.0
    );
    assert!(metrics.expect(&format!("{duration}_sum"), &timed) > 0.0);

    // HTTP: the six POSTs answered 200 (two queries, the failing one: a field
    // error, the push, the location's two mutations), by route pattern.
    let posts = metrics.expect(
        "almanac_http_requests_total",
        &[("route", "/graphql"), ("method", "POST"), ("status", "200")],
    );
    assert_eq!(posts, 6.0);
    assert_eq!(
        metrics.expect("almanac_websocket_connections", &[]),
        1.0,
        "the socket is still open"
    );
    assert_eq!(metrics.expect("almanac_subscriptions_active", &[]), 1.0);

    // The location: read once well, then failed once.
    let location = [("location", origin.as_str())];
    assert_eq!(
        metrics.expect("almanac_location_consecutive_failures", &location),
        1.0
    );
    let success = metrics.expect("almanac_location_last_success_timestamp_seconds", &location);
    let attempt = metrics.expect("almanac_location_last_attempt_timestamp_seconds", &location);
    assert!(success > 1.7e9 && attempt >= success, "{success} {attempt}");
    assert_eq!(
        metrics.expect("almanac_location_reads_total", &[("outcome", "failed")]),
        1.0
    );
    assert_eq!(
        metrics.expect("almanac_location_reads_total", &[("outcome", "ok")]),
        1.0
    );

    // Appends (the push, the location's add and first read) and freshness.
    assert!(metrics.expect("almanac_append_batch_events_count", &[]) >= 2.0);
    assert_eq!(metrics.expect("almanac_database_up", &[]), 1.0);
    let head = metrics.expect("almanac_log_head_position", &[]);
    assert_eq!(metrics.expect("almanac_readmodel_position", &[]), head);
    assert_eq!(metrics.expect("almanac_readmodel_lag_events", &[]), 0.0);
    // The catalog's entities' bytes: every entity holds its struct and text.
    let entities = metrics.expect("almanac_readmodel_entities", &[]);
    let bytes = metrics.expect("almanac_readmodel_entity_bytes", &[]);
    assert!(entities >= 176.0, "{entities}");
    assert!(
        bytes > entities * 300.0 && bytes < entities * 20_000.0,
        "{bytes} bytes for {entities} entities"
    );
    // Reads of the catalog's rows (the push's answer) waited for the one pool.
    assert!(
        metrics.expect(
            "almanac_db_pool_acquire_seconds_count",
            &[("pool", "write")]
        ) >= 1.0
    );
    assert_eq!(
        metrics.expect("almanac_db_pool_waiting", &[("pool", "write")]),
        0.0
    );
    assert_eq!(
        metrics.expect("almanac_requests_rejected_total", &[("limit", "rate")]),
        0.0,
        "the rate limit's series is there from the start"
    );
    assert_eq!(
        metrics.expect("almanac_requests_rejected_total", &[("limit", "depth")]),
        0.0
    );
}

#[tokio::test]
async fn a_refused_request_counts_under_its_limit() {
    let server = server(
        auth(true),
        GraphqlLimits {
            max_depth: 2,
            ..GraphqlLimits::default()
        },
        false,
    )
    .await;
    let deep = server
        .call(
            "query Deep { entities(first: 1) { nodes { owner { name } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(first_code(&deep), "DEPTH_LIMIT_EXCEEDED", "{deep:#}");
    let metrics = scrape(&server).await;
    assert_eq!(
        metrics.expect("almanac_requests_rejected_total", &[("limit", "depth")]),
        1.0
    );
    assert_eq!(
        metrics.expect(
            "almanac_graphql_operations_total",
            &[
                ("operation", "Deep"),
                ("type", "query"),
                ("outcome", "DEPTH_LIMIT_EXCEEDED")
            ]
        ),
        1.0
    );
}

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops")
}

/// Every `almanac_…` name in a PromQL text.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("almanac_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn rule_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(ops_dir().join("prometheus/almanac.rules.yaml")).unwrap();
    let rules: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            exprs.push((
                rule["alert"].as_str().unwrap().to_string(),
                rule["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    exprs
}

fn panel_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(ops_dir().join("grafana/almanac.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push((
                panel["title"].as_str().unwrap().to_string(),
                target["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    exprs
}

#[tokio::test]
async fn the_ops_files_name_only_metrics_the_server_exports() {
    let server = metered_server().await;
    let (_socket, _) = workload(&server).await;
    let metrics = scrape(&server).await;
    let rules = rule_exprs();
    let panels = panel_exprs();
    assert!(
        rules.len() >= 10 && panels.len() >= 20,
        "{rules:?} {panels:?}"
    );
    let mut unknown = Vec::new();
    for (owner, expr) in rules.iter().chain(&panels) {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{owner}: no almanac metric in {expr}");
        for name in names {
            if !metrics.exports(&name) {
                unknown.push(format!("{owner}: {name}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "not exported: {unknown:#?}\n{}",
        metrics.text
    );
    // The check itself can fail: a made-up name is caught.
    assert!(!metrics.exports("almanac_made_up_total"));
}

/// "Which client or location is the trouble" is on the dashboard: panels split
/// by client, by operation name and by location.
#[test]
fn the_dashboard_names_the_client_operation_or_location_in_trouble() {
    let panels = panel_exprs();
    let split_by = |metric: &str, label: &str| {
        panels.iter().any(|(_, expr)| {
            expr.contains(metric)
                && (expr.contains(&format!("by ({label}"))
                    || expr.contains(&format!(", {label})"))
                    || !expr.contains(" by ("))
        })
    };
    for (metric, label) in [
        ("almanac_client_requests_total", "client"),
        ("almanac_graphql_operations_total", "operation"),
        (
            "almanac_graphql_operation_duration_seconds_bucket",
            "operation",
        ),
        ("almanac_location_consecutive_failures", "location"),
        (
            "almanac_location_last_success_timestamp_seconds",
            "location",
        ),
        ("almanac_db_pool_waiting", "pool"),
    ] {
        assert!(
            split_by(metric, label),
            "no panel shows {metric} by {label}"
        );
    }
}
