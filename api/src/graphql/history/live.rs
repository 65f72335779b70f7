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
//! A subscriber that cannot keep up does not grow the server's memory: its
//! buffer is bounded in events and in bytes, and when it stays full longer
//! than the grace period, the producer stops; the client receives what was
//! buffered and then a `SUBSCRIBER_TOO_SLOW` error whose
//! `extensions.resumeFrom` is the position of the last event it got. One
//! WebSocket holds at most `max_subscriptions_per_connection` subscriptions,
//! so a connection's memory is bounded by that times the buffer's bytes.

use super::connection::EventFilter;
use super::event::HistoryEvent;
use super::event_log;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::filter::canonical_ref;
use crate::graphql::long::Long;
use crate::limits::GraphqlLimits;
use almanac_store::log::{FeedFilter, FeedWaker};
use almanac_store::PgPool;
use almanac_store::{EventLog, StoredEvent};
use async_graphql::{Context, Subscription as SubscriptionRoot};
use futures::Stream;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, OnceCell, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Most events one read of the feed fetches for a subscriber.
const PAGE: i64 = 200;

/// The server's one event listener, shared by every subscription.
#[derive(Clone)]
pub struct WakeHub(Arc<HubInner>);

impl std::fmt::Debug for WakeHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeHub")
            .field("poll", &self.0.poll)
            .finish()
    }
}

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
    pub async fn subscribe(&self) -> watch::Receiver<u64> {
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
    /// An event and its share of the subscriber's byte budget, given back
    /// when the event leaves the buffer.
    Event(Box<StoredEvent>, OwnedSemaphorePermit),
    Failed(ApiError),
}

/// About how many bytes `event` takes (its JSON form, counted, not built).
fn event_bytes(event: &StoredEvent) -> usize {
    almanac_domain::validation::json_size(event)
}

/// One subscriber's buffer bounds: events (the channel's capacity) and bytes
/// (permits of a semaphore; an event larger than the whole budget takes all
/// of it, so it still passes, alone).
#[derive(Clone)]
pub(crate) struct Buffer {
    bytes: Arc<Semaphore>,
    capacity: u32,
    /// Set when the producer gave up on a subscriber that did not read.
    too_slow: Arc<AtomicBool>,
}

