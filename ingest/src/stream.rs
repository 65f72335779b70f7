//! `Ingestor::ingest`'s read and reconcile side by side: the read sends each file as its
//! turn comes (`ReadWith::sink`, in read order), a task cuts chunks of about
//! `CHUNK_ENTITIES` from them and decides and appends each as soon as it is full
//! (`Reconciler::reconcile_stream`), so the first events land while later files are
//! still read, and a file is freed once its chunk is appended. What only the end of the
//! read tells (the last, partial chunk, the skips confirmed, failures, vanished sources)
//! is decided after it (`Reconciler::reconcile_rest`).
//!
//! It changes nothing of how a chunk is decided and appended (one transaction under the
//! append lock, as `Reconciler::reconcile`); files are decided in read order, the order
//! a reconcile of a whole outcome keeps too. Pushes (all or nothing, one transaction)
//! are not streamed: they go through `Reconciler::reconcile`.

use crate::progress::{Phase, Progress};
use crate::read::{read_sources_with, Digests, ReadWith, Source};
use crate::reconcile::{ReconcileOptions, Streamed};
use crate::{IngestError, IngestReport, Ingestor};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages (each the files of one blocking call, at most 32) the read may be ahead of
/// the chunk being appended: up to 2,048 files, about two of the bench's chunks (2,000
/// entities in ~1,000 files). A bound so that a read faster than the appends waits for
/// them (and leaves them the CPU) instead of holding every file.
const CALLS_AHEAD: usize = 64;

/// Reads `source` and reconciles it with `options`, chunk by chunk as it is read.
pub(crate) async fn ingest(
    ingestor: &Ingestor,
    source: &Source,
    digests: Option<&Digests>,
    progress: Option<&Progress>,
    options: ReconcileOptions,
) -> Result<IngestReport, IngestError> {
    let (sink, files) = mpsc::channel(CALLS_AHEAD);
    let reconciler = ingestor.reconciler().clone();
    let chunking = {
        let options = options.clone();
        // Its own task, so deciding a chunk runs beside the read's hand-offs.
        Aborting(tokio::spawn(async move {
            reconciler.reconcile_stream(files, &options).await
        }))
    };
    let outcome = read_sources_with(
        std::slice::from_ref(source),
        &ingestor.limits,
        &ingestor.reading,
        ReadWith {
            digests,
            progress,
            rules: Some(&ingestor.rules),
            sink: Some(&sink),
        },
    )
    .await;
    // The read has ended (or stopped because the chunks failed): no more files.
    drop(sink);
    if let Some(progress) = progress {
        progress.enter(Phase::Deciding);
    }
    let streamed = chunking.join().await?;
    ingestor
        .reconciler()
        .reconcile_rest(streamed, &outcome, &options)
        .await
}

/// The chunking task, aborted if the ingest is dropped before it ends (a caller that
/// gave up): a chunk it was deciding is rolled back, as it was before streaming.
struct Aborting(JoinHandle<Result<Streamed, IngestError>>);

impl Aborting {
    async fn join(mut self) -> Result<Streamed, IngestError> {
        match (&mut self.0).await {
            Ok(streamed) => streamed,
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(IngestError::Stopped),
            },
        }
    }
}

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}
