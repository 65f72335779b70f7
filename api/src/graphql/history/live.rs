//! Live subscriptions: `events(filter:, afterPosition:)` and
//! `entityChanged(ref:)`, over `graphql-transport-ws`.
//!
//! One loop per subscriber: read the feed after its cursor in pages, hand each
//! event to a bounded channel, and when caught up wait for a wake-up. Replay
//! and live are the same loop, so the hand-over has no gap and no duplicate:
//! the cursor is the position of the last event handed over. Wake-ups come
//! from one shared LISTEN per server ([`WakeHub`], started on first use and
//! broadcast through a `watch`), with a poll as fallback; correctness rests on
//! the cursor, never on a notification.
//!
//! A subscriber that cannot keep up does not grow the server's memory: when
//! its buffer stays full longer than the grace period, the producer stops; the
//! client receives what was buffered and then a `SUBSCRIBER_TOO_SLOW` error
//! whose `extensions.resumeFrom` is the position of the last event it got.

use super::connection::EventFilter;
use super::event::HistoryEvent;
use super::event_log;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::filter::canonical_ref;
use crate::limits::Limits;
use almanac_store::log::{FeedFilter, FeedWaker};
use almanac_store::{EventLog, StoredEvent};
use async_graphql::{Context, Subscription as SubscriptionRoot};
use futures::Stream;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, OnceCell};

/// Most events one read of the feed fetches for a subscriber.
const PAGE: i64 = 200;

/// The server's one event listener, shared by every subscription.
#[derive(Clone)]
pub struct WakeHub(Arc<HubInner>);

struct HubInner {
    pool: PgPool,
    poll: Duration,
    wakes: OnceCell<watch::Receiver<u64>>,
}

impl WakeHub {
    pub fn new(pool: PgPool, poll: Duration) -> Self {
        WakeHub(Arc::new(HubInner {
            pool,
            poll,
            wakes: OnceCell::new(),
        }))
    }

    /// A receiver that changes whenever an append was notified or the poll
    /// interval passed. The listener task starts with the first subscriber and
    /// stops once the hub and every receiver are gone.
    async fn subscribe(&self) -> watch::Receiver<u64> {
        let inner = &self.0;
        inner
            .wakes
            .get_or_init(|| async {
                let (sender, receiver) = watch::channel(0u64);
                let mut waker = FeedWaker::new(inner.pool.clone(), inner.poll).await;
                tokio::spawn(async move {
                    let mut count = 0u64;
                    loop {
                        tokio::select! {
                            () = waker.wait() => {
                                count += 1;
                                if sender.send(count).is_err() {
                                    break;
                                }
                            }
                            () = sender.closed() => break,
                        }
                    }
                });
                receiver
            })
            .await
            .clone()
    }
}

enum Item {
    Event(StoredEvent),
    Failed(ApiError),
}

/// Feeds `sender` with the events after `cursor` that `filter` keeps, forever,
/// until the subscriber goes away or falls too far behind (`too_slow`).
async fn produce(
    log: EventLog,
    filter: FeedFilter,
    mut cursor: i64,
    mut wakes: watch::Receiver<u64>,
    sender: mpsc::Sender<Item>,
    grace: Duration,
    too_slow: Arc<AtomicBool>,
) {
    loop {
        // Seen before the read: an append after it marks the receiver again.
        wakes.borrow_and_update();
        let page = match log.read_feed_filtered(cursor, PAGE, &filter).await {
            Ok(page) => page,
            Err(err) => {
                let _ = sender.send(Item::Failed(ApiError::from(err))).await;
                return;
            }
        };
        let caught_up = (page.len() as i64) < PAGE;
        for event in page {
            let position = event.position;
            let permit = match sender.try_reserve() {
                Ok(permit) => permit,
                Err(mpsc::error::TrySendError::Closed(())) => return,
                Err(mpsc::error::TrySendError::Full(())) => {
                    match tokio::time::timeout(grace, sender.reserve()).await {
                        Ok(Ok(permit)) => permit,
                        Ok(Err(_closed)) => return,
                        Err(_elapsed) => {
                            too_slow.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            };
            permit.send(Item::Event(event));
            cursor = position;
        }
        if caught_up {
            tokio::select! {
                changed = wakes.changed() => if changed.is_err() { return },
                () = sender.closed() => return,
            }
        }
    }
}

/// What the client sees: buffered events in order, then the error if any.
struct Consumer {
    receiver: mpsc::Receiver<Item>,
    too_slow: Arc<AtomicBool>,
    last_delivered: i64,
    finished: bool,
}

fn too_slow_error(resume_from: i64) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    ApiError::new(
        ErrorCode::SubscriberTooSlow,
        format!("the subscriber fell too far behind; subscribe again after position {resume_from}"),
    )
    .into_graphql()
    .extend_with(|_, e| e.set("resumeFrom", resume_from))
}

async fn start(
    ctx: &Context<'_>,
    filter: FeedFilter,
    after: Option<i64>,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<HistoryEvent>>> {
    let limits = ctx.data::<Limits>().cloned().unwrap_or_default();
    let hub = ctx
        .data::<WakeHub>()
        .map_err(|_| ApiError::internal(std::io::Error::other("wake hub missing from schema")))?
        .clone();
    let log = event_log(ctx)?;
    let cursor = match after {
        Some(position) if position < 0 => {
            return Err(ApiError::invalid("afterPosition must not be negative").into())
        }
        Some(position) => position,
        None => log.head_position().await.map_err(ApiError::from)?,
    };
    let wakes = hub.subscribe().await;
    let (sender, receiver) = mpsc::channel(limits.subscription_buffer.max(1));
    let too_slow = Arc::new(AtomicBool::new(false));
    tokio::spawn(produce(
        log,
        filter,
        cursor,
        wakes,
        sender,
        limits.subscription_grace(),
        too_slow.clone(),
    ));
    let consumer = Consumer {
        receiver,
        too_slow,
        last_delivered: cursor,
        finished: false,
    };
    Ok(futures::stream::unfold(consumer, |mut c| async move {
        if c.finished {
            return None;
        }
        match c.receiver.recv().await {
            Some(Item::Event(event)) => {
                c.last_delivered = event.position;
                Some((Ok(HistoryEvent::new(event)), c))
            }
            Some(Item::Failed(error)) => {
                c.finished = true;
                Some((Err(error.into_graphql()), c))
            }
            None if c.too_slow.load(Ordering::SeqCst) => {
                c.finished = true;
                let error = too_slow_error(c.last_delivered);
                Some((Err(error), c))
            }
            None => None,
        }
    }))
}

pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// The audit feed, live: first every event after `afterPosition` (default:
    /// now, so only new events), then new events as they are recorded, in log
    /// order, each exactly once. A subscriber that falls too far behind gets a
    /// `SUBSCRIBER_TOO_SLOW` error with `extensions.resumeFrom`: subscribe
    /// again with that as `afterPosition` to continue without a gap.
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<HistoryEvent>>> {
        let filter = EventFilter::compile(filter.as_ref())?;
        start(ctx, filter, after_position).await
    }

    /// One entity's events as they are recorded (after `afterPosition` when given).
    async fn entity_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
        after_position: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<HistoryEvent>>> {
        let filter = FeedFilter {
            streams: Some(vec![canonical_ref(&entity_ref, None)?]),
            ..FeedFilter::default()
        };
        start(ctx, filter, after_position).await
    }
}
