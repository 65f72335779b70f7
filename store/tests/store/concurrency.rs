//! The skip-free feed under concurrent writers: transactions that sleep before
//! committing would let a naive `position > cursor` reader pass over events
//! that commit late with smaller positions. This test would catch that.

use super::support::{append, meta, n};
use almanac_store::log::{append_in, FeedWaker};
use almanac_store::testing::test_db;
use almanac_store::testing::test_sealer;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const WRITERS: usize = 8;
const EVENTS_PER_WRITER: usize = 1_250;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_feed_reader_sees_every_event_exactly_once_under_concurrent_writers() {
    let db = test_db().await;
    let log = db.log();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let log = log.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut waker = FeedWaker::new(log.pool().clone(), Duration::from_millis(20)).await;
            let mut checkpoint = 0_i64;
            let mut seen: Vec<i64> = Vec::new();
            loop {
                let writers_done = done.load(Ordering::SeqCst);
                let batch = log.read_feed(checkpoint, 500).await.unwrap();
                if let Some(last) = batch.last() {
                    seen.extend(batch.iter().map(|e| e.position));
                    checkpoint = last.position;
                    continue;
                }
                if writers_done {
                    return seen;
                }
                waker.wait().await;
            }
        })
    };

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let pool = db.pool.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(writer as u64);
            let stream = format!("writer-{writer}");
            let mut version = 0_i64;
            let mut written = 0;
            while written < EVENTS_PER_WRITER {
                let size = rng.gen_range(1..=40).min(EVENTS_PER_WRITER - written);
                let payloads: Vec<_> = (0..size).map(|i| n((written + i) as i64)).collect();
                let mut tx = pool.begin().await.unwrap();
                let batch = [append(&stream, version, &payloads)];
                append_in(&mut tx, &batch, &meta("w"), Some(&test_sealer()))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_micros(rng.gen_range(0..1_500))).await;
                tx.commit().await.unwrap();
                version += size as i64;
                written += size;
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let all: Vec<(i64,)> = sqlx::query_as("SELECT position FROM events ORDER BY position")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let all: Vec<i64> = all.into_iter().map(|(p,)| p).collect();
    assert_eq!(all.len(), WRITERS * EVENTS_PER_WRITER);
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(seen, all, "the reader's sequence differs from the log");
}
