//! The in-memory catalog follows the log: after real ingests it reaches the head and
//! equals the whole log folded at once, and a snapshot a reader pinned stays as it was.

use super::support::{demo_copy, head, ingest};
use almanac_ingest::Source;
use almanac_store::follow::{
    check_followed, differing_refs, fold_whole_log, FollowCheck, Follower,
};
use almanac_store::testing::test_db;
use almanac_store::EventLog;
use tokio::sync::watch;

const CHECKOUT: &str = "component:default/checkout-service";

#[tokio::test]
async fn the_followed_snapshot_reaches_the_head_and_equals_the_whole_log_folded() {
    let db = test_db().await;
    let log = EventLog::new(db.pool.clone());
    let demo = demo_copy();
    let root = Source::File(demo.path().join("catalog-info.yaml"));
    ingest(&db.pool, root.clone()).await;
    let first_head = head(&db.pool).await;

    // Started on a populated log, in small pages so the fold crosses page boundaries.
    let (follower, followed) = Follower::start_paged(log.clone(), 7).await.unwrap();
    let pinned = followed.pin();
    assert_eq!(pinned.position(), first_head);
    assert_eq!(pinned.len(), 175);
    let whole = fold_whole_log(&log).await.unwrap();
    assert_eq!(differing_refs(&pinned, &whole), Vec::<String>::new());
    assert!(pinned == whole);

    // An edit through the real ingest path; the follower advances when woken.
    let (wake, wakes) = watch::channel(0u64);
    let running = tokio::spawn(follower.run(wakes));
    let file = demo
        .path()
        .join("systems/storefront/checkout-service/catalog-info.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("lifecycle: production", "lifecycle: deprecated", 1),
    )
    .unwrap();
    ingest(&db.pool, root.clone()).await;
    let second_head = head(&db.pool).await;
    assert!(second_head > first_head);
    wake.send(1).unwrap();
    let advanced = followed.reach(second_head).await.unwrap();
    assert_eq!(advanced.position(), second_head);
    assert_eq!(
        advanced.entity(CHECKOUT).unwrap().lifecycle.as_deref(),
        Some("deprecated")
    );
    let whole = fold_whole_log(&log).await.unwrap();
    assert_eq!(differing_refs(&advanced, &whole), Vec::<String>::new());
    assert!(advanced == whole);
    assert_eq!(
        differing_refs(&pinned, &advanced),
        vec![CHECKOUT.to_string()]
    );

    // The reader's pinned snapshot is the catalog as it was.
    assert_eq!(pinned.position(), first_head);
    assert_eq!(
        pinned.entity(CHECKOUT).unwrap().lifecycle.as_deref(),
        Some("production")
    );

    // Dropping the wake-ups stops the follower.
    drop(wake);
    running.await.unwrap();
}

#[tokio::test]
async fn the_check_of_replay_verify_finds_the_followed_catalog_equal_to_the_log() {
    let db = test_db().await;
    let demo = demo_copy();
    ingest(
        &db.pool,
        Source::File(demo.path().join("catalog-info.yaml")),
    )
    .await;
    let check = check_followed(&EventLog::new(db.pool.clone()))
        .await
        .unwrap();
    assert_eq!(
        check,
        FollowCheck {
            position: head(&db.pool).await,
            entities: 175,
            differing: Vec::new(),
            equal: true,
        }
    );
}

#[tokio::test]
async fn a_backlog_followed_in_runs_of_pages_equals_the_whole_log_folded() {
    let db = test_db().await;
    let log = EventLog::new(db.pool.clone());
    // Started on an empty log; pages of 7 events, so the demo's backlog is folded in
    // several runs of `PAGES_PER_SNAPSHOT` pages, each published as one snapshot.
    let (follower, followed) = Follower::start_paged(log.clone(), 7).await.unwrap();
    assert_eq!(followed.pin().position(), 0);
    let demo = demo_copy();
    ingest(
        &db.pool,
        Source::File(demo.path().join("catalog-info.yaml")),
    )
    .await;
    let head = head(&db.pool).await;
    assert!(head > 7 * almanac_store::follow::PAGES_PER_SNAPSHOT * 2);

    let (wake, wakes) = watch::channel(0u64);
    let running = tokio::spawn(follower.run(wakes));
    wake.send(1).unwrap();
    let reached = followed.reach(head).await.unwrap();
    assert_eq!(reached.position(), head);
    assert_eq!(reached.len(), 175);
    let whole = fold_whole_log(&log).await.unwrap();
    assert_eq!(differing_refs(&reached, &whole), Vec::<String>::new());
    assert!(reached == whole);
    drop(wake);
    running.await.unwrap();
}
