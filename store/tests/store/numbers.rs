//! What is hashed is what is stored: generated JSON documents (numbers of every shape,
//! unicode, nesting, key order) appended as they are, read back, and their hashes
//! recomputed. A seeded generator (rand, already a dev-dependency) rather than proptest:
//! the same documents every run, no new dependency to build, and a failing seed is printed.

use super::support::meta;
use almanac_domain::canonical::canonical;
use almanac_store::testing::test_db;
use almanac_store::{NewEvent, StreamAppend};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};

/// Number texts jsonb rewrites or serde_json reads in more than one way.
const NUMBER_TEXTS: &[&str] = &[
    "-0",
    "-0.0",
    "0.0",
    "1e18",
    "1.5e-7",
    "1E+20",
    "1.500e1",
    "-2.5E-3",
    "18446744073709551615",
    "-9223372036854775808",
    "9007199254740993",
    "0.30000000000000004",
    "1.7976931348623157e308",
    "5e-324",
    "2.2250738585072014e-308",
    "1e16",
    "123.0",
    "-1e-10",
    "100000000000000000000000",
];

const STRINGS: &[&str] = &[
    "",
    "plain",
    "Zürich ☃",
    "emoji 😀 and ZWJ 👩‍💻",
    "e\u{301} combining",
    "עברית RTL",
    "quote \" backslash \\ newline \n tab \t",
    "\u{7f}\u{1}\u{1f}",
    "-0.0",
    "1e18",
];

fn number(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..6) {
        0 => {
            let text = NUMBER_TEXTS[rng.gen_range(0..NUMBER_TEXTS.len())];
            Value::Number(serde_json::from_str::<Number>(text).unwrap())
        }
        1 => Value::from(rng.gen::<i64>()),
        2 => Value::from(rng.gen::<u64>()),
        3 => {
            // Any finite double, from its bits.
            let f = loop {
                let f = f64::from_bits(rng.gen::<u64>());
                if f.is_finite() {
                    break f;
                }
            };
            Value::from(f)
        }
        4 => Value::from(rng.gen_range(-1e6..1e6_f64)),
        _ => {
            let text = format!(
                "{}{}.{}e{}",
                if rng.gen() { "-" } else { "" },
                rng.gen_range(0..1000),
                rng.gen_range(0..1000),
                rng.gen_range(-30..30)
            );
            Value::Number(serde_json::from_str::<Number>(&text).unwrap())
        }
    }
}

fn string(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.5) {
        return STRINGS[rng.gen_range(0..STRINGS.len())].to_string();
    }
    (0..rng.gen_range(0..12))
        .map(|_| loop {
            if let Some(c) = char::from_u32(rng.gen_range(1..0x2_0000)) {
                break c;
            }
        })
        .collect()
}

fn document(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth == 0 { 4 } else { 6 }) {
        0 => number(rng),
        1 => Value::String(string(rng)),
        2 => [Value::Null, Value::Bool(true), Value::Bool(false)][rng.gen_range(0..3)].clone(),
        3 => number(rng),
        4 => Value::Array(
            (0..rng.gen_range(0..5))
                .map(|_| document(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut members = Map::new();
            for _ in 0..rng.gen_range(0..6) {
                members.insert(string(rng), document(rng, depth - 1));
            }
            Value::Object(members)
        }
    }
}

#[tokio::test]
async fn generated_documents_read_back_as_hashed_and_verify_clean() {
    let db = test_db().await;
    let log = db.log();
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let documents: Vec<Value> = (0..25)
            .map(|_| {
                let mut root = Map::new();
                root.insert("n".into(), number(&mut rng));
                root.insert("doc".into(), document(&mut rng, 4));
                Value::Object(root)
            })
            .collect();
        let stream = format!("generated/{seed}");
        let events = documents
            .iter()
            .map(|payload| NewEvent {
                event_type: "Generated".into(),
                schema_version: 1,
                payload: payload.clone(),
            })
            .collect();
        let append = StreamAppend {
            stream: stream.clone(),
            expected_version: 0,
            events,
            source: None,
        };
        log.append(&[append], &meta("generator")).await.unwrap();

        let stored: Vec<(Value,)> =
            sqlx::query_as("SELECT payload FROM events WHERE stream = $1 ORDER BY version")
                .bind(&stream)
                .fetch_all(&db.pool)
                .await
                .unwrap();
        for (document, (stored,)) in documents.iter().zip(stored) {
            assert_eq!(
                stored.to_string(),
                canonical(document.clone()).to_string(),
                "seed {seed}: {document}"
            );
        }
        let report = log.verify(Some(&stream)).await.unwrap();
        assert!(report.is_intact(), "seed {seed}: {:?}", report.breaks);
    }
}
