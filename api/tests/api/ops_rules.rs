//! The alert rules are valid (`promtool check rules`) and fire on the failures
//! they name (`promtool test rules` on ops/prometheus/almanac.rules.test.yaml:
//! availability, p99 latency, freshness, a location failing, the projector
//! stuck, the database unreachable). promtool is Debian's `prometheus` package
//! (`.ci/run` installs it); without it the test fails under `CI=true` and
//! says it skipped elsewhere.

use std::path::PathBuf;
use std::process::Command;

fn prometheus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops/prometheus")
}

/// promtool's output of `args` run in ops/prometheus, asserted successful;
/// `None` when promtool is not installed (and this is not CI).
fn promtool(args: &[&str]) -> Option<String> {
    let output = match Command::new("promtool")
        .args(args)
        .current_dir(prometheus_dir())
        .output()
    {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(
                !ci,
                "promtool is not installed: apt-get install --no-install-recommends prometheus"
            );
            eprintln!("promtool is not installed: the alert rules were not tested");
            return None;
        }
        Err(err) => panic!("cannot run promtool: {err}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    Some(text)
}

#[test]
fn the_alert_rules_are_valid_and_fire_on_the_failures_they_name() {
    let Some(checked) = promtool(&["check", "rules", "almanac.rules.yaml"]) else {
        return;
    };
    assert!(checked.contains("SUCCESS: 13 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "almanac.rules.test.yaml"]).unwrap_or_default();
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert the README's SLOs name has a test that expects it to fire.
    let tests = std::fs::read_to_string(prometheus_dir().join("almanac.rules.test.yaml")).unwrap();
    for alert in [
        "AlmanacDown",
        "AlmanacDatabaseUnreachable",
        "AlmanacErrorBudgetBurn",
        "AlmanacSlowQueries",
        "AlmanacProjectionStale",
        "AlmanacReadModelBehind",
        "AlmanacProjectorStuck",
        "AlmanacLocationFailing",
        "AlmanacLocationStale",
    ] {
        let fires = tests
            .split("alertname: ")
            .skip(1)
            .any(|case| case.starts_with(alert) && case.contains("exp_labels"));
        assert!(fires, "no test expects {alert} to fire");
    }
}
