//! Following the log into memory: the catalog's [`Snapshot`] built at start by folding
//! the whole log in pages, then advanced by position whenever it is woken, each new
//! snapshot published for readers to pin.
//!
//! Publishing goes through a `tokio::sync::watch`: a reader takes the current snapshot
//! (a clone shares it: one `Arc`) and keeps it for its whole request while the follower
//! publishes the next; the same channel also tells a waiter when a position is reached
//! (read-your-writes), which a bare atomic pointer swap would not. The fold itself is
//! `almanac_readmodel`'s (pure); this module only reads and decodes the log.
//!
//! It does not listen for notifications itself: the server's one listener (the api's
//! `WakeHub`, built on [`crate::log::FeedWaker`]) hands it wake-ups, and correctness
//! rests on the cursor, never on a notification. It writes nothing.

use crate::catalog::EntityRecord;
use crate::entity_row::{EntityRow, LoggedEntity};
use crate::projection::rows::entity_uid;
use crate::projection::tap::PageTap;
use crate::{EventLog, StoreError, StoredEvent};
use almanac_domain::CatalogEvent;
use almanac_readmodel::{LogEvent, Relations, Skipped, Snapshot};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most events one read of the log fetches.
pub const PAGE: i64 = 1000;

/// Longest a backlog is folded before what is folded so far is published (a large
/// ingest appends faster than pages are read). Each build starts from the published
/// snapshot, whose maps and posting sets it shares, so its first change to a shared
/// node copies that node and the next publication frees the old one: the fewer
/// publications while behind, the fewer copies. So while pages come back full the
/// follower keeps folding into one build, and publishes when it reaches the head, when
/// this long has passed (a reader without a minimum position sees a snapshot at most
/// about this old), or at once when a reader waits for a position the build has passed.
pub const HOLD: Duration = Duration::from_millis(750);

/// Reads the log after the last position folded and publishes each new snapshot.
pub struct Follower {
    log: EventLog,
    page: i64,
    /// The position of the last event read (folded, skipped or undecodable).
    cursor: i64,
    current: Snapshot,
    sender: watch::Sender<Snapshot>,
    waiting: Arc<Waiting>,
    /// See [`HOLD`].
    hold: Duration,
    /// Snapshots published since the start (the first, at start, included).
    published: u64,
    /// Where the pages it reads after the start are left for this process's projector.
    tap: Option<Arc<PageTap>>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("cursor", &self.cursor)
            .field("position", &self.current.position())
            .finish()
    }
}

/// A reader's handle on the followed catalog. Cheap to clone.
#[derive(Clone)]
pub struct Followed {
    receiver: watch::Receiver<Snapshot>,
    waiting: Arc<Waiting>,
}

/// The positions readers are waiting for (position -> how many), so that the follower,
/// while it holds publication to fold a backlog, publishes as soon as its build passes
/// the lowest one.
#[derive(Debug, Default)]
struct Waiting(Mutex<BTreeMap<i64, usize>>);

impl Waiting {
    fn positions(&self) -> MutexGuard<'_, BTreeMap<i64, usize>> {
        // A panic while holding it cannot leave the counts half-changed.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lowest position a reader waits for.
    fn lowest(&self) -> Option<i64> {
        self.positions().keys().next().copied()
    }

    /// The lowest position a reader waits for that is past `published`: a reader whose
    /// position is published already has its snapshot, whether or not its task has run.
    fn lowest_past(&self, published: i64) -> Option<i64> {
        let positions = self.positions();
        let past = published.saturating_add(1);
        positions
            .range(past..)
            .next()
            .map(|(position, _)| *position)
    }

    /// Counts a reader waiting for `position` until the guard is dropped (the wait
    /// ended, or was given up: a timeout drops the future).
    fn add(self: &Arc<Self>, position: i64) -> WaitingFor {
        *self.positions().entry(position).or_default() += 1;
        WaitingFor {
            waiting: self.clone(),
            position,
        }
    }
}

struct WaitingFor {
    waiting: Arc<Waiting>,
    position: i64,
}

impl Drop for WaitingFor {
    fn drop(&mut self) {
        let mut positions = self.waiting.positions();
        if let Some(count) = positions.get_mut(&self.position) {
            *count -= 1;
            if *count == 0 {
                positions.remove(&self.position);
            }
        }
    }
}

