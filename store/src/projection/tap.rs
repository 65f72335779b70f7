//! Pages of the log read once for the two readers of one server: the follower, which
//! reads every event in order anyway, leaves a copy of each page it reads here, and
//! the projector takes its next batch from these pages when they cover it without a
//! gap, instead of asking PostgreSQL for the same rows again (each read made
//! PostgreSQL print every payload and this process parse it once more: a quarter of
//! the server's CPU during a cold 100k ingest).
//!
//! A page is what one `position > after ORDER BY position LIMIT n` read returned, so
//! the pages hold every event of (after, last] and chain when a page's `after` is the
//! previous page's last position. The tap only saves work: a miss (the projector ahead
//! of the follower, or further behind than the pages kept) reads the log as before,
//! and what is projected, and the checkpoint guard, do not change.
//!
//! The follower says when it is reading ([`PageTap::reading`]): while it is, and not
//! far behind, the projector waits for its page rather than read the log itself. The
//! follower stops reading between runs of pages to index and publish what it folded
//! (hundreds of milliseconds in a large ingest); a projector that timed out then got
//! ahead of it and read 80% of a cold 100k ingest's events a second time.

use crate::log::StoredEvent;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Pages kept by default: a few follower pages (1,000 events each, a few MB) past the
/// projector.
pub const KEPT: usize = 8;

/// How far behind a waiter a reading follower may be for the waiter to wait for it
/// (events): a few runs of pages. Further behind (a follower catching up at start),
/// the waiter reads the log itself.
pub const NEAR: i64 = 20_000;

/// The longest a waiter waits for a reading follower's page.
pub const LONGEST_WAIT: Duration = Duration::from_secs(2);

/// See the module documentation. Shared (`Arc`) by one follower and one projector.
#[derive(Debug)]
pub struct PageTap {
    pages: Mutex<VecDeque<TapPage>>,
    kept: usize,
    offered: Notify,
    served: AtomicU64,
    /// The follower is between the start and the end of a catch-up.
    reading: AtomicBool,
    /// The last position the follower read up to (its cursor when it began reading).
    read_to: AtomicI64,
}

#[derive(Debug)]
struct TapPage {
    /// The read's cursor: the page holds every event after it, up to its last.
    after: i64,
    /// Not empty, in position order.
    events: Vec<StoredEvent>,
}

impl TapPage {
    fn last(&self) -> i64 {
        self.events.last().map_or(self.after, |e| e.position)
    }

    fn covers(&self, after: i64) -> bool {
        self.after <= after && after < self.last()
    }
}

impl Default for PageTap {
    fn default() -> Self {
        Self::keeping(KEPT)
    }
}

impl PageTap {
    /// A tap keeping at most `kept` pages (the oldest go first).
    pub fn keeping(kept: usize) -> PageTap {
        PageTap {
            pages: Mutex::new(VecDeque::new()),
            kept: kept.max(1),
            offered: Notify::new(),
            served: AtomicU64::new(0),
            reading: AtomicBool::new(false),
            read_to: AtomicI64::new(0),
        }
    }

