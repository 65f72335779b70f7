//! Tamper evidence against the database's owner (issue 11, "what was seen" 3):
//! each attack is done here as the owner or a superuser (or as the server's
//! role, for the insert), and `audit` must name what it changed.

use super::support::{append, meta, n};
use almanac_store::log::seal::{CheckpointFile, FindingKind, Sealer, Trust};
use almanac_store::log::{event_hash, Audit};
use almanac_store::testing::{test_db, test_sealer, TestDb};
use almanac_store::{AppendError, EventLog, StoredEvent};
use chrono::Duration;
use sqlx::{ConnectOptions, PgConnection};
use std::sync::Arc;

fn trust() -> Trust {
    Trust::new([test_sealer().trusted().clone()])
}

/// Three appends: (a v1, a v2, b v1), (a v3), (c v1) at positions 1..=5.
async fn seeded() -> (TestDb, EventLog) {
    let db = test_db().await;
    let log = db.log();
    log.append(
        &[append("a", 0, &[n(1), n(2)]), append("b", 0, &[n(1)])],
        &meta("alice"),
    )
    .await
    .unwrap();
    log.append(&[append("a", 2, &[n(3)])], &meta("bob"))
        .await
        .unwrap();
    log.append(&[append("c", 0, &[n(1)])], &meta("carol"))
        .await
        .unwrap();
    let clean = log.audit(&trust(), None).await.unwrap();
    assert!(clean.is_intact(), "{:?}", clean.lines());
    assert_eq!(clean.seal.checkpoints, 3);
    assert_eq!(clean.seal.sealed_events, 5);
    (db, log)
}

/// The signing key belongs to the log handle, not to the process: two logs alive
/// at once sign with their own keys, and a log given none appends nothing.
#[tokio::test]
async fn each_log_signs_with_its_own_key_and_a_log_without_one_appends_nothing() {
    let (first, second) = (test_db().await, test_db().await);
    let other = Arc::new(Sealer::from_seed([9; 32]));
    let ours = first.log();
    let theirs = EventLog::new(second.pool.clone()).with_sealer(other.clone());

    ours.append(&[append("a", 0, &[n(1)])], &meta("alice"))
        .await
        .unwrap();
    theirs
        .append(&[append("a", 0, &[n(1)])], &meta("alice"))
        .await
        .unwrap();
    let refused = EventLog::new(second.pool.clone())
        .append(&[append("b", 0, &[n(1)])], &meta("bob"))
        .await;

    let key_of = |checkpoint: Option<almanac_store::log::seal::Checkpoint>| {
        checkpoint.expect("a signed checkpoint").key_id
    };
    assert_eq!(
        key_of(ours.latest_checkpoint().await.unwrap()),
        test_sealer().key_id()
    );
    assert_eq!(
        key_of(theirs.latest_checkpoint().await.unwrap()),
        other.key_id()
    );
    assert_ne!(test_sealer().key_id(), other.key_id());
    match refused {
        Err(AppendError::Seal(err)) => assert_eq!(
            err.to_string(),
            "this event log has no signing key: every append must be sealed \
             (see `signing.key_path` in the configuration)"
        ),
        outcome => panic!("expected a refusal for want of a key, got {outcome:?}"),
    }
    assert_eq!(theirs.head_position().await.unwrap(), 1, "nothing appended");
}

/// A superuser session with the guard triggers switched off for it.
async fn superuser(db: &TestDb) -> PgConnection {
    let mut su = db.superuser.connect().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut su)
        .await
        .unwrap();
    su
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::query(sql).execute(&mut *conn).await.unwrap();
}

fn hash_of(event: &StoredEvent, previous: Option<&[u8]>) -> Vec<u8> {
    event_hash(previous, &event.hash_input()).to_vec()
}

/// What an outside script can do: rewrite a stream's hashes from `version` on
/// so that its chain holds again.
async fn rehash_stream(su: &mut PgConnection, log: &EventLog, stream: &str) {
    let mut previous: Option<Vec<u8>> = None;
    for event in log.read_stream(stream, 1).await.unwrap() {
        let hash = hash_of(&event, previous.as_deref());
        sqlx::query("UPDATE events SET hash = $1 WHERE position = $2")
            .bind(&hash)
            .bind(event.position)
            .execute(&mut *su)
            .await
            .unwrap();
        previous = Some(hash);
    }
}

fn seal_findings(audit: &Audit, kind: FindingKind) -> Vec<(String, i64, i64)> {
    audit
        .seal
        .findings
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| {
            (
                f.stream.clone().unwrap_or_default(),
                f.version.unwrap_or(0),
                f.position,
            )
        })
        .collect()
}

