//! The shape of a synthetic catalog: how many entities of each kind, and who
//! refers to whom, drawn from a seeded generator so one seed gives one catalog.
//!
//! Indices only: names and YAML are the writer's business. Proportions follow
//! issue 7 (5% groups, 10% users, 1% domains, 4% systems, 50% components, 20%
//! APIs, 10% resources); the reference mix averages about 4 per entity.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The resource every component is most likely to depend on (`shared-postgres`).
pub const WIDELY_USED_RESOURCE: usize = 0;

#[derive(Clone, Debug)]
pub struct Group {
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub depth: u32,
}

#[derive(Clone, Debug)]
pub struct Component {
    pub owner: usize,
    pub system: usize,
    pub depends_on_components: Vec<usize>,
    pub depends_on_resources: Vec<usize>,
    pub provides: Vec<usize>,
    pub consumes: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub owner: usize,
    pub system: usize,
    pub depends_on: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub groups: Vec<Group>,
    /// Per user: the groups it is a member of (1 to 3).
    pub users: Vec<Vec<usize>>,
    /// Per domain: (owner group, parent domain).
    pub domains: Vec<(usize, Option<usize>)>,
    /// Per system: (owner group, domain).
    pub systems: Vec<(usize, usize)>,
    pub components: Vec<Component>,
    /// Per API: the component that provides it.
    pub apis: Vec<usize>,
    pub resources: Vec<Resource>,
    /// Per system: its components and its resources.
    pub system_components: Vec<Vec<usize>>,
    pub system_resources: Vec<Vec<usize>>,
    /// A per-entity word seed for names and descriptions.
    pub words: Vec<u32>,
}

fn share(entities: usize, percent: usize) -> usize {
    (entities * percent / 100).max(1)
}

impl Plan {
    pub fn new(entities: usize, seed: u64) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed);
        let (g, u, d, s) = (
            share(entities, 5),
            share(entities, 10),
            share(entities, 1),
            share(entities, 4),
        );
        let (c, a) = (share(entities, 50), share(entities, 20));
        let r = entities.saturating_sub(g + u + d + s + c + a).max(1);
        let groups = group_tree(g);
        let users = (0..u)
            .map(|_| {
                let count = rng.gen_range(1..=3.min(g));
                rand::seq::index::sample(&mut rng, g, count).into_vec()
            })
            .collect();
        let domains = (0..d)
            .map(|i| {
                let parent = (i > 0 && rng.gen_bool(0.3)).then(|| rng.gen_range(0..i));
                (rng.gen_range(0..g), parent)
            })
            .collect();
        let systems: Vec<(usize, usize)> = (0..s)
            .map(|_| (rng.gen_range(0..g), rng.gen_range(0..d)))
            .collect();
        let resources: Vec<Resource> = (0..r)
            .map(|i| Resource {
                owner: rng.gen_range(0..g),
                system: i % s,
                depends_on: (i > 0 && rng.gen_bool(0.5)).then(|| {
                    if rng.gen_bool(0.3) {
                        WIDELY_USED_RESOURCE
                    } else {
                        rng.gen_range(0..i)
                    }
                }),
            })
            .collect();
        let mut system_resources = vec![Vec::new(); s];
        for (i, resource) in resources.iter().enumerate() {
            system_resources[resource.system].push(i);
        }
        let mut system_components = vec![Vec::new(); s];
        let mut components = Vec::with_capacity(c);
        for i in 0..c {
            let system = rng.gen_range(0..s);
            let mut depends_on_components: Vec<usize> = Vec::new();
            for _ in 0..rng.gen_range(0..=2) {
                let peers = &system_components[system];
                let pick = match peers.choose(&mut rng) {
                    Some(&peer) => Some(peer),
                    None if i > 0 => Some(rng.gen_range(0..i)),
                    None => None,
                };
                if let Some(pick) = pick.filter(|p| !depends_on_components.contains(p)) {
                    depends_on_components.push(pick);
                }
            }
            let mut depends_on_resources: Vec<usize> = Vec::new();
            for _ in 0..rng.gen_range(0..=2) {
                let pick = if rng.gen_bool(0.15) {
                    WIDELY_USED_RESOURCE
                } else {
                    match system_resources[system].choose(&mut rng) {
                        Some(&own) => own,
                        None => rng.gen_range(0..r),
                    }
                };
                if !depends_on_resources.contains(&pick) {
                    depends_on_resources.push(pick);
                }
            }
            system_components[system].push(i);
            components.push(Component {
                owner: rng.gen_range(0..g),
                system,
                depends_on_components,
                depends_on_resources,
                provides: Vec::new(),
                consumes: Vec::new(),
            });
        }
        let apis: Vec<usize> = (0..a).map(|_| rng.gen_range(0..c)).collect();
        for (api, &provider) in apis.iter().enumerate() {
            components[provider].provides.push(api);
        }
        for component in &mut components {
            let count = rng.gen_range(0..=3).min(a);
            let consumes = rand::seq::index::sample(&mut rng, a, count).into_vec();
            component.consumes = consumes
                .into_iter()
                .filter(|api| !component.provides.contains(api))
                .collect();
        }
        let words = (0..entities * 2).map(|_| rng.gen()).collect();
        Plan {
            groups,
            users,
            domains,
            systems,
            components,
            apis,
            resources,
            system_components,
            system_resources,
            words,
        }
    }

    /// Entities the plan describes (Location entities not included).
    pub fn entities(&self) -> usize {
        self.groups.len()
            + self.users.len()
            + self.domains.len()
            + self.systems.len()
            + self.components.len()
            + self.apis.len()
            + self.resources.len()
    }
}

/// A 4-ary tree: group 0 is the organisation, group i's parent is (i - 1) / 4.
fn group_tree(count: usize) -> Vec<Group> {
    let mut groups: Vec<Group> = (0..count)
        .map(|i| Group {
            parent: (i > 0).then(|| (i - 1) / 4),
            children: Vec::new(),
            depth: 0,
        })
        .collect();
    for i in 1..count {
        let parent = (i - 1) / 4;
        groups[parent].children.push(i);
        groups[i].depth = groups[parent].depth + 1;
    }
    groups
}