    /// Marks the follower as reading from `cursor` on, until the guard is dropped.
    pub fn reading(&self, cursor: i64) -> Reading<'_> {
        self.read_to.store(cursor, Ordering::Relaxed);
        self.reading.store(true, Ordering::Release);
        Reading(self)
    }

    fn pages(&self) -> MutexGuard<'_, VecDeque<TapPage>> {
        // Every change under the lock leaves whole pages: a panic cannot half-apply one.
        self.pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps a copy of the page a read after `after` returned. A page that does not
    /// continue the last one kept (the reader started again elsewhere) replaces them all.
    pub fn offer(&self, after: i64, events: &[StoredEvent]) {
        if events.is_empty() {
            return;
        }
        let page = TapPage {
            after,
            events: events.to_vec(),
        };
        {
            let mut pages = self.pages();
            if pages.back().is_some_and(|last| last.last() != after) {
                pages.clear();
            }
            self.read_to.store(page.last(), Ordering::Relaxed);
            pages.push_back(page);
            while pages.len() > self.kept {
                pages.pop_front();
            }
        }
        self.offered.notify_waiters();
    }

    /// The events after `after` (at most `limit`), moved out of the pages, when the
    /// pages hold them without a gap from `after` on; `None` otherwise.
    pub fn take(&self, after: i64, limit: usize) -> Option<Vec<StoredEvent>> {
        let mut pages = self.pages();
        let first = pages.iter().position(|p| p.covers(after))?;
        // Pages before it are behind the caller for good.
        pages.drain(..first);
        let mut taken: Vec<StoredEvent> = Vec::new();
        let mut cursor = after;
        while taken.len() < limit {
            let Some(page) = pages.front_mut() else { break };
            if !page.covers(cursor) {
                break;
            }
            let start = page.events.partition_point(|e| e.position <= cursor);
            let end = (start + limit - taken.len()).min(page.events.len());
            taken.extend(page.events.drain(start..end));
            cursor = taken.last().map_or(cursor, |e| e.position);
            if cursor >= page.last() {
                pages.pop_front();
            } else {
                page.after = cursor;
                page.events.drain(..start);
            }
        }
        self.served.fetch_add(1, Ordering::Relaxed);
        Some(taken)
    }

    /// Waits until a page holds the event after `after`; true if one does. Returns at
    /// once when one does, and when the pages kept are all past `after` (the caller is
    /// behind them for good: waiting would only delay its own read). Otherwise waits at
    /// most `wait`, or, while the follower is reading and at most [`NEAR`] events
    /// behind (not ahead), at most [`LONGEST_WAIT`]: its page is on its way.
    pub async fn wait_covering(&self, after: i64, wait: Duration) -> bool {
        let started = tokio::time::Instant::now();
        loop {
            let offered = self.offered.notified();
            {
                let pages = self.pages();
                if pages.iter().any(|p| p.covers(after)) {
                    return true;
                }
                if pages.front().is_some_and(|p| p.after > after) {
                    return false;
                }
            }
            // Only a follower at or behind `after` can still read the page that covers it.
            let behind = after - self.read_to.load(Ordering::Relaxed);
            let coming = self.reading.load(Ordering::Acquire) && (0..=NEAR).contains(&behind);
            let deadline = started + if coming { LONGEST_WAIT.max(wait) } else { wait };
            if tokio::time::timeout_at(deadline, offered).await.is_err() {
                return false;
            }
        }
    }

    /// How many batches were taken from the tap.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// The follower's mark while it reads (see [`PageTap::reading`]); dropping it wakes