#[tokio::test]
async fn an_edited_event_breaks_its_chain() {
    let (db, log) = seeded().await;
    let mut su = superuser(&db).await;
    exec(
        &mut su,
        "UPDATE events SET actor = 'mallory' WHERE stream = 'a' AND version = 2",
    )
    .await;
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(!audit.is_intact());
    let broken: Vec<_> = audit
        .chains
        .breaks
        .iter()
        .map(|b| (b.stream.as_str(), b.version, b.position))
        .collect();
    assert_eq!(broken, vec![("a", 2, 2)]);
}

#[tokio::test]
async fn an_edited_event_with_its_stream_rehashed_differs_from_its_checkpoint() {
    let (db, log) = seeded().await;
    let mut su = superuser(&db).await;
    exec(
        &mut su,
        "UPDATE events SET payload = '{\"n\": 99}' WHERE stream = 'a' AND version = 2",
    )
    .await;
    rehash_stream(&mut su, &log, "a").await;
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(
        audit.chains.is_intact(),
        "the per-stream chain alone is fooled"
    );
    assert_eq!(
        seal_findings(&audit, FindingKind::Altered),
        vec![("a".into(), 2, 2), ("a".into(), 3, 4)]
    );
    let line = audit.lines().join("\n");
    assert!(line.contains("stream a version 2 (position 2)"), "{line}");
    assert!(line.contains("altered"), "{line}");
}

#[tokio::test]
async fn a_deleted_tail_of_a_stream_is_missing() {
    let (db, log) = seeded().await;
    let mut su = superuser(&db).await;
    exec(
        &mut su,
        "DELETE FROM events WHERE stream = 'a' AND version = 3",
    )
    .await;
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(audit.chains.is_intact(), "a shorter chain is still a chain");
    assert_eq!(
        seal_findings(&audit, FindingKind::Missing),
        vec![("a".into(), 3, 4)]
    );
    assert!(!audit.is_intact());
}

#[tokio::test]
async fn a_deleted_stream_is_missing() {
    let (db, log) = seeded().await;
    let mut su = superuser(&db).await;
    exec(&mut su, "DELETE FROM events WHERE stream = 'b'").await;
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(audit.chains.is_intact());
    assert_eq!(
        seal_findings(&audit, FindingKind::Missing),
        vec![("b".into(), 1, 3)]
    );
    // Asked about that stream alone, the checkpoints that list it still tell.
    let one = log.audit(&trust(), Some("b")).await.unwrap();
    assert_eq!(one.chains.events, 0);
    assert_eq!(
        seal_findings(&one, FindingKind::Missing),
        vec![("b".into(), 1, 3)]
    );
}

