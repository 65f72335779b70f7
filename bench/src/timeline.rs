//! Where an ingest's time goes, seen from outside: while the command runs, the
//! log head and the projection checkpoint are polled every 20 ms, giving the
//! moment the first event was appended (reading and parsing done), the moment
//! the last one was (reconciling and appending done), and the moment the
//! projection caught up (visible to queries); at each of those moments the CPU
//! seconds of the command, the server and PostgreSQL are read (`cpu.rs`), so each
//! phase also has its CPU cost.

use crate::cpu::{PhaseCpu, Probe, Sample};
use crate::database::BenchDb;
use serde::Serialize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use tokio::sync::watch;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeline {
    /// Seconds from the command's start; absent when no event was appended.
    pub first_event_s: Option<f64>,
    pub last_event_s: Option<f64>,
    pub projected_s: Option<f64>,
    pub polls: usize,
    /// CPU from the start to the first event (reading and parsing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_read_parse: Option<PhaseCpu>,
    /// CPU from the first event to the last (deciding and appending).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_decide_append: Option<PhaseCpu>,
    /// CPU from the last event to the projection catching up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_project: Option<PhaseCpu>,
}

/// What the poll reads CPU from: the processes, the command's pid once spawned (0
/// before), and the catalog's size (for the per-1,000-entity figures).
pub struct CpuWatch<'a> {
    pub probe: &'a Probe,
    pub command: &'a AtomicU32,
    pub entities: usize,
}

/// Polls until `done` flips; `before` is the log head when the command started.
pub async fn watch_ingest(
    db: &BenchDb,
    before: i64,
    mut done: watch::Receiver<bool>,
    cpu: CpuWatch<'_>,
) -> Timeline {
    let start = Instant::now();
    let mut timeline = Timeline::default();
    let mut last_head = before;
    let sample = || {
        let pid = cpu.command.load(Ordering::Relaxed);
        cpu.probe.sample((pid != 0).then_some(pid))
    };
    // The command's own CPU is 0 before it runs.
    let started = Sample {
        command_s: Some(0.0),
        ..sample()
    };
    let (mut first, mut last): (Option<Sample>, Option<Sample>) = (None, None);
    let between = |a: &Sample, b: &Sample| PhaseCpu::between(a, b, cpu.entities);
    loop {
        if let Ok(lag) = almanac_store::projection::lag(&db.pool).await {
            timeline.polls += 1;
            let now = start.elapsed().as_secs_f64();
            if lag.head > before && timeline.first_event_s.is_none() {
                timeline.first_event_s = Some(now);
                let at = sample();
                timeline.cpu_read_parse = Some(between(&started, &at));
                first = Some(at);
            }
            if lag.head > last_head {
                last_head = lag.head;
                timeline.last_event_s = Some(now);
                timeline.projected_s = None;
                let at = sample();
                timeline.cpu_decide_append = first.as_ref().map(|f| between(f, &at));
                timeline.cpu_project = None;
                last = Some(at);
            }
            if lag.head > before && lag.checkpoint >= lag.head && timeline.projected_s.is_none() {
                timeline.projected_s = Some(now);
                let at = sample();
                timeline.cpu_project = last.as_ref().map(|l| between(l, &at));
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