/// the waiters, which then stop waiting for a page that is no longer coming.
pub struct Reading<'a>(&'a PageTap);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.reading.store(false, Ordering::Release);
        self.0.offered.notify_waiters();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(position: i64) -> StoredEvent {
        StoredEvent {
            position,
            stream: format!("component:default/e{position}"),
            version: 1,
            event_type: "EntityRegistered".into(),
            schema_version: 1,
            payload: json!({ "n": position }),
            actor: "test".into(),
            source: None,
            correlation_id: None,
            causation_id: None,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            hash: vec![0; 32],
        }
    }

    fn page(positions: &[i64]) -> Vec<StoredEvent> {
        positions.iter().copied().map(event).collect()
    }

    fn positions(events: &[StoredEvent]) -> Vec<i64> {
        events.iter().map(|e| e.position).collect()
    }

    #[test]
    fn a_batch_is_taken_across_chained_pages_up_to_its_limit() {
        let tap = PageTap::keeping(8);
        // Positions need not be consecutive (a rolled-back append leaves a gap in the
        // identity): a page holds every event of (after, last].
        tap.offer(0, &page(&[1, 2, 4]));
        tap.offer(4, &page(&[5, 6, 9]));
        tap.offer(9, &page(&[10]));
        let taken = tap.take(2, 4).unwrap();
        assert_eq!(positions(&taken), vec![4, 5, 6, 9]);
        assert_eq!(positions(&tap.take(9, 10).unwrap()), vec![10]);
        assert_eq!(tap.take(10, 10), None);
        assert_eq!(tap.served(), 2);
    }

    #[test]
    fn a_position_the_pages_do_not_cover_is_a_miss() {
        let tap = PageTap::keeping(8);
        tap.offer(10, &page(&[11, 12]));
        // Behind the first page: (5, 10] was never offered.
        assert_eq!(tap.take(5, 10), None);
        // Ahead of the last.
        assert_eq!(tap.take(12, 10), None);
        assert_eq!(positions(&tap.take(10, 10).unwrap()), vec![11, 12]);
    }

    #[test]
    fn a_page_that_does_not_continue_the_last_replaces_them_and_old_pages_go_first() {
        let tap = PageTap::keeping(2);
        tap.offer(0, &page(&[1, 2]));
        tap.offer(2, &page(&[3, 4]));
        tap.offer(4, &page(&[5, 6]));
        // Kept two: (0, 2] is gone.
        assert_eq!(tap.take(0, 10), None);
        // A reader that started again at 3: what followed 4 is replaced.
        tap.offer(3, &page(&[4, 5]));
        assert_eq!(tap.take(4, 10), Some(page(&[5])));
        assert_eq!(tap.take(5, 10), None);
    }

    #[tokio::test]
    async fn a_wait_ends_when_a_page_covering_it_is_offered() {
        let tap = std::sync::Arc::new(PageTap::default());
        assert!(!tap.wait_covering(0, Duration::from_millis(5)).await);
        // Behind every page kept: no wait at all, whatever the wait allowed.
        tap.offer(10, &page(&[11]));
        let behind = tap.wait_covering(5, Duration::from_secs(60));
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(1), behind).await,
            Ok(false)
        );
        let offering = {
            let tap = tap.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                tap.offer(11, &page(&[12]));
            })
        };
        assert!(tap.wait_covering(11, Duration::from_secs(30)).await);
        offering.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_waits_longer_for_a_reading_follower_that_is_near() {
        let tap = std::sync::Arc::new(PageTap::default());
        // Not reading: the short wait, then a miss.
        let started = tokio::time::Instant::now();
        assert!(!tap.wait_covering(100, Duration::from_millis(100)).await);
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        // Reading, near: the page that comes after the short wait is still waited for.
        let reading = {
            let tap = tap.clone();
            tokio::spawn(async move {
                let _reading = tap.reading(50);
                tokio::time::sleep(Duration::from_millis(500)).await;
                tap.offer(99, &page(&[100, 101]));
            })
        };
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        assert!(tap.wait_covering(100, Duration::from_millis(100)).await);
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        reading.await.unwrap();
        // Reading but further behind than NEAR: the short wait only.
        let _far = tap.reading(101);
        let started = tokio::time::Instant::now();
        assert!(
            !tap.wait_covering(101 + NEAR + 1, Duration::from_millis(100))
                .await
        );
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        // Reading from past the waiter, nothing kept yet (a follower started from a newer
        // snapshot): it will never read that page, so the short wait only.
        let ahead = PageTap::default();
        let _reading = ahead.reading(500);
        let started = tokio::time::Instant::now();
        assert!(!ahead.wait_covering(100, Duration::from_millis(100)).await);
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        // Reading, near, but no page ever comes: at most LONGEST_WAIT.
        let started = tokio::time::Instant::now();
        assert!(!tap.wait_covering(101, Duration::from_millis(100)).await);
        assert_eq!(started.elapsed(), LONGEST_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_that_stops_reading_ends_the_longer_wait() {
        let tap = std::sync::Arc::new(PageTap::default());
        let reading = {
            let tap = tap.clone();
            tokio::spawn(async move {
                let _reading = tap.reading(10);
                tokio::time::sleep(Duration::from_millis(300)).await;
            })
        };
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        assert!(!tap.wait_covering(10, Duration::from_millis(100)).await);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        reading.await.unwrap();
    }
}
