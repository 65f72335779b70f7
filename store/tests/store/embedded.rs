//! The embedded cluster keeps its data across stops and crashes.

use super::support::{append, meta, n};
use almanac_store::embedded::{EmbeddedOptions, EmbeddedPostgres};
use almanac_store::{connect, Database, EventLog};
use std::path::PathBuf;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("almanac-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn start(dir: &PathBuf) -> (EmbeddedPostgres, EventLog) {
    // Appends are signed; the harness's test key does.
    almanac_store::testing::test_sealer();
    let pg = EmbeddedPostgres::start(EmbeddedOptions::new(dir))
        .await
        .unwrap();
    let owner = connect(pg.owner_options(), 2).await.unwrap();
    Database::migrate(&owner).await.unwrap();
    owner.close().await;
    let pool = connect(pg.server_options(), 4).await.unwrap();
    (pg, EventLog::new(pool))
}

#[tokio::test]
async fn data_survives_a_stop_and_a_killed_postmaster() {
    let dir = scratch_dir("embedded");
    let (pg, log) = start(&dir).await;
    assert!(pg.started_here);
    assert!(pg.socket_dir().exists());
    log.append(&[append("s", 0, &[n(1)])], &meta("a"))
        .await
        .unwrap();
    log.pool().close().await;
    pg.stop().await.unwrap();
    assert!(!dir.join("pg/postmaster.pid").exists(), "stopped cleanly");

    let (pg, log) = start(&dir).await;
    assert!(pg.started_here);
    assert_eq!(log.read_stream("s", 1).await.unwrap().len(), 1);
    log.append(&[append("s", 1, &[n(2)])], &meta("a"))
        .await
        .unwrap();
    log.pool().close().await;

    // Crash: SIGKILL the postmaster, leaving a stale postmaster.pid behind.
    let pid_text = std::fs::read_to_string(dir.join("pg/postmaster.pid")).unwrap();
    let pid = pid_text.lines().next().unwrap().trim().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(pg); // the process "died" too: its lock goes with it
    assert!(dir.join("pg/postmaster.pid").exists());

    let (pg, log) = start(&dir).await;
    let events = log.read_stream("s", 1).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
        vec![n(1), n(2)]
    );
    assert!(log.verify(None).await.unwrap().is_intact());
    log.pool().close().await;
    pg.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_second_user_adopts_the_running_cluster_and_the_last_one_stops_it() {
    let dir = scratch_dir("embedded-shared");
    let (first, first_log) = start(&dir).await;
    let (second, second_log) = start(&dir).await;
    assert!(first.started_here);
    assert!(
        !second.started_here,
        "the second process adopts the cluster"
    );
    first_log
        .append(&[append("s", 0, &[n(1)])], &meta("a"))
        .await
        .unwrap();
    first_log.pool().close().await;
    first.stop().await.unwrap();
    // Still up for the second user.
    assert_eq!(second_log.read_stream("s", 1).await.unwrap().len(), 1);
    second_log.pool().close().await;
    second.stop().await.unwrap();
    assert!(!dir.join("pg/postmaster.pid").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_starts_initialise_the_cluster_once() {
    let dir = scratch_dir("embedded-race");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.clone();
            tokio::spawn(async move { EmbeddedPostgres::start(EmbeddedOptions::new(dir)).await })
        })
        .collect();
    let mut clusters = Vec::new();
    for start in starts {
        clusters.push(
            start
                .await
                .unwrap()
                .expect("every concurrent start succeeds"),
        );
    }
    assert_eq!(
        clusters.iter().filter(|pg| pg.started_here).count(),
        1,
        "one started it, the rest adopted"
    );
    for pg in clusters {
        pg.stop().await.unwrap();
    }
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "the last one out stopped it"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
