//! The embedded cluster keeps its data across stops and crashes, and a
//! supervised one is restarted under its running pools.

use super::support::{append, meta, n};
use almanac_store::embedded::{
    DatabaseHealth, DatabaseState, Durability, EmbeddedOptions, EmbeddedPostgres, Supervision,
};
use almanac_store::{connect, connect_with, pool_options, Database, EventLog};
use std::path::PathBuf;
use std::time::Duration;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("almanac-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn start(dir: &PathBuf) -> (EmbeddedPostgres, EventLog) {
    start_with(EmbeddedOptions::new(dir)).await
}

async fn start_with(options: EmbeddedOptions) -> (EmbeddedPostgres, EventLog) {
    let pg = EmbeddedPostgres::start(options).await.unwrap();
    let owner = connect(pg.owner_options(), 2).await.unwrap();
    Database::migrate(&owner).await.unwrap();
    owner.close().await;
    let pool = connect(pg.server_options(), 4).await.unwrap();
    (
        pg,
        EventLog::new(pool).with_sealer(almanac_store::testing::test_sealer()),
    )
}

/// Waits (at most 5 s) until process `pid` is gone or a zombie.
async fn wait_until_dead(pid: &str) {
    for _ in 0..500 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, None | Some('Z' | 'X' | 'x')) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} still runs 5 s after SIGKILL");
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
    // `kill` returns once the signal is sent; on a loaded machine the postmaster may
    // still be running for a moment, and a start then would adopt a dying cluster.
    wait_until_dead(&pid).await;
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

/// SIGKILL the postmaster by the pid in its file (it runs as another user).
fn kill_postmaster(dir: &std::path::Path) {
    let pid_text = std::fs::read_to_string(dir.join("pg/postmaster.pid")).unwrap();
    let pid = pid_text.lines().next().unwrap().trim().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
}

async fn wait_for_state(
    health: &DatabaseHealth,
    done: impl Fn(&DatabaseState) -> bool,
) -> DatabaseState {
    let start = std::time::Instant::now();
    loop {
        let state = health.state();
        if done(&state) {
            return state;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "supervisor stuck at {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_supervised_cluster_is_restarted_and_its_pool_drops_dead_connections() {
    let dir = scratch_dir("embedded-supervised");
    // Made without waiting for the disk, then run durably: a throwaway cluster
    // acknowledges commits before their WAL is written, and a kill loses them.
    let mut throwaway = EmbeddedOptions::new(&dir);
    throwaway.durability = Durability::Throwaway;
    let (pg, log) = start_with(throwaway).await;
    log.pool().close().await;
    pg.stop().await.unwrap();
    let mut pg = EmbeddedPostgres::start(EmbeddedOptions::new(&dir))
        .await
        .unwrap();
    let health = pg.supervise(Supervision {
        interval: Duration::from_millis(50),
        ..Supervision::default()
    });
    let pool = connect_with(health.guard(pool_options(4)), pg.server_options())
        .await
        .unwrap();
    let log = EventLog::new(pool.clone()).with_sealer(almanac_store::testing::test_sealer());
    log.append(&[append("s", 0, &[n(1)])], &meta("a"))
        .await
        .unwrap();
    // Four idle connections in the pool, all about to talk to a dead server.
    let held: Vec<_> = futures::future::join_all((0..4).map(|_| pool.acquire()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    drop(held);
    // Returned to the pool by a task of its own (sqlx pings on release).
    let start = std::time::Instant::now();
    while pool.num_idle() < 4 {
        assert!(start.elapsed() < Duration::from_secs(5), "never idle");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    kill_postmaster(&dir);
    wait_for_state(&health, |s| matches!(s, DatabaseState::Restarting { .. })).await;
    let up = wait_for_state(&health, |s| *s == DatabaseState::Up).await;
    assert_eq!(up, DatabaseState::Up);
    // Every query after the restart works: none is handed a dead idle connection.
    for _ in 0..4 {
        assert_eq!(log.read_stream("s", 1).await.unwrap().len(), 1);
    }
    log.append(&[append("s", 1, &[n(2)])], &meta("a"))
        .await
        .unwrap();
    assert!(log.verify(None).await.unwrap().is_intact());
    pool.close().await;
    pg.stop().await.unwrap();
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "stopped, not restarted"
    );
    // Deleting a cluster can take seconds on a busy disk; no need to wait.
    let _ = std::process::Command::new("rm")
        .arg("-rf")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
