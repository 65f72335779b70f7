//! A bounded closed-loop load generator: `concurrency` workers take request
//! numbers from a shared counter until `requests` are done or `max_duration`
//! has passed, each timing its own requests. Latency percentiles come from the
//! sorted samples (no histogram approximation).
//!
//! It knows nothing of HTTP or SQL: a request is any async call that may fail.

use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub requests: usize,
    pub max_duration: Duration,
    /// Unmeasured requests first (connections, caches).
    pub warmup: usize,
}

/// What one load run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Measured {
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first failure, when any request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run<F, Fut>(concurrency: usize, bounds: Bounds, request: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let warm = Arc::new(AtomicUsize::new(0));
    let warmups = (0..concurrency.min(bounds.warmup.max(1)))
        .map(|_| {
            let (request, warm) = (request.clone(), warm.clone());
            tokio::spawn(async move {
                loop {
                    let i = warm.fetch_add(1, Ordering::Relaxed);
                    if i >= bounds.warmup {
                        break;
                    }
                    let _ = request(bounds.requests + i).await;
                }
            })
        })
        .collect::<Vec<_>>();
    for warmup in warmups {
        let _ = warmup.await;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers = (0..concurrency)
        .map(|_| {
            let (request, next) = (request.clone(), next.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut errors = (0, None);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= bounds.requests || start.elapsed() >= bounds.max_duration {
                        break;
                    }
                    let began = Instant::now();
                    let outcome = request(i).await;
                    samples.push(began.elapsed().as_secs_f64() * 1000.0);
                    if let Err(message) = outcome {
                        errors.0 += 1;
                        errors.1.get_or_insert(message);
                    }
                }
                (samples, errors)
            })
        })
        .collect::<Vec<_>>();
    let mut all = Vec::new();
    let mut measured = Measured {
        concurrency,
        ..Measured::default()
    };
    for worker in workers {
        if let Ok((samples, (errors, first))) = worker.await {
            all.extend(samples);
            measured.errors += errors;
            if measured.first_error.is_none() {
                measured.first_error = first;
            }
        }
    }
    measured.seconds = start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    measured.requests = all.len();
    measured.requests_per_second = all.len() as f64 / measured.seconds.max(1e-9);
    measured.p50_ms = percentile(&all, 50.0);
    measured.p95_ms = percentile(&all, 95.0);
    measured.p99_ms = percentile(&all, 99.0);
    measured.max_ms = all.last().copied().unwrap_or(0.0);
    measured
}
