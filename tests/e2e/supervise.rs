//! The embedded PostgreSQL under a running `almanac serve`: `kill -9` of the
//! postmaster is noticed, reported by `/readyz`, and repaired without
//! restarting almanac; when it cannot be repaired, `serve` exits non-zero.

use super::support::{scratch_dir, Server};
use almanac_store::embedded::{Durability, EmbeddedOptions, EmbeddedPostgres};
use almanac_store::{connect, Database};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const GROUP: &str = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: kept-team\n  title: TITLE\nspec:\n  type: team\n  children: []\n";

/// A catalog of one group, read every second, and a fast supervisor.
fn configure(dir: &Path, supervisor: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let catalog = dir.join("catalog-info.yaml");
    std::fs::write(&catalog, GROUP.replace("TITLE", "Before")).unwrap();
    let config = dir.join("almanac.yaml");
    std::fs::write(
        &config,
        format!(
            "catalog:\n  locations:\n    - type: file\n      target: {}\n  refresh_interval_seconds: 1\n\
             database:\n  supervisor:\n    check_interval_ms: 100\n{supervisor}",
            catalog.display()
        ),
    )
    .unwrap();
    (catalog, config)
}

/// A migrated cluster made without waiting for the disk (seconds on a busy
/// machine): the server then starts on it as on any existing data directory.
async fn prepare_cluster(data: &Path) {
    let mut options = EmbeddedOptions::new(data);
    options.durability = Durability::Throwaway;
    let pg = EmbeddedPostgres::start(options).await.unwrap();
    let owner = connect(pg.owner_options(), 2).await.unwrap();
    Database::migrate(&owner).await.unwrap();
    owner.close().await;
    pg.stop().await.unwrap();
}

/// Ends the test without a clean shutdown's checkpoint, and removes the
/// directory in a process of its own: deleting a cluster's files can take
/// seconds on a busy disk, and the test need not wait for it.
fn discard(server: Option<Server>, dir: &Path) {
    let data = dir.join("data");
    if let Some(server) = server {
        server.kill_hard();
    }
    if data.join("pg/postmaster.pid").exists() {
        kill_postmaster(&data);
    }
    let _ = std::process::Command::new("rm")
        .arg("-rf")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// SIGKILL the postmaster (it runs as another user, so by pid from its file).
fn kill_postmaster(data: &Path) {
    let pid_text = std::fs::read_to_string(data.join("pg/postmaster.pid")).unwrap();
    let pid = pid_text.lines().next().unwrap().trim().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The group's title, or the error the query got.
async fn title(server: &Server) -> Result<Option<String>, Value> {
    let body: Value = reqwest::Client::new()
        .post(server.url("/graphql"))
        .json(&json!({"query": "{ entity(ref: \"group:default/kept-team\") { title } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    match body.get("errors") {
        Some(errors) => Err(errors.clone()),
        None => Ok(body["data"]["entity"]["title"].as_str().map(String::from)),
    }
}

async fn wait_for_title(server: &Server, expected: &str) {
    let start = Instant::now();
    loop {
        if title(server).await == Ok(Some(expected.to_string())) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "title never became {expected}: {:?}",
            title(server).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_killed_postmaster_is_restarted_under_a_running_server_and_nothing_is_lost() {
    let dir = scratch_dir("supervise");
    let (catalog, config) = configure(
        &dir,
        "    max_restarts: 1000\n    restart_window_seconds: 60\n",
    );
    let data = dir.join("data");
    prepare_cluster(&data).await;
    let mut server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    wait_for_title(&server, "Before").await;

    // Restarts fail (a setting PostgreSQL refuses) until the test has seen the
    // server unready: on a loaded machine a restart could otherwise finish
    // between two of its requests (seen in CI).
    let conf = data.join("pg/postgresql.conf");
    let good_conf = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        format!("{good_conf}\nshared_buffers = 'not a size'\n"),
    )
    .unwrap();
    kill_postmaster(&data);
    let start = Instant::now();
    let unready = loop {
        let (status, body) = get(&server.url("/readyz")).await;
        if status == 503 {
            break body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "readyz stayed ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        unready["reason"].as_str().unwrap().contains("database"),
        "{unready}"
    );
    // Liveness holds while the supervisor restarts: restarting almanac would not help.
    assert_eq!(get(&server.url("/healthz")).await.0, 200);
    std::fs::write(&conf, &good_conf).unwrap();

    let start = Instant::now();
    while get(&server.url("/readyz")).await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The first query after the restart gets a live connection, not a pooled
    // dead one, and sees what was committed before the kill.
    assert_eq!(title(&server).await, Ok(Some("Before".to_string())));
    // Writes and the projector work again: the next scheduled read lands.
    std::fs::write(&catalog, GROUP.replace("TITLE", "After")).unwrap();
    wait_for_title(&server, "After").await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the same almanac process served throughout"
    );
    discard(Some(server), &dir);
}

#[tokio::test]
async fn serve_exits_non_zero_when_the_postmaster_cannot_be_restarted() {
    let dir = scratch_dir("supervise-give-up");
    let (_catalog, config) = configure(
        &dir,
        "    max_restarts: 1\n    restart_window_seconds: 60\n",
    );
    let data = dir.join("data");
    prepare_cluster(&data).await;
    let mut server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    assert_eq!(get(&server.url("/readyz")).await.0, 200);
    // A setting PostgreSQL refuses: read at the next start only.
    let conf = data.join("pg/postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nshared_buffers = 'not a size'\n");
    std::fs::write(&conf, text).unwrap();

    kill_postmaster(&data);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "almanac serve kept running without a database"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(1), "{status}");
    discard(None, &dir);
}
