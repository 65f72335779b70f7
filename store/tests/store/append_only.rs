use super::support::{append, meta, n};
use almanac_store::testing::test_db;
use sqlx::PgPool;

async fn assert_rejected(pool: &PgPool, sql: &str, who: &str) {
    let err = sqlx::query(sql)
        .execute(pool)
        .await
        .expect_err(&format!("{sql} as {who} must fail"));
    let db_err = err.as_database_error().expect("a database error");
    assert_eq!(
        db_err.code().as_deref(),
        Some("42501"),
        "{sql} as {who}: {db_err}"
    );
}

#[tokio::test]
async fn update_delete_and_truncate_fail_for_the_server_and_the_owner() {
    let db = test_db().await;
    let log = db.log();
    log.append(&[append("s", 0, &[n(1)])], &meta("a"))
        .await
        .unwrap();

    for (pool, who) in [(&db.pool, "server"), (&db.owner, "owner")] {
        assert_rejected(pool, "UPDATE events SET actor = 'mallory'", who).await;
        assert_rejected(pool, "DELETE FROM events", who).await;
        assert_rejected(pool, "TRUNCATE events", who).await;
        // Zero-row statements are refused too (the triggers are per statement).
        assert_rejected(pool, "DELETE FROM events WHERE position < 0", who).await;
    }
    // The owner is refused by the trigger, the server already by its privileges.
    let owner_err = sqlx::query("DELETE FROM events")
        .execute(&db.owner)
        .await
        .unwrap_err();
    assert!(owner_err.to_string().contains("append-only"), "{owner_err}");
    let server_err = sqlx::query("DELETE FROM events")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(
        server_err.to_string().contains("permission denied"),
        "{server_err}"
    );

    let events = log.read_feed(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "a");
    assert!(log
        .check_guards()
        .await
        .unwrap()
        .missing_or_disabled
        .is_empty());
}
