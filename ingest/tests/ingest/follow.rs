//! The in-memory catalog follows the log: after real ingests it reaches the head and
//! equals the whole log folded at once, and a snapshot a reader pinned stays as it was.

use super::support::{demo_copy, head, ingest};
use almanac_ingest::Source;
use almanac_store::follow::{
    check_followed, differing_refs, fold_log_up_to, fold_whole_log, FollowCheck, Followed, Follower,
};
use almanac_store::projection::tap::PageTap;
use almanac_store::projection::{checkpoint, replay, Projector, ReplayMode};
use almanac_store::testing::{test_db, TestDb};
use almanac_store::EventLog;
use std::sync::Arc;
use std::time::Duration;
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

/// A follower started on an empty log, in pages of 7 events, with publication held long
/// enough that the demo's whole backlog (dozens of pages) is one run; then the demo
/// ingested, so the follower is behind by all of it (the log's head, returned last).
async fn behind_by_the_demo() -> (TestDb, EventLog, Follower, Followed, i64) {
    let db = test_db().await;
    let log = EventLog::new(db.pool.clone());
    let (follower, followed) = Follower::start_paged(log.clone(), 7).await.unwrap();
    let follower = follower.holding(Duration::from_secs(600));
    assert_eq!((followed.pin().position(), follower.published()), (0, 1));
    let demo = demo_copy();
    ingest(
        &db.pool,
        Source::File(demo.path().join("catalog-info.yaml")),
    )
    .await;
    let head = head(&db.pool).await;
    (db, log, follower, followed, head)
}

#[tokio::test]
async fn a_backlog_is_folded_into_one_published_snapshot_that_equals_the_whole_log_folded() {
    let (_db, log, mut follower, followed, head) = behind_by_the_demo().await;
    assert!(head > 7 * 20);

    assert_eq!(follower.catch_up().await.unwrap(), head);
    // One snapshot for the backlog, not one per page or per ten pages.
    assert_eq!(follower.published(), 2);
    let reached = followed.pin();
    assert_eq!((reached.position(), reached.len()), (head, 175));
    let whole = fold_whole_log(&log).await.unwrap();
    assert_eq!(differing_refs(&reached, &whole), Vec::<String>::new());
    assert!(reached == whole);
}

#[tokio::test]
async fn a_reader_waiting_for_a_position_inside_a_backlog_is_answered_before_the_head() {
    let (_db, log, mut follower, followed, head) = behind_by_the_demo().await;
    let wanted = 30;
    assert!(head > wanted + 7 * 5);

    // The reader waits (as a request with Almanac-Min-Position does) before the
    // follower reads the backlog.
    let waiter = {
        let followed = followed.clone();
        tokio::spawn(async move { followed.reach(wanted).await })
    };
    while !followed.is_awaited() {
        tokio::task::yield_now().await;
    }
    assert_eq!(follower.catch_up().await.unwrap(), head);
    let answered = waiter.await.unwrap().unwrap();
    // One snapshot was published from the page that passed the wanted position, not held
    // to the head: three in all (at start, for the reader, at the head; publication is
    // held for ten minutes otherwise). Which of the last two the reader took depends on
    // when its task ran: either is at or past the position and a prefix of the log, folded.
    assert_eq!(follower.published(), 3);
    assert!(answered.position() >= wanted);
    let prefix = fold_log_up_to(&log, answered.position()).await.unwrap();
    assert!(answered == prefix);
    assert!(!followed.is_awaited());
    assert_eq!(followed.pin().position(), head);
}

/// The demo's ingest projected its events already: the projection starts again from
/// nothing, as on a server that has not projected them yet.
async fn forget_the_projection(db: &TestDb) {
    for table in [
        "entities",
        "locations",
        "projection_failures",
        "projection_checkpoints",
    ] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

/// Projects with batches of 10 from a follower's pages of 7 kept in a tap of `kept`
/// pages; returns how many batches the tap served.
async fn project_through_a_tap(kept: usize) -> (TestDb, u64) {
    let (db, _log, follower, _followed, head) = behind_by_the_demo().await;
    forget_the_projection(&db).await;
    let tap = Arc::new(PageTap::keeping(kept));
    let mut follower = follower.with_tap(tap.clone());
    assert_eq!(follower.catch_up().await.unwrap(), head);
    let projector = Projector::new(db.pool.clone())
        .with_batch_size(10)
        .with_tap(tap.clone());
    projector.catch_up().await.unwrap();
    assert_eq!(checkpoint(&db.pool).await.unwrap(), head);
    let verified = replay(&db.pool, ReplayMode::Verify, |_, _| {})
        .await
        .unwrap();
    assert_eq!(verified.differences, Vec::<String>::new());
    assert_eq!((verified.up_to, verified.entities), (head, 175));
    (db, tap.served())
}

/// In `serve` the projector takes its batches from the pages the follower read (one
/// read of the log for both): every batch came from the tap, and the projection equals
/// a replay of the log.
#[tokio::test]
async fn a_projector_fed_by_the_followers_pages_writes_what_a_replay_writes() {
    let (db, served) = project_through_a_tap(1_000).await;
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(served as i64, (events + 9) / 10);
}

/// A tap that kept only the last two pages misses the earlier batches: those are read
/// from the log, the rest taken from the tap, and the projection is the same.
#[tokio::test]
async fn a_projector_whose_tap_misses_reads_the_log_itself() {
    let (_db, served) = project_through_a_tap(2).await;
    assert!((1..=2).contains(&served), "served {served}");
}
