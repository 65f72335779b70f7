//! Waking feed readers: LISTEN/NOTIFY says "something was appended", a timer
//! covers lost notifications. Correctness never rests on a notification: the
//! reader always re-reads from its own cursor.

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::time::Duration;

/// The channel appends notify, with the newest position as payload.
pub const EVENTS_CHANNEL: &str = "almanac_events";

pub struct FeedWaker {
    pool: PgPool,
    listener: Option<PgListener>,
    poll: Duration,
}

impl std::fmt::Debug for FeedWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedWaker")
            .field("listening", &self.listener.is_some())
            .field("poll", &self.poll)
            .finish()
    }
}

impl FeedWaker {
    /// Listens if it can; without a listener it only polls.
    pub async fn new(pool: PgPool, poll: Duration) -> Self {
        let listener = listen(&pool).await;
        Self {
            pool,
            listener,
            poll,
        }
    }

    /// Returns when an append was notified or the poll interval passed.
    pub async fn wait(&mut self) {
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(self.poll).await;
            self.listener = listen(&self.pool).await;
            return;
        };
        match tokio::time::timeout(self.poll, listener.recv()).await {
            Err(_elapsed) => {}
            Ok(Ok(_)) => {
                // Many appends may have notified; one re-read covers them all.
                while listener.next_buffered().is_some() {}
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "event listener failed, polling until it reconnects");
                self.listener = None;
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(error = %err, "cannot open an event listener, polling instead");
            return None;
        }
    };
    match listener.listen(EVENTS_CHANNEL).await {
        Ok(()) => Some(listener),
        Err(err) => {
            tracing::warn!(error = %err, "cannot LISTEN for events, polling instead");
            None
        }
    }
}
