use super::support::{almanac, scratch_dir, Server};
use almanac_store::embedded::{EmbeddedOptions, EmbeddedPostgres};
use almanac_store::log::seal::Sealer;
use almanac_store::{connect, AppendMeta, EventLog, NewEvent, StreamAppend};
use serde_json::json;
use std::path::Path;

/// Attaches to the same data directory as the server (adopting its cluster),
/// like a second `almanac` process would.
async fn with_log<T>(dir: &Path, f: impl AsyncFnOnce(&EventLog) -> T) -> T {
    // Appends are signed with the data directory's key, as `almanac` signs them.
    let sealer = Sealer::load_or_create(&dir.join("signing.key")).unwrap();
    let pg = EmbeddedPostgres::start(EmbeddedOptions::new(dir))
        .await
        .unwrap();
    let log = EventLog::new(connect(pg.server_options(), 2).await.unwrap())
        .with_sealer(std::sync::Arc::new(sealer));
    let out = f(&log).await;
    log.pool().close().await;
    pg.stop().await.unwrap();
    out
}

async fn get(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn serve_answers_health_and_keeps_data_across_restarts_and_kill_9() {
    let dir = scratch_dir("serve");
    let server = Server::start(&dir);
    assert_eq!(
        get(&server.url("/healthz")).await,
        (200, json!({"status": "ok"}))
    );
    let (status, ready) = get(&server.url("/readyz")).await;
    assert_eq!(status, 200);
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["projection"]["lag_events"], 0);

    with_log(&dir, async |log| {
        let append = StreamAppend {
            stream: "component:default/kept".into(),
            expected_version: 0,
            events: vec![NewEvent {
                event_type: "EntityRegistered".into(),
                schema_version: 1,
                payload: json!({"descriptor": {"metadata": {"name": "kept"}}}),
            }],
            source: None,
        };
        let meta = AppendMeta {
            actor: "test".into(),
            ..AppendMeta::default()
        };
        log.append(&[append], &meta).await.unwrap();
    })
    .await;
    // The second user left; the server's cluster is still up.
    assert_eq!(get(&server.url("/readyz")).await.0, 200);

    let status = server.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "the last user stopped PostgreSQL"
    );

    let server = Server::start(&dir);
    assert_eq!(get(&server.url("/readyz")).await.0, 200);
    server.kill_hard();

    let server = Server::start(&dir);
    assert_eq!(get(&server.url("/readyz")).await.0, 200);
    let kept = with_log(&dir, async |log| {
        log.read_stream("component:default/kept", 1).await.unwrap()
    })
    .await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].payload["descriptor"]["metadata"]["name"], "kept");
    assert!(server.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_postgres_binaries_say_what_to_install() {
    let dir = scratch_dir("nobins");
    let out = almanac()
        .arg("--data-dir")
        .arg(&dir)
        .arg("migrate")
        .env("ALMANAC_PG_BIN", dir.join("no-such-dir"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apt-get install postgresql"), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrate_applies_the_schema_to_the_embedded_database() {
    let dir = scratch_dir("migrate");
    let out = almanac()
        .arg("--data-dir")
        .arg(&dir)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "migrations applied"
    );
    assert!(dir.join("pg/PG_VERSION").is_file());
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "stopped after migrating"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `serve --demo` run from a directory that holds no checkout: the demo comes from the
/// binary, written into `<data-dir>/demo/`, and its entities are served.
#[tokio::test]
async fn serve_demo_serves_the_embedded_demo_from_any_working_directory() {
    let dir = scratch_dir("demo");
    let elsewhere = scratch_dir("demo-cwd");
    let server = Server::start_in(&elsewhere, &dir, &["--demo"]);
    let query = json!({"query": "{ entity(ref: \"component:checkout-service\") { name source } }"});
    let start = std::time::Instant::now();
    let entity = loop {
        let body: serde_json::Value = reqwest::Client::new()
            .post(server.url("/graphql"))
            .json(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !body["data"]["entity"].is_null() {
            break body["data"]["entity"].clone();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(8),
            "the demo was not served: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(entity["name"], "checkout-service");
    let source = entity["source"].as_str().unwrap();
    let written = dir.join("demo/catalog-info.yaml");
    assert!(
        written.is_file(),
        "the demo is written into the data directory"
    );
    assert!(
        source.contains(&*dir.join("demo").to_string_lossy()),
        "read from the data directory's copy, not the checkout: {source}"
    );
    assert!(server.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&elsewhere);
}