impl std::fmt::Debug for Followed {
    /// The position only: the derived form would print the whole catalog.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Followed")
            .field("position", &self.receiver.borrow().position())
            .finish()
    }
}

impl Followed {
    /// The newest published snapshot; keep it for the whole request.
    pub fn pin(&self) -> Snapshot {
        self.receiver.borrow().clone()
    }

    /// Waits until a snapshot at or past `position` is published and returns it;
    /// `None` when the follower stopped first. While it waits the follower publishes
    /// as soon as it has folded `position`, even in the middle of a backlog.
    pub async fn reach(&self, position: i64) -> Option<Snapshot> {
        let mut receiver = self.receiver.clone();
        if receiver.borrow().position() >= position {
            return Some(receiver.borrow().clone());
        }
        let _waiting = self.waiting.add(position);
        let reached = receiver
            .wait_for(|snapshot| snapshot.position() >= position)
            .await
            .ok()?;
        Some(reached.clone())
    }

    /// Whether some reader is waiting for a position not yet published.
    pub fn is_awaited(&self) -> bool {
        self.waiting.lowest().is_some()
    }
}

impl Follower {
    /// Folds the whole log, in pages of [`PAGE`], into the first snapshot (one build,
    /// published once).
    pub async fn start(log: EventLog) -> Result<(Follower, Followed), StoreError> {
        Self::start_paged(log, PAGE).await
    }

    /// [`Follower::start`] reading `page` events at a time (tests use small pages to
    /// cross page boundaries).
    pub async fn start_paged(log: EventLog, page: i64) -> Result<(Follower, Followed), StoreError> {
        let (sender, receiver) = watch::channel(Snapshot::empty());
        let waiting = Arc::new(Waiting::default());
        let mut follower = Follower {
            log,
            page: page.max(1),
            cursor: 0,
            current: Snapshot::empty(),
            sender,
            waiting: waiting.clone(),
            hold: HOLD,
            published: 0,
            tap: None,
        };
        follower.build().await?;
        // Appended while building: folded and published as from now on.
        follower.catch_up().await?;
        let followed = Followed { receiver, waiting };
        Ok((follower, followed))
    }

    /// Leaves a copy of every page read from now on in `tap`, for the projector of the
    /// same process ([`crate::projection::tap`]).
    pub fn with_tap(mut self, tap: Arc<PageTap>) -> Follower {
        self.tap = Some(tap);
        self
    }

    /// Holds publication while folding a backlog at most `hold` (default [`HOLD`]).
    pub fn holding(mut self, hold: Duration) -> Follower {
        self.hold = hold;
        self
    }

    /// How many snapshots this follower has published (the one at start included).
    pub fn published(&self) -> u64 {
        self.published
    }

    fn publish(&mut self, snapshot: Snapshot) {
        self.current = snapshot;
        self.published += 1;
        // Readers still pinned to the old snapshot keep it; a send fails only when
        // no reader is left, which does not stop the follower.
        self.sender.send_replace(self.current.clone());
    }

    /// The start: every page folded into one unpublished build, indexed and published
    /// once (no reader can see a snapshot before `start` returns, so none is made per
    /// page: several times cheaper on a large log). The next page is read and decoded
    /// by another task (another core, on the server's runtime) while one folds.
    async fn build(&mut self) -> Result<(), StoreError> {
        let mut build = std::mem::take(&mut self.current)
            .build()
            .relations(Relations::Logged);
        let mut next = self.read_ahead(self.cursor);
        loop {
            let page = joined(next.await)?;
            let Some(last) = page.last else { break };
            let ahead = page.full.then(|| self.read_ahead(last));
            build.fold_owned(page.events);
            self.cursor = last;
            match ahead {
                Some(ahead) => next = ahead,
                None => break,
            }
        }
        let built = build.finish();
        for skipped in &built.skipped {
            report_skipped(skipped);
        }
        self.publish(built.snapshot);
        Ok(())
    }

    /// Reads and decodes the page after `after` on its own task.
    fn read_ahead(&self, after: i64) -> JoinHandle<Result<Page, StoreError>> {
        let (log, page) = (self.log.clone(), self.page);
        tokio::spawn(async move { Page::read(&log, after, page).await })
    }

