//! The server's memory, read from `/proc/<pid>/status`: `VmRSS` sampled every
//! 100 ms by a background thread (with the phase it fell in), and `VmHWM` (the
//! kernel's own peak) on demand. Linux only; elsewhere every figure is absent.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A `/proc/<pid>/status` field in kB, as MiB.
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    status_mib_of_file(&format!("/proc/{pid}/status"), field)
}

/// A `Field:   123 kB` line of a `/proc` file, as MiB.
pub fn status_mib_of_file(path: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MemoryReport {
    /// The kernel's peak resident set of the server process (VmHWM).
    pub peak_mib: Option<f64>,
    /// The highest sampled VmRSS, overall and per phase.
    pub sampled_peak_mib: f64,
    pub sampled_peak_by_phase_mib: BTreeMap<String, f64>,
    /// VmRSS at the end, after every phase.
    pub final_mib: Option<f64>,
    pub samples: usize,
}

pub struct Sampler {
    pid: u32,
    phase: Arc<Mutex<String>>,
    peaks: Arc<Mutex<(BTreeMap<String, f64>, usize)>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let phase = Arc::new(Mutex::new("start".to_string()));
        let peaks = Arc::new(Mutex::new((BTreeMap::new(), 0)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (phase, peaks, stop) = (phase.clone(), peaks.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_mib(pid, "VmRSS:") {
                        let name = phase.lock().map(|p| p.clone()).unwrap_or_default();
                        if let Ok(mut peaks) = peaks.lock() {
                            let entry = peaks.0.entry(name).or_insert(0.0_f64);
                            *entry = entry.max(rss);
                            peaks.1 += 1;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Sampler {
            pid,
            phase,
            peaks,
            stop,
            thread: Some(thread),
        }
    }

    pub fn phase(&self, name: &str) {
        if let Ok(mut phase) = self.phase.lock() {
            *phase = name.to_string();
        }
    }

    /// Stops sampling and reads the peak; call while the server still runs.
    pub fn finish(mut self) -> MemoryReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let (by_phase, samples) = self.peaks.lock().map(|p| p.clone()).unwrap_or_default();
        MemoryReport {
            peak_mib: status_mib(self.pid, "VmHWM:"),
            sampled_peak_mib: by_phase.values().copied().fold(0.0, f64::max),
            sampled_peak_by_phase_mib: by_phase,
            final_mib: status_mib(self.pid, "VmRSS:"),
            samples,
        }
    }
}