impl Buffer {
    fn new(limits: &GraphqlLimits) -> Self {
        let capacity = u32::try_from(limits.subscription_buffer_bytes.max(1)).unwrap_or(u32::MAX);
        Buffer {
            bytes: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            too_slow: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Bytes of events buffered and not yet taken by the client.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.capacity as usize - self.bytes.available_permits()
    }

    fn share(&self, event: &StoredEvent) -> u32 {
        u32::try_from(event_bytes(event))
            .unwrap_or(u32::MAX)
            .min(self.capacity)
    }
}

/// Feeds `sender` with the events after `cursor` that `filter` keeps, forever,
/// until the subscriber goes away or falls too far behind (`too_slow`): more
/// events or bytes buffered than `buffer` allows, for longer than `grace`.
/// While it waits for room it holds one event, not the rest of its page.
#[allow(clippy::too_many_arguments)]
async fn produce(
    log: EventLog,
    filter: FeedFilter,
    mut cursor: i64,
    mut wakes: watch::Receiver<u64>,
    sender: mpsc::Sender<Item>,
    buffer: Buffer,
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
        let mut caught_up = (page.len() as i64) < PAGE;
        let mut page = VecDeque::from(page);
        while let Some(event) = page.pop_front() {
            let position = event.position;
            let share = buffer.share(&event);
            let bytes = match buffer.bytes.clone().try_acquire_many_owned(share) {
                Ok(permit) => permit,
                Err(TryAcquireError::Closed) => return,
                Err(TryAcquireError::NoPermits) => {
                    // Read the rest again once there is room.
                    page = VecDeque::new();
                    caught_up = false;
                    let room = buffer.bytes.clone().acquire_many_owned(share);
                    tokio::select! {
                        waited = tokio::time::timeout(grace, room) => match waited {
                            Ok(Ok(permit)) => permit,
                            Ok(Err(_closed)) => return,
                            Err(_elapsed) => {
                                too_slow.store(true, Ordering::SeqCst);
                                return;
                            }
                        },
                        () = sender.closed() => return,
                    }
                }
            };
            let slot = match sender.try_reserve() {
                Ok(slot) => slot,
                Err(mpsc::error::TrySendError::Closed(())) => return,
                Err(mpsc::error::TrySendError::Full(())) => {
                    match tokio::time::timeout(grace, sender.reserve()).await {
                        Ok(Ok(slot)) => slot,
                        Ok(Err(_closed)) => return,
                        Err(_elapsed) => {
                            too_slow.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            };
            slot.send(Item::Event(Box::new(event), bytes));
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
    /// The connection's subscription slot, given back when this ends.
    _slot: Option<OwnedSemaphorePermit>,
    /// Counts this subscription among the live ones while it lasts.
    _live: crate::metrics::recorder::Held,
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

/// The subscriptions one WebSocket holds: a slot per live subscription, put
/// in the connection's data by the WebSocket handler.
#[derive(Clone)]
pub struct ConnectionSlots(Arc<Semaphore>);

impl ConnectionSlots {
    pub fn new(limits: &GraphqlLimits) -> Self {
        ConnectionSlots(Arc::new(Semaphore::new(
            limits.max_subscriptions_per_connection,
        )))
    }
}

/// A slot of the connection, or `SUBSCRIPTION_LIMIT_EXCEEDED`. Outside a
/// WebSocket (no slots in the data) there is nothing to count.
fn take_slot(
    ctx: &Context<'_>,
    limits: &GraphqlLimits,
) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
    let Some(slots) = ctx.data_opt::<ConnectionSlots>() else {
        return Ok(None);
    };
    slots.0.clone().try_acquire_owned().map(Some).map_err(|_| {
        ApiError::new(
            ErrorCode::SubscriptionLimitExceeded,
            format!(
                "this connection already has {} live subscriptions, the limit; complete one first",
                limits.max_subscriptions_per_connection
            ),
        )
    })
}

/// The stream of events after `cursor`, produced by a task of its own into a
/// [`Buffer`]; also returns the buffer, for tests to weigh.
fn feed(
    log: EventLog,
    filter: FeedFilter,
    cursor: i64,
    wakes: watch::Receiver<u64>,
    limits: &GraphqlLimits,
    slot: Option<OwnedSemaphorePermit>,
) -> (
    impl Stream<Item = async_graphql::Result<HistoryEvent>>,
    Buffer,
) {
    let buffer = Buffer::new(limits);
    let (sender, receiver) = mpsc::channel(limits.subscription_buffer.max(1));
    let too_slow = buffer.too_slow.clone();
    tokio::spawn(produce(
        log,
        filter,
        cursor,
        wakes,
        sender,
        buffer.clone(),
        limits.subscription_grace(),
        too_slow.clone(),
    ));
    let consumer = Consumer {
        receiver,
        too_slow,
        last_delivered: cursor,
        finished: false,
        _slot: slot,
        _live: crate::metrics::recorder::Held::new(crate::metrics::recorder::SUBSCRIPTIONS),
    };
    let stream = futures::stream::unfold(consumer, |mut c| async move {
        if c.finished {
            return None;
        }
        match c.receiver.recv().await {
            Some(Item::Event(event, _bytes)) => {
                c.last_delivered = event.position;
                Some((Ok(HistoryEvent::new(*event)), c))
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
    });
    (stream, buffer)
}

async fn start(
    ctx: &Context<'_>,
    filter: FeedFilter,
    after: Option<i64>,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<HistoryEvent>>> {
    let limits = ctx.data::<GraphqlLimits>().cloned().unwrap_or_default();
    let slot = take_slot(ctx, &limits)?;
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
    Ok(feed(log, filter, cursor, wakes, &limits, slot).0)
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
        after_position: Option<Long>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<HistoryEvent>>> {
        let snapshot = crate::graphql::loaders::Loaders::snapshot(ctx).ok();
        let filter = EventFilter::compile(filter.as_ref(), snapshot.as_ref())?;
        start(ctx, filter, after_position.map(|p| p.0)).await
    }

    /// One entity's events as they are recorded (after `afterPosition` when given).
    async fn entity_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
        after_position: Option<Long>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<HistoryEvent>>> {
        let filter = FeedFilter {
            streams: Some(vec![canonical_ref(&entity_ref, None)?]),
            ..FeedFilter::default()
        };
        start(ctx, filter, after_position.map(|p| p.0)).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use almanac_store::log::{AppendMeta, NewEvent, StreamAppend};
    use almanac_store::testing::test_db;
    use futures::StreamExt;

    const PADDING: usize = 64 * 1024;

    async fn padded_events(log: &EventLog, count: usize) -> Vec<i64> {
        let padding = "p".repeat(PADDING);
        let events = (0..count)
            .map(|_| NewEvent {
                event_type: "LocationAdded".into(),
                schema_version: 1,
                payload: serde_json::json!({ "padding": padding }),
            })
            .collect();
        let batch = StreamAppend {
            stream: "location/padding".into(),
            expected_version: 0,
            events,
            source: None,
        };
        let meta = AppendMeta {
            actor: "test".into(),
            ..AppendMeta::default()
        };
        log.append(&[batch], &meta).await.unwrap().positions
    }

    fn code_and_resume(error: &async_graphql::Error) -> (String, i64) {
        let extensions = error.extensions.as_ref().unwrap();
        let code = match extensions.get("code") {
            Some(async_graphql::Value::String(code)) => code.clone(),
            other => panic!("no code: {other:?}"),
        };
        let resume = match extensions.get("resumeFrom") {
            Some(async_graphql::Value::Number(n)) => n.as_i64().unwrap(),
            other => panic!("no resumeFrom: {other:?}"),
        };
        (code, resume)
    }

    /// 100 events of 64 KB and a subscriber that never polls: the buffer holds
    /// no more than its 512 KB, the producer stops after the grace period, and
    /// the client then gets what was buffered, the error with the position to
    /// resume from, and from there every later event, none twice.
    #[tokio::test]
    async fn a_subscriber_that_never_reads_holds_at_most_its_bytes_then_resumes() {
        let db = test_db().await;
        let log = db.log();
        let positions = padded_events(&log, 100).await;
        let limits = GraphqlLimits {
            subscription_buffer: 1_000,
            subscription_buffer_bytes: 512 * 1024,
            subscription_grace_ms: 100,
            ..GraphqlLimits::default()
        };
        let (_wake, wakes) = watch::channel(0u64);
        let (stream, buffer) = feed(
            log.clone(),
            FeedFilter::default(),
            0,
            wakes.clone(),
            &limits,
            None,
        );
        for _ in 0..100 {
            if buffer.too_slow.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            buffer.too_slow.load(Ordering::SeqCst),
            "the producer gave up"
        );
        let held = buffer.held();
        assert!(
            held <= limits.subscription_buffer_bytes && held > 0,
            "{held} bytes held"
        );

        let items: Vec<_> = stream.collect().await;
        let (error, events) = items.split_last().unwrap();
        let delivered: Vec<i64> = events
            .iter()
            .map(|e| e.as_ref().unwrap().log_position())
            .collect();
        assert!(
            !delivered.is_empty() && delivered.len() <= limits.subscription_buffer_bytes / PADDING,
            "{} events buffered",
            delivered.len()
        );
        assert_eq!(delivered, positions[..delivered.len()]);
        let (code, resume) = code_and_resume(error.as_ref().unwrap_err());
        assert_eq!(code, "SUBSCRIBER_TOO_SLOW");
        assert_eq!(Some(&resume), delivered.last());

        let roomy = GraphqlLimits {
            subscription_buffer_bytes: 64 * 1024 * 1024,
            ..limits
        };
        let (rest, _) = feed(log, FeedFilter::default(), resume, wakes, &roomy, None);
        let rest: Vec<i64> = rest
            .take(positions.len() - delivered.len())
            .map(|e| e.unwrap().log_position())
            .collect()
            .await;
        assert_eq!(rest, positions[delivered.len()..], "no gap, no duplicate");
    }
}
