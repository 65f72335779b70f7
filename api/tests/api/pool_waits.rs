//! Requests that wait for a connection of an exhausted pool show in
//! `almanac_db_pool_waiting` while they wait and in
//! `almanac_db_pool_acquire_seconds` once they hold one.

use super::operability::scrape;
use super::support::{auth, serve_state};
use almanac_api::AppState;
use almanac_store::testing::test_db;
use almanac_store::Database;
use std::time::Duration;

#[tokio::test]
async fn requests_waiting_for_the_read_pool_are_counted_while_they_wait() {
    let db = test_db().await;
    // A small read pool whose waits outlast the test's polling (the server's
    // default gives up after 2 s).
    let reads = almanac_store::connect_with(
        almanac_store::pool_options(2).acquire_timeout(Duration::from_secs(9)),
        (*db.pool.connect_options()).clone(),
    )
    .await
    .unwrap();
    let state = AppState::new(Database::new(db.pool.clone()))
        .with_auth(auth(true))
        .with_read_pool(reads.clone());
    let server = serve_state(db, state).await;

    // Exhaust the read pool: the event listener holds one of its two
    // connections for good, the test takes the other.
    let held = reads.acquire().await.unwrap();
    let before = scrape(&server).await;
    assert_eq!(
        before.expect("almanac_db_pool_waiting", &[("pool", "read")]),
        0.0
    );
    assert_eq!(
        before.expect(
            "almanac_db_pool_connections",
            &[("pool", "read"), ("state", "in_use")]
        ),
        2.0
    );

    // Two catalog reads (REST's location list reads SQL) now wait.
    let url = format!("{}/api/catalog/locations", server.url);
    let requests: Vec<_> = (0..2)
        .map(|_| tokio::spawn(reqwest::get(url.clone())))
        .collect();
    let mut waiting = 0.0;
    for _ in 0..200 {
        waiting = scrape(&server)
            .await
            .expect("almanac_db_pool_waiting", &[("pool", "read")]);
        if waiting == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(waiting, 2.0, "both requests wait for the read pool");

    drop(held);
    for request in requests {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
    }
    let after = scrape(&server).await;
    assert_eq!(
        after.expect("almanac_db_pool_waiting", &[("pool", "read")]),
        0.0
    );
    let acquire = "almanac_db_pool_acquire_seconds";
    let read = [("pool", "read")];
    assert_eq!(after.expect(&format!("{acquire}_count"), &read), 2.0);
    assert_eq!(
        after.expect(
            &format!("{acquire}_bucket"),
            &[("pool", "read"), ("le", "+Inf")]
        ),
        2.0
    );
    assert!(after.expect(&format!("{acquire}_sum"), &read) > 0.0);
    assert_eq!(
        after.expect("almanac_db_pool_waiting", &[("pool", "write")]),
        0.0,
        "the write pool's series is there from the start"
    );
}