    /// The snapshot last published.
    pub fn current(&self) -> &Snapshot {
        &self.current
    }

    /// Reads and folds every event after the cursor, publishing after each run of
    /// pages: a run ends at the head, after [`HOLD`], or as soon as it has folded a
    /// position a reader waits for. Returns the position of the last event read. A
    /// failed read publishes nothing of its run: the cursor stays at the published
    /// snapshot, so the next call reads the run again.
    pub async fn catch_up(&mut self) -> Result<i64, StoreError> {
        // The projector waits for our pages while we read (see `PageTap::reading`).
        let tap = self.tap.clone();
        let _reading = tap.as_deref().map(|tap| tap.reading(self.cursor));
        loop {
            let started = Instant::now();
            let mut build = None;
            let (mut cursor, mut full) = (self.cursor, true);
            while full {
                let stored = self.log.read_feed(cursor, self.page).await?;
                let Some(last) = stored.last() else {
                    full = false;
                    break;
                };
                if let Some(tap) = &self.tap {
                    tap.offer(cursor, &stored);
                }
                cursor = last.position;
                full = stored.len() as i64 >= self.page;
                build
                    .get_or_insert_with(|| {
                        self.current.clone().build().relations(Relations::Logged)
                    })
                    .fold_owned(into_log_events(stored));
                let awaited = self
                    .waiting
                    .lowest_past(self.cursor)
                    .is_some_and(|wanted| wanted <= cursor);
                if awaited || started.elapsed() >= self.hold {
                    break;
                }
            }
            let Some(build) = build else {
                return Ok(self.cursor);
            };
            let advanced = build.finish();
            for skipped in &advanced.skipped {
                report_skipped(skipped);
            }
            self.cursor = cursor;
            self.publish(advanced.snapshot);
            if !full {
                return Ok(self.cursor);
            }
        }
    }

    /// Catches up, then again on every wake-up, until every reader is gone or the
    /// wake-ups stop. A failed read is logged and retried on the next wake-up.
    pub async fn run(mut self, mut wakes: watch::Receiver<u64>) {
        loop {
            if let Err(err) = self.catch_up().await {
                tracing::warn!(error = %err, cursor = self.cursor, "following the log failed, retrying on the next wake-up");
            }
            tokio::select! {
                changed = wakes.changed() => if changed.is_err() { return },
                () = self.sender.closed() => return,
            }
        }
    }
}

/// One page of the log as the fold takes it.
struct Page {
    events: Vec<LogEvent>,
    /// The position of the last event read; `None`: nothing after the cursor.
    last: Option<i64>,
    /// As many events as asked for: more may follow.
    full: bool,
}

impl Page {
    async fn read(log: &EventLog, after: i64, page: i64) -> Result<Page, StoreError> {
        let stored = log.read_feed(after, page).await?;
        Ok(Page {
            last: stored.last().map(|event| event.position),
            full: stored.len() as i64 >= page,
            events: into_log_events(stored),
        })
    }
}

/// A read-ahead task's page; its panic goes on in the caller.
fn joined(
    joined: Result<Result<Page, StoreError>, tokio::task::JoinError>,
) -> Result<Page, StoreError> {
    match joined {
        Ok(page) => page,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        // Cancelled: only when the runtime shuts down.
        Err(_) => Err(StoreError::from(sqlx::Error::WorkerCrashed)),
    }
}

/// The stored events as the fold takes them, each payload decoded in place (not
/// copied). An event this build cannot decode is logged and left out (the projector
/// records it in `projection_failures`).
pub fn into_log_events(stored: Vec<StoredEvent>) -> Vec<LogEvent> {
    stored
        .into_iter()
        .filter_map(|mut event| {
            let payload = std::mem::take(&mut event.payload);
            match CatalogEvent::decode(&event.event_type, event.schema_version, payload) {
                Ok(decoded) => Some(LogEvent {
                    position: event.position,
                    stream: event.stream,
                    version: event.version,
                    recorded_at: event.recorded_at,
                    event: decoded,
                }),
                Err(err) => {
                    tracing::warn!(position = event.position, stream = %event.stream, error = %err, "event left out of the in-memory catalog");
                    None
                }
            }
        })
        .collect()
}

