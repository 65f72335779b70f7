//! Snapshot consistency (issue 13): one query reads one state of the catalog, however many
//! writes land while it runs.

use super::support::{auth, server};
use almanac_api::GraphqlLimits;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};

const MOVERS: usize = 6;
const MOVES: usize = 12;

fn group(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\n\
         spec:\n  type: team\n  children: []\n"
    )
}

fn mover(i: usize, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: mover-{i}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

const BOTH: &str = r#"{
  left: entity(ref: "group:left") { ... on Group { ownedEntitiesConnection(first: 2) { totalCount } } }
  right: entity(ref: "group:right") { ... on Group { ownedEntitiesConnection(first: 2) { totalCount } } }
}"#;

fn total(data: &Value, side: &str) -> i64 {
    data[side]["ownedEntitiesConnection"]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no total for {side}: {data:#}"))
}

#[tokio::test]
async fn a_reader_sees_both_groups_at_one_position_while_entities_move_between_them() {
    let mut config = auth(true);
    config.tokens[0].sources = vec!["alpha".into()];
    let server = server(config, GraphqlLimits::default(), false).await;
    let mut documents = vec![group("left"), group("right")];
    documents.extend((0..MOVERS).map(|i| mover(i, "left")));
    server.push_to_alpha(&documents.join("---\n")).await;
    let mut owners = ["left"; MOVERS];
    let first = server.data(BOTH, json!({})).await;
    assert_eq!((total(&first, "left"), total(&first, "right")), (6, 0));

    let done = AtomicBool::new(false);
    let writer = async {
        for step in 0..MOVES {
            let i = step % MOVERS;
            owners[i] = if owners[i] == "left" { "right" } else { "left" };
            // One push, one event: the mover's owner changes.
            server.push_to_alpha(&mover(i, owners[i])).await;
        }
        done.store(true, Ordering::SeqCst);
    };
    let reader = async {
        let mut seen = Vec::new();
        while !done.load(Ordering::SeqCst) {
            let body = server.call(BOTH, json!({}), None).await;
            assert!(body.get("errors").is_none(), "{body:#}");
            let (left, right) = (total(&body["data"], "left"), total(&body["data"], "right"));
            assert_eq!(
                left + right,
                MOVERS as i64,
                "left {left} + right {right} at position {}",
                body["extensions"]["position"]
            );
            seen.push((left, right));
            tokio::task::yield_now().await;
        }
        seen
    };
    let ((), seen) = tokio::join!(writer, reader);
    assert!(!seen.is_empty());
    // 12 moves of 6 movers in turn: every one moved twice, back where it began.
    let last = server.data(BOTH, json!({})).await;
    assert_eq!((total(&last, "left"), total(&last, "right")), (6, 0));
}