/// A forged event that chains correctly onto stream `a`, by another actor and
/// backdated a day.
async fn forge(conn: &mut PgConnection, log: &EventLog) -> StoredEvent {
    let head = log.read_stream("a", 1).await.unwrap().pop().unwrap();
    let mut forged = head.clone();
    forged.version = head.version + 1;
    forged.payload = serde_json::json!({"owner": "mallory"});
    forged.actor = "alice".into();
    forged.recorded_at = head.recorded_at - Duration::days(1);
    forged.hash = hash_of(&forged, Some(&head.hash));
    sqlx::query(
        "INSERT INTO events (stream, version, event_type, schema_version, payload, actor, \
           source, correlation_id, causation_id, recorded_at, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&forged.stream)
    .bind(forged.version)
    .bind(&forged.event_type)
    .bind(forged.schema_version)
    .bind(&forged.payload)
    .bind(&forged.actor)
    .bind(&forged.source)
    .bind(forged.correlation_id)
    .bind(forged.causation_id)
    .bind(forged.recorded_at)
    .bind(&forged.hash)
    .execute(&mut *conn)
    .await
    .unwrap();
    forged
}

#[tokio::test]
async fn an_event_inserted_by_the_server_role_is_unsealed_then_inserted() {
    let (db, log) = seeded().await;
    let mut server = db.pool.acquire().await.unwrap();
    forge(&mut server, &log).await;
    drop(server);
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(
        audit.chains.is_intact(),
        "the forged event chains correctly"
    );
    assert_eq!(
        seal_findings(&audit, FindingKind::Unsealed),
        vec![("a".into(), 4, 6)]
    );
    assert_eq!(
        seal_findings(&audit, FindingKind::TimeReversed),
        vec![("a".into(), 4, 6)]
    );

    // The next honest append seals only what it wrote, so the forgery stays out.
    log.append(&[append("c", 1, &[n(2)])], &meta("carol"))
        .await
        .unwrap();
    let audit = log.audit(&trust(), None).await.unwrap();
    assert_eq!(
        seal_findings(&audit, FindingKind::Inserted),
        vec![("a".into(), 4, 6)]
    );
    assert!(seal_findings(&audit, FindingKind::Unsealed).is_empty());
    // verifyIntegrity's view of that stream sees it too.
    let one = log.audit(&trust(), Some("a")).await.unwrap();
    assert_eq!(
        seal_findings(&one, FindingKind::Inserted),
        vec![("a".into(), 4, 6)]
    );
    assert!(log
        .audit(&trust(), Some("b"))
        .await
        .unwrap()
        .seal
        .is_intact());
}

#[tokio::test]
async fn an_event_inserted_by_the_owner_is_unsealed() {
    let (db, log) = seeded().await;
    let mut owner = db.owner.acquire().await.unwrap();
    forge(&mut owner, &log).await;
    drop(owner);
    let audit = log.audit(&trust(), None).await.unwrap();
    assert_eq!(
        seal_findings(&audit, FindingKind::Unsealed),
        vec![("a".into(), 4, 6)]
    );
}

#[tokio::test]
async fn a_backdated_recorded_at_is_caught_even_with_hashes_recomputed() {
    let (db, log) = seeded().await;
    let mut su = superuser(&db).await;
    exec(
        &mut su,
        "UPDATE events SET recorded_at = recorded_at - interval '1 hour' \
         WHERE stream = 'a' AND version = 3",
    )
    .await;
    rehash_stream(&mut su, &log, "a").await;
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(audit.chains.is_intact());
    assert_eq!(
        seal_findings(&audit, FindingKind::TimeReversed),
        vec![("a".into(), 3, 4)]
    );
    assert_eq!(
        seal_findings(&audit, FindingKind::Altered),
        vec![("a".into(), 3, 4)]
    );
}

#[tokio::test]
async fn a_replaced_guard_function_is_named_and_what_it_let_through_is_missing() {
    let (db, log) = seeded().await;
    // The owner may replace its own function: a no-op lets DELETE through.
    exec(
        &mut db.owner.acquire().await.unwrap(),
        "CREATE OR REPLACE FUNCTION events_reject_change() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    )
    .await;
    exec(
        &mut db.owner.acquire().await.unwrap(),
        "DELETE FROM events WHERE stream = 'c'",
    )
    .await;
    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(
        audit.guards.missing_or_disabled.is_empty(),
        "the triggers are all still enabled"
    );
    assert_eq!(audit.guards.altered.len(), 1, "{:?}", audit.guards.altered);
    assert!(audit.guards.altered[0].contains("events_reject_change"));
    assert!(audit.guards.altered[0].contains("replaced"));
    assert_eq!(
        seal_findings(&audit, FindingKind::Missing),
        vec![("c".into(), 1, 5)]
    );
}

#[tokio::test]
async fn a_trigger_re_pointed_to_another_function_is_named() {
    let (db, log) = seeded().await;
    let mut owner = db.owner.acquire().await.unwrap();
    exec(
        &mut owner,
        "CREATE FUNCTION allow_all() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    )
    .await;
    exec(&mut owner, "DROP TRIGGER events_no_truncate ON events").await;
    exec(
        &mut owner,
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events \
         FOR EACH STATEMENT EXECUTE FUNCTION allow_all()",
    )
    .await;
    let guards = log.check_guards().await.unwrap();
    assert_eq!(guards.altered.len(), 1, "{guards:?}");
    assert!(guards.altered[0].contains("events_no_truncate on events"));
    assert!(guards.altered[0].contains("allow_all"));
}

#[tokio::test]
async fn a_log_rewritten_and_resealed_with_another_key_is_not_trusted() {
    let (db, log) = seeded().await;
    let mut su = superuser(&db).await;
    // Everything an outside script can do without the key: rewrite, rehash,
    // throw the checkpoints away and sign new ones with a key of its own.
    exec(
        &mut su,
        "UPDATE events SET payload = '{\"n\": 99}' WHERE stream = 'b'",
    )
    .await;
    rehash_stream(&mut su, &log, "b").await;
    exec(&mut su, "DELETE FROM log_checkpoints").await;
    let mallory = Sealer::from_seed([66; 32]);
    let forged = EventLog::new(db.owner.clone());
    forged.seal_backlog(&mallory).await.unwrap();

    let audit = log.audit(&trust(), None).await.unwrap();
    assert!(audit.chains.is_intact());
    let checkpoints: Vec<_> = audit
        .seal
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Checkpoint)
        .collect();
    assert_eq!(checkpoints.len(), 1, "{:?}", audit.lines());
    assert!(
        checkpoints[0].reason.contains(mallory.key_id()),
        "{}",
        checkpoints[0].reason
    );
    assert!(checkpoints[0].reason.contains("not trusted"));
}

#[tokio::test]
async fn a_checkpoint_row_forged_by_the_server_role_does_not_verify() {
    let (db, log) = seeded().await;
    // The server's role may insert checkpoints, but cannot sign them.
    let mut server = db.pool.acquire().await.unwrap();
    forge(&mut server, &log).await;
    exec(
        &mut server,
        "INSERT INTO log_checkpoints (position, previous_position, previous_head, head, \
           event_count, positions, streams, versions, hashes, origin, signed_at, key_id, signature) \
         SELECT 6, position, head, head, event_count + 1, ARRAY[6], ARRAY['a'], ARRAY[4::bigint], \
           ARRAY[(SELECT hash FROM events WHERE position = 6)], 'append', now(), key_id, signature \
         FROM log_checkpoints WHERE position = 5",
    )
    .await;
    let audit = log.audit(&trust(), None).await.unwrap();
    let bad: Vec<_> = audit
        .seal
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Checkpoint)
        .collect();
    assert_eq!(bad.len(), 1, "{:?}", audit.lines());
    assert_eq!(bad[0].position, 6);
    assert!(
        bad[0].reason.contains("does not verify"),
        "{}",
        bad[0].reason
    );
}

#[tokio::test]
async fn only_an_auditors_checkpoint_shows_a_removed_newest_append_or_a_rollback() {
    let (db, log) = seeded().await;
    let file = log
        .export_checkpoint(test_sealer().trusted())
        .await
        .unwrap();
    assert_eq!((file.position, file.event_count), (5, 5));
    let text = serde_json::to_string_pretty(&file).unwrap();
    let (auditor, key) = CheckpointFile::parse(&text).unwrap();
    let with_auditor = || {
        let mut trust = Trust::new([key.clone()]);
        trust.auditor = Some(auditor.clone());
        trust
    };

    // More appends later: the old checkpoint still verifies, the new ones chain on.
    log.append(&[append("b", 1, &[n(2)])], &meta("bob"))
        .await
        .unwrap();
    let audit = log.audit(&with_auditor(), None).await.unwrap();
    assert!(audit.is_intact(), "{:?}", audit.lines());
    assert_eq!(audit.seal.auditor_verified_to, Some(5));

    // A superuser removes the newest appends and their checkpoints: the log that
    // is left is consistent and signed, so only the auditor's file tells.
    let mut su = superuser(&db).await;
    exec(&mut su, "DELETE FROM events WHERE position >= 5").await;
    exec(&mut su, "DELETE FROM log_checkpoints WHERE position >= 5").await;
    let alone = log.audit(&trust(), None).await.unwrap();
    assert!(
        alone.is_intact(),
        "without the auditor's file this is undetectable"
    );
    let audit = log.audit(&with_auditor(), None).await.unwrap();
    let findings: Vec<_> = audit
        .seal
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Auditor)
        .collect();
    assert_eq!(findings.len(), 1, "{:?}", audit.lines());
    assert!(
        findings[0].reason.contains("rolled back"),
        "{}",
        findings[0].reason
    );
    assert_eq!(findings[0].position, 5);

    // A file altered by hand does not open.
    let mut altered = file.clone();
    altered.event_count = 4;
    assert!(altered.open().is_err());
}

