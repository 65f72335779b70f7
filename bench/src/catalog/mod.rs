//! The synthetic catalog: a seeded [`plan::Plan`] written as `catalog-info.yaml`
//! files under a directory, plus what the query scenarios need to know about it
//! (which refs exist, which group sits mid-tree, which resource is widely used).
//!
//! It touches only its own directory; it knows nothing of Almanac's internals.

mod names;
mod plan;
mod write;

pub use names::{EDIT_MARK, SEARCH_TERM};
pub use write::CatalogStats;

use names::Names;
use plan::{Plan, WIDELY_USED_RESOURCE};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

pub struct Catalog {
    plan: Plan,
    seed: u64,
    pub root: PathBuf,
    pub stats: CatalogStats,
}

impl Catalog {
    /// Plans `entities` entities from `seed` and writes them under `dir`.
    pub fn generate(entities: usize, seed: u64, dir: &Path) -> std::io::Result<Catalog> {
        let plan = Plan::new(entities, seed);
        let stats = write::write_catalog(&plan, dir)?;
        Ok(Catalog {
            plan,
            seed,
            root: dir.join("catalog-info.yaml"),
            stats,
        })
    }

    /// Edits the description of one component in each of 1% of the files (at
    /// least one); returns the canonical refs of the edited components.
    pub fn edit_one_percent(&self) -> std::io::Result<Vec<String>> {
        let count = self
            .stats
            .files
            .div_ceil(100)
            .min(self.plan.components.len());
        let mut rng = StdRng::seed_from_u64(self.seed ^ 0x0ed1_7ed1);
        let mut chosen =
            rand::seq::index::sample(&mut rng, self.plan.components.len(), count).into_vec();
        chosen.sort_unstable();
        let dir = self.root.parent().unwrap_or(Path::new("."));
        write::edit_components(&self.plan, dir, &chosen)?;
        Ok(chosen.iter().map(|&c| self.component_ref(c)).collect())
    }

    pub fn component_count(&self) -> usize {
        self.plan.components.len()
    }

    /// `component:default/<name>` of component `i`.
    pub fn component_ref(&self, i: usize) -> String {
        format!("component:default/{}", Names::new(&self.plan).component(i))
    }

    pub fn group_ref(&self, i: usize) -> String {
        format!("group:default/{}", Names::new(&self.plan).group(i))
    }

    /// Groups three levels below the organisation (each owns, with its
    /// subgroups, about 1/64 of the catalog), or the deepest level there is.
    pub fn mid_level_groups(&self) -> Vec<usize> {
        let groups = &self.plan.groups;
        let deepest = groups.iter().map(|g| g.depth).max().unwrap_or(0);
        let depth = deepest.min(3);
        (0..groups.len())
            .filter(|&g| groups[g].depth == depth)
            .collect()
    }

    pub fn widely_used_resource_ref(&self) -> String {
        format!(
            "resource:default/{}",
            Names::new(&self.plan).resource(WIDELY_USED_RESOURCE)
        )
    }
}
