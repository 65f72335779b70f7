//! `almanac ingest`'s progress on a terminal: files read (of found) with the events
//! appended meanwhile, then sources decided with the events appended, then the wait until queries see them, each with
//! its rate and the time left, drawn from the ingest's counters
//! (`almanac_ingest::progress`) ten times a second.
//!
//! Only on a terminal and without `--json` (the caller decides); it never writes to
//! stdout, where the summary goes.

use almanac_ingest::progress::{Figures, Phase, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::time::Duration;

/// Draws `progress` on stderr until dropped.
pub struct Drawn {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

const BAR: &str =
    "{prefix:>9} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ({per_sec}, {eta} left)";

pub fn draw(source: &str, progress: Arc<Progress>) -> Drawn {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(BAR).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix("reading");
    bar.set_message(format!("files of {source}"));
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        let mut phase = Phase::Reading;
        loop {
            let figures = progress.figures();
            if figures.phase != phase {
                phase = figures.phase;
                // The rate and time left start again for the new phase.
                shown.reset();
            }
            show(&shown, &figures);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Drawn { bar, task }
}

fn show(bar: &ProgressBar, figures: &Figures) {
    match figures.phase {
        Phase::Reading => {
            bar.set_length(figures.files_found);
            bar.set_position(figures.files_read);
            // Chunks are appended while later files are still read.
            if figures.events_appended > 0 {
                bar.set_message(format!(
                    "files read, {} events appended",
                    figures.events_appended
                ));
            }
        }
        Phase::Deciding => {
            bar.set_prefix("deciding");
            bar.set_message(format!(
                "sources, {} events appended",
                figures.events_appended
            ));
            bar.set_length(figures.sources_to_decide);
            bar.set_position(figures.sources_decided);
        }
        Phase::Projecting => {
            bar.set_prefix("projecting");
            bar.set_message(format!(
                "{} events appended; until queries see them",
                figures.events_appended
            ));
            bar.set_length(figures.sources_to_decide);
            bar.set_position(figures.sources_decided);
        }
    }
}

impl Drop for Drawn {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
