//! Writes a plan as `catalog-info.yaml` files the way teams lay them out: the
//! organisation and domains in shared files, one directory per system (the
//! System, its Resources and a Location naming its components), one file per
//! component (the Component and the APIs it provides), and a root Location.
//!
//! YAML is written by hand: every value is a plain word list or a safe name, and
//! the writer counts the references it writes as it goes.

use super::names::{Names, EDIT_MARK};
use super::plan::Plan;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PER_SHARED_FILE: usize = 200;

/// What was written.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CatalogStats {
    pub entities: usize,
    /// Location entities (the root and one per system with components), on top.
    pub locations: usize,
    pub files: usize,
    pub bytes: u64,
    pub references: usize,
    pub references_per_entity: f64,
    pub groups: usize,
    pub users: usize,
    pub domains: usize,
    pub systems: usize,
    pub components: usize,
    pub apis: usize,
    pub resources: usize,
}

struct Writer<'a> {
    plan: &'a Plan,
    names: Names<'a>,
    stats: CatalogStats,
}

fn header(out: &mut String, kind: &str, name: &str, description: &str) {
    if !out.is_empty() {
        out.push_str("---\n");
    }
    let _ = write!(
        out,
        "apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n  \
         description: '{description}'\n  tags:\n    - bench\nspec:\n"
    );
}

impl Writer<'_> {
    fn field(&mut self, out: &mut String, key: &str, value: &str) {
        let _ = writeln!(out, "  {key}: {value}");
        self.stats.references += 1;
    }

    fn list(&mut self, out: &mut String, key: &str, values: &[String]) {
        let _ = writeln!(out, "  {key}:");
        for value in values {
            let _ = writeln!(out, "    - {value}");
        }
        self.stats.references += values.len();
    }

    fn save(&mut self, path: &Path, text: &str) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)?;
        self.stats.files += 1;
        self.stats.bytes += text.len() as u64;
        Ok(())
    }

    fn groups(&mut self, out: &mut String, range: std::ops::Range<usize>) {
        for i in range {
            let group = &self.plan.groups[i];
            let name = self.names.group(i);
            header(out, "Group", &name, &self.names.description(i));
            let kind = match group.depth {
                0 => "organization",
                1 => "department",
                _ => "team",
            };
            let _ = writeln!(out, "  type: {kind}");
            let _ = write!(
                out,
                "  profile:\n    displayName: {name}\n    email: {name}@example.com\n"
            );
            if let Some(parent) = group.parent {
                self.field(out, "parent", &self.names.group(parent));
            }
            let children: Vec<String> = group
                .children
                .iter()
                .map(|&c| self.names.group(c))
                .collect();
            if children.is_empty() {
                out.push_str("  children: []\n");
            } else {
                self.list(out, "children", &children);
            }
        }
    }

    fn users(&mut self, out: &mut String, range: std::ops::Range<usize>) {
        for i in range {
            let name = self.names.user(i);
            header(out, "User", &name, "a person");
            let _ = write!(
                out,
                "  profile:\n    displayName: {name}\n    email: {name}@example.com\n"
            );
            let groups: Vec<String> = self.plan.users[i]
                .iter()
                .map(|&g| self.names.group(g))
                .collect();
            self.list(out, "memberOf", &groups);
        }
    }

    fn domains(&mut self, out: &mut String, range: std::ops::Range<usize>) {
        for i in range {
            let (owner, parent) = self.plan.domains[i];
            header(
                out,
                "Domain",
                &self.names.domain(i),
                &self.names.description(i + 101),
            );
            self.field(out, "owner", &self.names.group(owner));
            if let Some(parent) = parent {
                self.field(out, "subdomainOf", &self.names.domain(parent));
            }
        }
    }

    fn component(&mut self, out: &mut String, i: usize, edited: bool) {
        let c = &self.plan.components[i];
        let mut description = self.names.description(i + 211);
        if edited {
            description = format!("{description} {EDIT_MARK}");
        }
        header(out, "Component", &self.names.component(i), &description);
        out.push_str("  type: service\n  lifecycle: production\n");
        self.field(out, "owner", &self.names.group(c.owner));
        self.field(out, "system", &self.names.system(c.system));
        let mut depends: Vec<String> = c
            .depends_on_components
            .iter()
            .map(|&d| format!("component:{}", self.names.component(d)))
            .collect();
        depends.extend(
            c.depends_on_resources
                .iter()
                .map(|&r| format!("resource:{}", self.names.resource(r))),
        );
        if !depends.is_empty() {
            self.list(out, "dependsOn", &depends);
        }
        let provides: Vec<String> = c.provides.iter().map(|&a| self.names.api(a)).collect();
        if !provides.is_empty() {
            self.list(out, "providesApis", &provides);
        }
        let consumes: Vec<String> = c.consumes.iter().map(|&a| self.names.api(a)).collect();
        if !consumes.is_empty() {
            self.list(out, "consumesApis", &consumes);
        }
        for &api in &c.provides {
            header(
                out,
                "API",
                &self.names.api(api),
                &self.names.description(api + 307),
            );
            out.push_str("  type: openapi\n  lifecycle: production\n");
            out.push_str("  definition: |\n    openapi: 3.0.3\n    info:\n      title: bench\n      version: 1.0.0\n    paths: {}\n");
            self.field(out, "owner", &self.names.group(c.owner));
            self.field(out, "system", &self.names.system(c.system));
        }
    }

    fn system(&mut self, out: &mut String, s: usize) {
        let (owner, domain) = self.plan.systems[s];
        header(
            out,
            "System",
            &self.names.system(s),
            &self.names.description(s + 401),
        );
        self.field(out, "owner", &self.names.group(owner));
        self.field(out, "domain", &self.names.domain(domain));
        for &r in &self.plan.system_resources[s] {
            let resource = &self.plan.resources[r];
            header(
                out,
                "Resource",
                &self.names.resource(r),
                &self.names.description(r + 503),
            );
            out.push_str("  type: database\n");
            self.field(out, "owner", &self.names.group(resource.owner));
            self.field(out, "system", &self.names.system(s));
            if let Some(dependency) = resource.depends_on {
                self.list(
                    out,
                    "dependsOn",
                    &[format!("resource:{}", self.names.resource(dependency))],
                );
            }
        }
        let targets: Vec<String> = self.plan.system_components[s]
            .iter()
            .map(|&c| format!("./{}/catalog-info.yaml", self.names.component(c)))
            .collect();
        if !targets.is_empty() {
            location(
                out,
                &format!("{}-components", self.names.system(s)),
                &targets,
            );
            self.stats.locations += 1;
        }
    }
}

