//! Names and descriptions for a plan's entities: plain words from a fixed
//! vocabulary, picked by each entity's word seed, with the index appended so
//! every name is unique. The same plan always gets the same names.

use super::plan::Plan;

const WORDS: &[&str] = &[
    "amber", "anchor", "arrow", "atlas", "aurora", "badger", "basalt", "beacon", "birch", "bison",
    "bolt", "breeze", "bridge", "canyon", "cargo", "cedar", "cobalt", "comet", "coral", "crane",
    "delta", "dune", "eagle", "ember", "falcon", "fern", "fjord", "flint", "fox", "galena",
    "garnet", "glacier", "granite", "harbor", "hawk", "heron", "indigo", "iris", "jade", "juniper",
    "kestrel", "lagoon", "lantern", "ledger", "lynx", "maple", "marble", "meadow", "mesa",
    "nebula", "nickel", "oak", "onyx", "orbit", "osprey", "otter", "pebble", "pine", "pixel",
    "quartz", "quill", "raven", "reef", "ridge", "river", "saffron", "sage", "signal", "slate",
    "sparrow", "spruce", "summit", "tern", "thistle", "tide", "timber", "topaz", "tundra", "umber",
    "vale", "vector", "willow", "wren", "yarrow", "zephyr", "zinc",
];

const NOUNS: &[&str] = &[
    "billing",
    "shipping",
    "routing",
    "tracking",
    "invoices",
    "payments",
    "search",
    "catalog",
    "pricing",
    "inventory",
    "accounts",
    "sessions",
    "reports",
    "alerts",
    "exports",
    "imports",
    "metrics",
    "profiles",
    "orders",
    "returns",
    "quotes",
    "labels",
    "manifests",
    "customs",
];

/// The search term the text-search scenario looks for: one noun in 24.
pub const SEARCH_TERM: &str = "customs";

/// Marks the description of an edited entity.
pub const EDIT_MARK: &str = "(edited by the benchmark)";

fn word(seed: u32, salt: u32) -> &'static str {
    let mixed = seed.wrapping_mul(2_654_435_761).rotate_left(salt * 7) ^ salt;
    WORDS[mixed as usize % WORDS.len()]
}

fn noun(seed: u32) -> &'static str {
    NOUNS[(seed >> 8) as usize % NOUNS.len()]
}

pub struct Names<'a> {
    plan: &'a Plan,
}

impl<'a> Names<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        Self { plan }
    }

    fn seed(&self, slot: usize) -> u32 {
        self.plan.words[slot % self.plan.words.len()]
    }

    pub fn group(&self, i: usize) -> String {
        match i {
            0 => "org".to_string(),
            _ => format!("team-{}-{i}", word(self.seed(i), 1)),
        }
    }

    pub fn user(&self, i: usize) -> String {
        let seed = self.seed(i + 7);
        format!("{}.{}-{i}", word(seed, 2), word(seed, 3))
    }

    pub fn domain(&self, i: usize) -> String {
        format!("{}-domain-{i}", noun(self.seed(i + 11)))
    }

    pub fn system(&self, i: usize) -> String {
        format!(
            "{}-{}-{i}",
            word(self.seed(i + 13), 4),
            noun(self.seed(i + 13))
        )
    }

    pub fn component(&self, i: usize) -> String {
        let seed = self.seed(i + 17);
        format!("{}-{}-{i}", word(seed, 5), noun(seed))
    }

    pub fn api(&self, i: usize) -> String {
        format!("{}-api-{i}", noun(self.seed(i + 19)))
    }

    pub fn resource(&self, i: usize) -> String {
        match i {
            0 => "shared-postgres".to_string(),
            _ => format!("{}-store-{i}", word(self.seed(i + 23), 6)),
        }
    }

    /// Six words: two plain ones, a noun, three more.
    pub fn description(&self, slot: usize) -> String {
        let seed = self.seed(slot + 29);
        format!(
            "{} {} service for {} with {} {} and {}",
            word(seed, 7),
            word(seed, 8),
            noun(seed),
            word(seed, 9),
            word(seed, 10),
            word(seed, 11)
        )
    }
}