fn report_skipped(skipped: &Skipped) {
    tracing::warn!(
        position = skipped.position,
        stream = %skipped.stream,
        reason = %skipped.reason,
        "event did not fold into the in-memory catalog"
    );
}

/// The whole log folded in one step, the reference a followed snapshot must equal.
pub async fn fold_whole_log(log: &EventLog) -> Result<Snapshot, StoreError> {
    fold_log_up_to(log, i64::MAX).await
}

/// The log's events up to `up_to` (a position) folded in one step, every descriptor
/// validated again ([`Relations::Validated`]): the reference for the follower, which
/// trusts the log.
pub async fn fold_log_up_to(log: &EventLog, up_to: i64) -> Result<Snapshot, StoreError> {
    let mut stored = Vec::new();
    let mut after = 0;
    while after < up_to {
        let page = log.read_feed(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        stored.extend(page.into_iter().filter(|event| event.position <= up_to));
    }
    Ok(Snapshot::from_log(&into_log_events(stored)).snapshot)
}

/// The entity refs whose state differs between two snapshots (present in one only, or
/// with different fields or declared relations), sorted.
pub fn differing_refs(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut refs: Vec<String> = a
        .entities()
        .filter(|entity| b.entity(&entity.entity_ref) != Some(*entity))
        .map(|entity| entity.entity_ref.to_string())
        .chain(
            b.entities()
                .filter(|entity| a.entity(&entity.entity_ref).is_none())
                .map(|entity| entity.entity_ref.to_string()),
        )
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// What `almanac replay --verify` says of the in-memory catalog: the snapshot a
/// follower builds (paged, batch by batch) against the whole log folded at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowCheck {
    /// The position both reflect.
    pub position: i64,
    /// Live entities in the followed snapshot.
    pub entities: usize,
    /// Entity refs whose state differs, sorted.
    pub differing: Vec<String>,
    /// Whether the snapshots are equal as a whole (entities, relations and indexes);
    /// false with no differing ref means an index differs.
    pub equal: bool,
}

/// Builds the in-memory catalog as the server does and compares it with the whole
/// log folded at once. Appends meanwhile are not included: both read up to the
/// position the follower reached.
pub async fn check_followed(log: &EventLog) -> Result<FollowCheck, StoreError> {
    let (follower, _) = Follower::start(log.clone()).await?;
    let followed = follower.current().clone();
    let whole = fold_log_up_to(log, followed.position()).await?;
    Ok(FollowCheck {
        position: followed.position(),
        entities: followed.len(),
        differing: differing_refs(&followed, &whole),
        equal: followed == whole,
    })
}

/// The catalog's row of a followed entity, derived exactly as the projector derives it
/// (`EntityRow::derive`), so a reader cannot tell it from the SQL row. `None` when the
/// snapshot holds the descriptor elided: the full one is in PostgreSQL.
pub fn entity_record(entity: &almanac_readmodel::Entity) -> Option<EntityRecord> {
    (!entity.elided).then(|| held_record(entity))
}

/// The row of a followed entity from the descriptor as the snapshot holds it: for an
/// entity held elided, its large leaves are stubs (`almanac:elided:...`). Callers that
/// show the descriptor use [`entity_record`] and read an elided one from PostgreSQL.
pub fn held_record(entity: &almanac_readmodel::Entity) -> EntityRecord {
    entity_record_with(entity, entity.descriptor())
}

/// The catalog row of a followed entity with `descriptor` as its full descriptor
/// (fetched from PostgreSQL when the snapshot holds it elided).
pub fn entity_record_with(
    entity: &almanac_readmodel::Entity,
    descriptor: serde_json::Value,
) -> EntityRecord {
    let logged = LoggedEntity {
        entity_ref: entity.entity_ref.to_string(),
        uid: followed_uid(entity),
        descriptor,
        version: entity.version,
        created_at: entity.created_at,
        updated_at: entity.updated_at,
        last_position: entity.last_position,
    };
    EntityRow::derive(logged).into()
}

/// The store's uid of a followed entity (the `uid` column).
pub fn followed_uid(entity: &almanac_readmodel::Entity) -> uuid::Uuid {
    entity_uid(&entity.entity_ref, entity.registered_position)
}
