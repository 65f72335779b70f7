//! Large descriptors are held elided in memory and read whole from PostgreSQL through a
//! cache that stays within its byte budget (`graphql.descriptor_cache_bytes`).

use super::support::{auth, server};
use almanac_api::GraphqlLimits;
use serde_json::json;

const APIS: usize = 30;
const DEFINITION_BYTES: usize = 200 * 1024;
const BUDGET: usize = 1024 * 1024;

fn definition(i: usize) -> String {
    let mut text = format!("api{i}_");
    while text.len() < DEFINITION_BYTES {
        text.push_str(&format!("{i:03}x"));
    }
    text
}

#[tokio::test]
async fn definitions_of_elided_apis_are_read_whole_within_the_cache_budget() {
    let mut config = auth(true);
    let sources: Vec<String> = (0..APIS / 10).map(|s| format!("big-{s}")).collect();
    config.tokens[0].sources = sources.clone();
    let limits = GraphqlLimits {
        descriptor_cache_bytes: BUDGET,
        ..GraphqlLimits::default()
    };
    let server = server(config, limits, false).await;
    // Ten 200 KB APIs per push (one source each), well under the push's size limit.
    for (s, source) in sources.iter().enumerate() {
        let documents: Vec<String> = (s * 10..s * 10 + 10)
            .map(|i| {
                format!(
                    "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: big-{i}\n  \
                     description: API number {i}\nspec:\n  type: openapi\n  lifecycle: production\n  \
                     owner: team-a\n  definition: {}\n",
                    definition(i)
                )
            })
            .collect();
        server.push_to(source, &documents.join("---\n")).await;
    }

    // The snapshot holds every one elided, its summary intact.
    let followed = server.state.followed.as_ref().unwrap().pin();
    for i in 0..APIS {
        let entity = followed
            .entity(&format!("api:default/big-{i}"))
            .expect("followed");
        assert!(entity.elided, "big-{i}");
        assert!(entity.descriptor_json.len() < 2_000, "big-{i}");
        assert_eq!(
            entity.description.as_deref(),
            Some(&*format!("API number {i}"))
        );
        assert_eq!(entity.owner_ref.as_deref(), Some("group:default/team-a"));
    }

    let cache = server.state.descriptors.clone();
    // The pushes' own answers may already have read some (a push returns its entities).
    let before = cache.stats();
    for round in 0..2 {
        for i in 0..APIS {
            let body = server
                .call(
                    "query One($ref: String!) { entity(ref: $ref) { \
                     ... on Api { description ownerRef definition } } }",
                    json!({ "ref": format!("api:default/big-{i}") }),
                    None,
                )
                .await;
            let api = &body["data"]["entity"];
            assert_eq!(
                api["definition"],
                json!(definition(i)),
                "round {round}, big-{i}"
            );
            assert_eq!(api["description"], json!(format!("API number {i}")));
            assert_eq!(api["ownerRef"], json!("group:default/team-a"));
            let stats = cache.stats();
            assert!(
                stats.held_bytes <= BUDGET && stats.peak_bytes <= BUDGET,
                "{stats:?}"
            );
        }
    }
    let stats = cache.stats();
    // Each held entry is one 200 KB definition: four fit, and every fetch was a miss
    // (30 in a row, least recently used first out, so the second round finds none).
    assert_eq!(
        stats.entries,
        BUDGET / (DEFINITION_BYTES + 400),
        "{stats:?}"
    );
    assert!(
        stats.held_bytes > BUDGET - DEFINITION_BYTES - 400,
        "{stats:?}"
    );
    assert_eq!(
        (stats.hits - before.hits, stats.misses - before.misses),
        (0, 2 * APIS as u64),
        "{stats:?}"
    );

    // The one used last is answered from the cache, no statement run.
    let before = server.state.statements.get();
    let body = server
        .call(
            r#"{ entity(ref: "api:default/big-29") { ... on Api { definition } } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(body["data"]["entity"]["definition"], json!(definition(29)));
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(server.state.statements.get(), before);

    // The budget and the counts are on /metrics.
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("almanac_descriptor_cache_budget_bytes {BUDGET}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("almanac_descriptor_cache_hits_total 1\n"),
        "{metrics}"
    );
}
