//! Where an ingest's time goes, seen from outside: while the command runs, the
//! log head and the projection checkpoint are polled every 20 ms, giving the
//! moment the first event was appended (reading and parsing done), the moment
//! the last one was (reconciling and appending done), and the moment the
//! projection caught up (visible to queries).

use crate::database::BenchDb;
use serde::Serialize;
use std::time::Instant;
use tokio::sync::watch;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeline {
    /// Seconds from the command's start; absent when no event was appended.
    pub first_event_s: Option<f64>,
    pub last_event_s: Option<f64>,
    pub projected_s: Option<f64>,
    pub polls: usize,
}

/// Polls until `done` flips; `before` is the log head when the command started.
pub async fn watch_ingest(db: &BenchDb, before: i64, mut done: watch::Receiver<bool>) -> Timeline {
    let start = Instant::now();
    let mut timeline = Timeline::default();
    let mut last_head = before;
    loop {
        if let Ok(lag) = almanac_store::projection::lag(&db.pool).await {
            timeline.polls += 1;
            let now = start.elapsed().as_secs_f64();
            if lag.head > before && timeline.first_event_s.is_none() {
                timeline.first_event_s = Some(now);
            }
            if lag.head > last_head {
                last_head = lag.head;
                timeline.last_event_s = Some(now);
                timeline.projected_s = None;
            }
            if lag.head > before && lag.checkpoint >= lag.head && timeline.projected_s.is_none() {
                timeline.projected_s = Some(now);
            }
        }
        if *done.borrow() {
            return timeline;
        }
        tokio::select! {
            _ = done.changed() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
    }
}