#[tokio::test]
async fn an_untouched_log_verifies_after_export_and_import_and_keeps_its_heads() {
    let (_db, log) = seeded().await;
    let file = log
        .export_checkpoint(test_sealer().trusted())
        .await
        .unwrap();
    let mut lines = Vec::new();
    log.export(None, None, |e| {
        lines.push(serde_json::to_string(e).unwrap());
        Ok(())
    })
    .await
    .unwrap();
    let target = test_db().await;
    EventLog::new(target.owner.clone())
        .with_sealer(test_sealer())
        .import(lines.into_iter().enumerate())
        .await
        .unwrap();
    let copy = target.log();
    let (auditor, key) = file.open().unwrap();
    let mut trust = Trust::new([key, test_sealer().trusted().clone()]);
    trust.auditor = Some(auditor);
    let audit = copy.audit(&trust, None).await.unwrap();
    assert!(audit.is_intact(), "{:?}", audit.lines());
    assert_eq!(audit.seal.auditor_verified_to, Some(5));
    assert_eq!(
        audit.seal.backlog_events, 5,
        "re-sealed by the importing server"
    );
    // And appends go on sealing after the import.
    copy.append(&[append("c", 1, &[n(2)])], &meta("carol"))
        .await
        .unwrap();
    let audit = copy.audit(&trust, None).await.unwrap();
    assert!(audit.is_intact(), "{:?}", audit.lines());
    assert_eq!(audit.seal.sealed_events, 6);
}
