//! The command line on the embedded database: ingest (also beside a running
//! server), replay --verify, verify (clean, then after tampering), and a
//! configuration file's locations read by serve.

use super::support::{almanac, scratch_dir, Server};
use almanac_store::embedded::{EmbeddedOptions, EmbeddedPostgres, DATABASE, SUPERUSER};
use serde_json::json;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn demo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/catalog-info.yaml")
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = almanac()
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn ingest_replay_and_verify_from_the_command_line() {
    let dir = scratch_dir("cli");
    let demo = demo_root();
    let demo = demo.to_str().unwrap();
    let (code, out, err) = run(&dir, &["ingest", demo]);
    assert_eq!(code, 1, "the demo holds one invalid entity: {out}{err}");
    assert!(
        out.contains("175 registered, 0 updated, 0 removed, 0 unchanged, 0 conflicts, 1 errors"),
        "{out}"
    );
    assert!(
        out.contains("(component:default/legacy-invoice-exporter): spec.owner"),
        "{out}"
    );
    assert!(
        out.contains("systems/orders/invoice-renderer/catalog-info.yaml"),
        "{out}"
    );

    // Beside a running server on the same data directory.
    let server = Server::start(&dir);
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("almanac_entities{kind=\"Component\"} 61\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("almanac_log_head_position 175\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("almanac_projection_lag_events 0\n"),
        "{metrics}"
    );
    let (_, out, _) = run(&dir, &["ingest", demo]);
    assert!(
        out.contains("0 registered, 0 updated, 0 removed, 175 unchanged"),
        "{out}"
    );
    let (code, out, _) = run(&dir, &["replay", "--verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("175 entities"), "{out}");
    assert!(
        out.contains("no difference from the live projections"),
        "{out}"
    );
    assert!(
        out.contains(
            "in-memory catalog at position 175: 175 entities, no difference from the log folded at once"
        ),
        "{out}"
    );
    let (code, out, _) = run(&dir, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("checked 175 events in 175 streams: 0 broken"),
        "{out}"
    );
    assert!(out.contains("append-only guards in place"), "{out}");
    assert!(server.terminate().success());
    // An auditor keeps the latest signed checkpoint.
    let (code, checkpoint, err) = run(&dir, &["export-checkpoint"]);
    assert_eq!(code, 0, "{err}");
    assert!(checkpoint.contains("\"event_count\": 175"), "{checkpoint}");
    let checkpoint_file = dir.join("checkpoint.json");
    std::fs::write(&checkpoint_file, &checkpoint).unwrap();
    let with_checkpoint = ["verify", "--checkpoint", checkpoint_file.to_str().unwrap()];
    let (code, out, _) = run(&dir, &with_checkpoint);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the log reproduces the auditor's checkpoint at position 175"),
        "{out}"
    );

    // Tamper as the superuser, triggers off: verify names the stream and version.
    let pg = EmbeddedPostgres::start(EmbeddedOptions::new(&dir))
        .await
        .unwrap();
    let mut su = pg
        .connect_options(SUPERUSER, DATABASE)
        .connect()
        .await
        .unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE events SET actor = 'mallory' WHERE stream = 'component:default/checkout-service'",
    )
    .execute(&mut su)
    .await
    .unwrap();
    // And the newest event with its checkpoint, which only the auditor's file shows.
    sqlx::query("DELETE FROM events WHERE position = 175")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query("DELETE FROM log_checkpoints WHERE position = 175")
        .execute(&mut su)
        .await
        .unwrap();
    su.close().await.unwrap();
    pg.stop().await.unwrap();
    let (code, out, _) = run(&dir, &["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("broken: stream component:default/checkout-service version 1"),
        "{out}"
    );
    let (code, out, _) = run(&dir, &with_checkpoint);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the log does NOT reproduce the auditor's checkpoint at position 175"),
        "{out}"
    );
    assert!(out.contains("rolled back"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_reads_the_locations_of_its_configuration_file() {
    let dir = scratch_dir("config");
    let catalog = dir.join("catalog-info.yaml");
    std::fs::write(
        &catalog,
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: configured-team\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    let config = dir.join("almanac.yaml");
    std::fs::write(
        &config,
        format!(
            "catalog:\n  locations:\n    - type: file\n      target: {}\n  refresh_interval_seconds: 1\n",
            catalog.display()
        ),
    )
    .unwrap();
    let data = dir.join("data");
    let mut server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    // Registered at start: served without a title.
    let query = json!({"query": "{ entity(ref: \"group:configured-team\") { name title } }"});
    let served = |expected: serde_json::Value| {
        let (url, query) = (server.url("/graphql"), query.clone());
        async move {
            let start = Instant::now();
            loop {
                let body: serde_json::Value = reqwest::Client::new()
                    .post(&url)
                    .json(&query)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if body["data"]["entity"] == expected {
                    return;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(4),
                    "expected {expected}, served {body}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    served(json!({"name": "configured-team", "title": null})).await;
    // Edited only after the first read was served: only a scheduled re-read (every
    // second, per the configuration) can bring the new title.
    std::fs::write(
        &catalog,
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: configured-team\n  title: Renamed\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    served(json!({"name": "configured-team", "title": "Renamed"})).await;
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_then_import_rebuilds_an_identical_log_elsewhere() {
    let dir = scratch_dir("export");
    let demo = demo_root();
    let (code, _, _) = run(&dir.join("a"), &["ingest", demo.to_str().unwrap()]);
    assert_eq!(code, 1, "the demo's one invalid entity");
    let (code, exported, err) = run(&dir.join("a"), &["export"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(exported.lines().count(), 175);
    assert!(err.contains("exported 175 events"), "{err}");
    let file = dir.join("log.ndjson");
    std::fs::write(&file, &exported).unwrap();

    let (code, out, err) = run(&dir.join("b"), &["import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 175 events"), "{out}");
    let (_, again, _) = run(&dir.join("b"), &["export"]);
    assert_eq!(
        again, exported,
        "the same events, positions, times and hashes"
    );
    let (code, out, _) = run(&dir.join("b"), &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("175 events sealed"), "{out}");
    // An auditor's checkpoint from the old server verifies on the new one: the
    // heads are a function of the events; the import is sealed by b's own key.
    let (code, checkpoint, err) = run(&dir.join("a"), &["export-checkpoint"]);
    assert_eq!(code, 0, "{err}");
    let checkpoint_file = dir.join("checkpoint.json");
    std::fs::write(&checkpoint_file, &checkpoint).unwrap();
    let (code, out, _) = run(
        &dir.join("b"),
        &["verify", "--checkpoint", checkpoint_file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the log reproduces the auditor's checkpoint at position 175"),
        "{out}"
    );
    let (code, out, _) = run(&dir.join("b"), &["replay", "--verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("175 entities"), "{out}");

    let (_, one, _) = run(
        &dir.join("b"),
        &["export", "--ref", "component:checkout-service"],
    );
    assert_eq!(one.lines().count(), 1);
    assert!(
        one.contains("\"stream\":\"component:default/checkout-service\""),
        "{one}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hash_token_reads_the_token_from_stdin_only() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = almanac()
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret-token\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        almanac_api::token_hash("s3cret-token")
    );

    let out = almanac()
        .args(["hash-token", "s3cret-token"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hash-token reads the token from stdin only"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-token"), "the token is not echoed");
}

/// jsonb keeps no negative zero and no exponent, so `-0.0` or `1e18` used to be hashed in
/// one form and stored in another: verify failed for good and import refused the export.
#[test]
fn numbers_jsonb_normalises_still_verify_and_export_round_trips() {
    let dir = scratch_dir("numbers");
    let file = dir.join("catalog-info.yaml");
    std::fs::write(
        &file,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: numbers\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n\
         \x20 n: -0.0\n  big: 1e18\n  small: 1.5e-7\n  list: [-0, 1E+20, 18446744073709551615]\n",
    )
    .unwrap();
    let json = dir.join("json.json");
    std::fs::write(
        &json,
        r#"{"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "json-numbers"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", "n": -0, "m": -0.0, "e": 1e18}}"#,
    )
    .unwrap();
    for source in [&file, &json] {
        let (code, out, err) = run(&dir.join("a"), &["ingest", source.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, _) = run(&dir.join("a"), &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": 0 broken"), "{out}");
    // Reading the same files again changes nothing.
    let (code, out, _) = run(&dir.join("a"), &["ingest", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 updated"), "{out}");

    let (code, exported, err) = run(&dir.join("a"), &["export"]);
    assert_eq!(code, 0, "{err}");
    assert!(exported.contains(r#""n":0.0"#), "{exported}");
    assert!(
        exported.contains(r#""big":1000000000000000000"#),
        "{exported}"
    );
    let export_file = dir.join("log.ndjson");
    std::fs::write(&export_file, &exported).unwrap();
    let (code, out, err) = run(&dir.join("b"), &["import", export_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, again, _) = run(&dir.join("b"), &["export"]);
    assert_eq!(again, exported, "byte for byte");
    let (code, out, _) = run(&dir.join("b"), &["verify"]);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `almanac replay --verify | head` used to panic ("failed printing to stdout"): a reader
/// that goes away is a normal end for every command that prints.
#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    let dir = scratch_dir("pipe");
    let demo = demo_root();
    run(&dir, &["ingest", demo.to_str().unwrap()]);
    for args in [
        &["replay", "--verify"][..],
        &["verify"],
        &["export"],
        &["schema"],
    ] {
        let mut child = almanac()
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader leaves before the command prints anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(output.status.success(), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two files of `per_file` small components each, under `root`: two ingest
/// chunks (a chunk closes once it holds 2,000 entities).
fn two_chunk_catalog(root: &Path, per_file: usize) {
    for file in 0..2 {
        let dir = root.join(format!("part-{file}"));
        std::fs::create_dir_all(&dir).unwrap();
        let docs: Vec<String> = (0..per_file)
            .map(|i| {
                format!(
                    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  \
                     name: c-{file}-{i}\nspec:\n  type: service\n  lifecycle: production\n  \
                     owner: team-{}\n",
                    i % 7
                )
            })
            .collect();
        std::fs::write(dir.join("catalog-info.yaml"), docs.join("---\n")).unwrap();
    }
}

/// A crash at any point of an ingest loses nothing: `almanac ingest` killed
/// (SIGKILL) while it decides and appends leaves whole chunks only, each sealed
/// by its checkpoint with every chain intact, and the next ingest completes
/// the catalog from there.
#[tokio::test]
async fn an_ingest_killed_while_it_appends_leaves_whole_sealed_chunks_and_the_next_completes() {
    const PER_FILE: usize = 2_000;
    let dir = scratch_dir("kill-ingest");
    let catalog = dir.join("catalog");
    two_chunk_catalog(&catalog, PER_FILE);
    let data = dir.join("data");
    // The cluster runs before the ingest, so the test can watch the log head.
    let pg = EmbeddedPostgres::start(EmbeddedOptions::new(&data))
        .await
        .unwrap();
    let (code, _, err) = run(&data, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    let mut su = pg
        .connect_options(SUPERUSER, DATABASE)
        .connect()
        .await
        .unwrap();
    let mut ingest = almanac()
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", catalog.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as the first chunk is in: the second is being decided or
    // appended (or, on a fast machine, already in: whole chunks either way).
    let start = Instant::now();
    loop {
        let (head,): (i64,) = sqlx::query_as("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&mut su)
            .await
            .unwrap();
        if head > 0 || ingest.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing appended"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = ingest.kill();
    ingest.wait().unwrap();
    let (events, sealed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM events), \
                (SELECT coalesce(max(event_count), 0) FROM log_checkpoints)",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    su.close().await.unwrap();
    pg.stop().await.unwrap();
    let chunk = PER_FILE as i64;
    assert!(
        events == chunk || events == 2 * chunk,
        "whole chunks only: {events} events"
    );
    assert_eq!(sealed, events, "every appended event is sealed");
    let (code, out, _) = run(&data, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "checked {events} events in {events} streams: 0 broken"
        )),
        "{out}"
    );

    let (code, out, err) = run(&data, &["ingest", catalog.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let registered = 2 * chunk - events;
    assert!(
        out.contains(&format!(
            "2 sources read: {registered} registered, 0 updated, 0 removed, {events} unchanged"
        )),
        "{out}"
    );
    let (code, out, _) = run(&data, &["verify"]);
    assert_eq!(code, 0, "{out}");
    let all = 2 * chunk;
    assert!(
        out.contains(&format!("checked {all} events in {all} streams: 0 broken")),
        "{out}"
    );
    assert!(out.contains(&format!("{all} events sealed")), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
