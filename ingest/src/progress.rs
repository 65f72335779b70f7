//! How far one ingest has got, as counters the caller may watch from another task
//! (`almanac ingest` draws them on a terminal): files found and read, sources decided,
//! events appended, and which phase it is in.
//!
//! Plain atomics, written with relaxed ordering: a reader sees each figure as of some
//! recent moment, never a torn one, and nothing waits for a reader. It draws nothing
//! and knows no terminal.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// The phases of one ingest, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Reading,
    Deciding,
    /// Waiting until what was appended is visible to queries.
    Projecting,
}

#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    files_found: AtomicU64,
    files_read: AtomicU64,
    sources_to_decide: AtomicU64,
    sources_decided: AtomicU64,
    events_appended: AtomicU64,
}

/// One reading of every counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    pub phase: Phase,
    pub files_found: u64,
    pub files_read: u64,
    pub sources_to_decide: u64,
    pub sources_decided: u64,
    pub events_appended: u64,
}

impl Progress {
    pub fn figures(&self) -> Figures {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Figures {
            phase: match self.phase.load(Ordering::Relaxed) {
                0 => Phase::Reading,
                1 => Phase::Deciding,
                _ => Phase::Projecting,
            },
            files_found: get(&self.files_found),
            files_read: get(&self.files_read),
            sources_to_decide: get(&self.sources_to_decide),
            sources_decided: get(&self.sources_decided),
            events_appended: get(&self.events_appended),
        }
    }

    pub(crate) fn enter(&self, phase: Phase) {
        let value = match phase {
            Phase::Reading => 0,
            Phase::Deciding => 1,
            Phase::Projecting => 2,
        };
        self.phase.store(value, Ordering::Relaxed);
    }

    pub(crate) fn found(&self, files: usize) {
        self.files_found.fetch_add(files as u64, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) {
        self.files_read.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn to_decide(&self, sources: usize) {
        self.sources_to_decide
            .fetch_add(sources as u64, Ordering::Relaxed);
    }

    pub(crate) fn decided(&self, sources: usize, events: usize) {
        self.sources_decided
            .fetch_add(sources as u64, Ordering::Relaxed);
        self.events_appended
            .fetch_add(events as u64, Ordering::Relaxed);
    }
}
