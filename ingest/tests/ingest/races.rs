//! Two sources read at the same moment, both naming one entity: each source's
//! batch is decided and appended under the append lock, so exactly one of them
//! owns it, the other records a conflict, and no stream is registered twice.

use super::support::ingest;
use almanac_ingest::Source;
use almanac_store::testing::test_db;

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_file_reads_register_a_shared_entity_once() {
    let db = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let mut paths = Vec::new();
        for who in ["alpha", "beta"] {
            let path = dir.path().join(format!("{who}-{round}.yaml"));
            let text = format!(
                "{}---\n{}",
                component(&format!("shared-{round}")),
                component(&format!("only-{who}-{round}"))
            );
            std::fs::write(&path, text).unwrap();
            paths.push(path);
        }
        let (alpha, beta) = tokio::join!(
            ingest(&db.pool, Source::File(paths[0].clone())),
            ingest(&db.pool, Source::File(paths[1].clone())),
        );
        // A file read applies what it can: both only-* entities, one shared.
        assert_eq!(alpha.registered + beta.registered, 3, "round {round}");
        assert_eq!(
            alpha.conflicts.len() + beta.conflicts.len(),
            1,
            "round {round}"
        );
        let conflict = alpha
            .conflicts
            .iter()
            .chain(&beta.conflicts)
            .next()
            .unwrap();
        assert_eq!(
            conflict.entity_ref,
            format!("component:default/shared-{round}")
        );
        let (owner,): (Option<String>,) =
            sqlx::query_as("SELECT source FROM entities WHERE ref = $1")
                .bind(&conflict.entity_ref)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(owner.as_deref(), Some(conflict.existing_source.as_str()));
        assert_ne!(conflict.existing_source, conflict.new_source);
    }
    let (registrations, streams): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT stream) FROM events WHERE event_type = 'EntityRegistered'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((registrations, streams), (60, 60));
}