fn location(out: &mut String, name: &str, targets: &[String]) {
    header(out, "Location", name, "where the catalog lives");
    out.push_str("  type: file\n  targets:\n");
    for target in targets {
        let _ = writeln!(out, "    - {target}");
    }
}

/// The file of component `i`, relative to the catalog root.
pub fn component_file(plan: &Plan, i: usize) -> PathBuf {
    let names = Names::new(plan);
    PathBuf::from("systems")
        .join(names.system(plan.components[i].system))
        .join(names.component(i))
        .join("catalog-info.yaml")
}

/// Writes the whole catalog under `root`; `root/catalog-info.yaml` is its Location.
pub fn write_catalog(plan: &Plan, root: &Path) -> std::io::Result<CatalogStats> {
    let mut w = Writer {
        plan,
        names: Names::new(plan),
        stats: CatalogStats::default(),
    };
    let mut root_targets = Vec::new();
    let shared = [
        ("org/groups", plan.groups.len()),
        ("org/users", plan.users.len()),
        ("domains/domains", plan.domains.len()),
    ];
    for (prefix, count) in shared {
        for (file, start) in (0..count).step_by(PER_SHARED_FILE).enumerate() {
            let mut out = String::new();
            let range = start..(start + PER_SHARED_FILE).min(count);
            match prefix {
                "org/groups" => w.groups(&mut out, range),
                "org/users" => w.users(&mut out, range),
                _ => w.domains(&mut out, range),
            }
            let relative = format!("{prefix}-{file:04}.yaml");
            w.save(&root.join(&relative), &out)?;
            root_targets.push(format!("./{relative}"));
        }
    }
    for s in 0..plan.systems.len() {
        let mut out = String::new();
        w.system(&mut out, s);
        let relative = format!("systems/{}/catalog-info.yaml", w.names.system(s));
        w.save(&root.join(&relative), &out)?;
        root_targets.push(format!("./{relative}"));
    }
    for c in 0..plan.components.len() {
        let mut out = String::new();
        w.component(&mut out, c, false);
        w.save(&root.join(component_file(plan, c)), &out)?;
    }
    let mut out = String::new();
    location(&mut out, "bench-root", &root_targets);
    w.stats.locations += 1;
    w.save(&root.join("catalog-info.yaml"), &out)?;
    let mut stats = w.stats;
    stats.groups = plan.groups.len();
    stats.users = plan.users.len();
    stats.domains = plan.domains.len();
    stats.systems = plan.systems.len();
    stats.components = plan.components.len();
    stats.apis = plan.apis.len();
    stats.resources = plan.resources.len();
    stats.entities = plan.entities();
    stats.references_per_entity = stats.references as f64 / stats.entities.max(1) as f64;
    Ok(stats)
}

/// Rewrites the files of the given components with an edited description.
pub fn edit_components(plan: &Plan, root: &Path, components: &[usize]) -> std::io::Result<()> {
    let mut w = Writer {
        plan,
        names: Names::new(plan),
        stats: CatalogStats::default(),
    };
    for &c in components {
        let mut out = String::new();
        w.component(&mut out, c, true);
        w.save(&root.join(component_file(plan, c)), &out)?;
    }
    Ok(())
}
