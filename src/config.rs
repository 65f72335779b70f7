//! Service configuration: a YAML file (`--config`), overridden by environment
//! variables, overridden by flags. Kept apart from the catalog YAML that ingest
//! reads: this file configures Almanac, descriptors describe the catalog.

use almanac_api::{AuthConfig, CorsConfig, GraphqlLimits, RateLimitConfig};
use almanac_ingest::refresh::ConfiguredLocation;
use almanac_ingest::{ReadLimits, ReadPolicy};
use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on; default `127.0.0.1:7007`.
    pub listen: Option<String>,
    pub database: DatabaseSettings,
    pub catalog: CatalogSettings,
    /// What one source read may hold (file bytes, documents, URL timeout).
    pub limits: ReadLimitSettings,
    /// Bearer tokens (sha-256 hashes only) and anonymous reads.
    pub auth: AuthConfig,
    /// GraphQL limits: depth, complexity, page size, timeout.
    pub graphql: GraphqlLimits,
    /// What URL reads may reach (`reading.allow`) and the headers sent to a host
    /// (`reading.credentials`); by default no URL is read.
    pub reading: ReadPolicy,
    /// The key that signs the log's checkpoints.
    pub signing: SigningSettings,
    /// Which browser origins may call the API and open its WebSocket
    /// (Backstage's `backend.cors` shape: `origin`, `methods`, `credentials`,
    /// `maxAge`); by default none.
    pub cors: CorsConfig,
    /// Requests per client (token subject, else peer address): a token bucket
    /// of `requests_per_second` (default 100; 0 turns it off, as does
    /// `ALMANAC_RATE_LIMIT_PER_SECOND=0`) and `burst` (default 200), for at most
    /// `max_clients` clients at once (default 10,000).
    pub rate_limit: RateLimitConfig,
}

/// `signing.key_path`: the Ed25519 key that signs checkpoints, created on first
/// start (mode 0600). Default `<data-dir>/signing.key`; `ALMANAC_SIGNING_KEY`
/// overrides. Keep it where the database's users cannot reach it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningSettings {
    pub key_path: Option<PathBuf>,
}

impl Settings {
    pub fn signing_key_path(&self) -> PathBuf {
        self.signing
            .key_path
            .clone()
            .unwrap_or_else(|| self.data_dir().join("signing.key"))
    }
}

/// What the catalog reads, Backstage-style: `catalog.locations` (each with its own
/// `rules`), `catalog.rules`, `catalog.orphanStrategy`; Backstage's other keys are
/// accepted and reported as ignored ([`CatalogSettings::ignored_keys`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CatalogSettings {
    pub locations: Vec<ConfiguredLocation>,
    /// Every registered location is read again this often (plus jitter).
    pub refresh_interval_seconds: u64,
    /// Backstage's `catalog.rules`: which kinds may be registered, and where. Absent:
    /// every built-in kind, nothing else.
    pub rules: Option<Vec<almanac_domain::Rule>>,
    /// Backstage's `catalog.orphanStrategy`: what happens to an entity its source no
    /// longer holds (`delete`, Almanac's default, or `keep`, Backstage's).
    #[serde(rename = "orphanStrategy")]
    pub orphan_strategy: Option<OrphanStrategy>,
    /// Every other key; only Backstage's ([`BACKSTAGE_CATALOG_KEYS`]) are accepted.
    #[serde(flatten)]
    pub other: std::collections::BTreeMap<String, serde_yaml::Value>,
}

pub use almanac_domain::decide::OrphanStrategy;

/// Keys of Backstage's `catalog` block that Almanac accepts and ignores (it processes
/// on reads and refreshes, stitches nothing, and has no providers or import flow).
pub const BACKSTAGE_CATALOG_KEYS: [&str; 9] = [
    "processingInterval",
    "stitchingStrategy",
    "providers",
    "import",
    "readonly",
    "processors",
    "orphanProviderStrategy",
    "useUrlReadersSearch",
    "disableRelationsCompatibility",
];

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            locations: Vec::new(),
            refresh_interval_seconds: 300,
            rules: None,
            orphan_strategy: None,
            other: Default::default(),
        }
    }
}

impl CatalogSettings {
    /// Backstage keys present and ignored, sorted (reported once at start).
    pub fn ignored_keys(&self) -> Vec<&str> {
        self.other.keys().map(String::as_str).collect()
    }

    /// The rules reads are judged by: `catalog.rules`, then each configured location's
    /// own `rules`, applying to what is read from its target (a file target made
    /// absolute as the location reads it).
    pub fn kind_rules(&self) -> almanac_domain::KindRules {
        let per_location = self
            .locations
            .iter()
            .filter(|location| !location.rules.is_empty())
            .map(|location| {
                let target = match location.location_type.as_str() {
                    "file" => almanac_ingest::read::absolute_path(&location.target),
                    _ => location.target.clone(),
                };
                (
                    location.location_type.clone(),
                    target,
                    location.rules.clone(),
                )
            });
        almanac_domain::KindRules::configured(self.rules.clone(), per_location)
    }

    /// One log line naming the Backstage keys present and ignored.
    pub fn report_ignored(&self) {
        let ignored = self.ignored_keys();
        if !ignored.is_empty() {
            tracing::info!(
                keys = %ignored.join(", "),
                "catalog settings of Backstage that Almanac does not use are ignored"
            );
        }
    }

    /// Refuses a key that neither Almanac nor Backstage knows (a typo).
    fn validate(&self) -> Result<(), String> {
        match self
            .other
            .keys()
            .find(|key| !BACKSTAGE_CATALOG_KEYS.contains(&key.as_str()))
        {
            Some(key) => Err(format!(
                "catalog.{key} is not a setting of Almanac or of Backstage's catalog"
            )),
            None => Ok(()),
        }
    }
}

/// `limits:`: bounds on what one source read may hold; see
/// `almanac_ingest::ReadLimits`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadLimitSettings {
    pub max_file_bytes: Option<u64>,
    pub max_documents: Option<usize>,
    pub url_timeout_seconds: Option<u64>,
}

impl ReadLimitSettings {
    pub fn read_limits(&self) -> ReadLimits {
        let mut limits = ReadLimits::default();
        if let Some(bytes) = self.max_file_bytes {
            limits.max_file_bytes = bytes;
        }
        if let Some(documents) = self.max_documents {
            limits.max_documents = documents;
        }
        if let Some(seconds) = self.url_timeout_seconds {
            limits.url_timeout = std::time::Duration::from_secs(seconds);
        }
        limits
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// The server's connection (a role with SELECT and INSERT on the log).
    pub url: Option<String>,
    /// The schema owner's connection, for migrations; defaults to `url`.
    pub owner_url: Option<String>,
    /// Where the embedded database lives when no URL is set.
    pub data_dir: Option<PathBuf>,
    /// How `serve` watches and restarts the embedded database.
    pub supervisor: SupervisorSettings,
}

/// `database.supervisor`: see `almanac_store::embedded::Supervision`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisorSettings {
    /// How often the postmaster is checked.
    pub check_interval_ms: u64,
    /// Restart attempts allowed within the window; the next death makes
    /// `serve` exit non-zero.
    pub max_restarts: u32,
    pub restart_window_seconds: u64,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        let defaults = almanac_store::embedded::Supervision::default();
        Self {
            check_interval_ms: defaults.interval.as_millis() as u64,
            max_restarts: defaults.max_restarts,
            restart_window_seconds: defaults.window.as_secs(),
        }
    }
}

impl SupervisorSettings {
    pub fn supervision(&self) -> almanac_store::embedded::Supervision {
        almanac_store::embedded::Supervision {
            interval: std::time::Duration::from_millis(self.check_interval_ms.max(10)),
            max_restarts: self.max_restarts,
            window: std::time::Duration::from_secs(self.restart_window_seconds),
        }
    }
}

// URLs may carry passwords: never print them.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("owner_url", &self.owner_url.as_ref().map(|_| "<set>"))
            .field("data_dir", &self.data_dir)
            .field("supervisor", &self.supervisor)
            .finish()
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7007";
pub const DEFAULT_DATA_DIR: &str = ".almanac";

impl Settings {
    pub fn load(file: Option<&Path>, data_dir_flag: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read configuration {}", path.display()))?;
                serde_yaml::from_str(&text)
                    .with_context(|| format!("configuration {} is not valid", path.display()))?
            }
            None => Settings::default(),
        };
        if let Ok(url) = std::env::var("DATABASE_URL") {
            settings.database.url = Some(url);
        }
        if let Ok(url) = std::env::var("ALMANAC_OWNER_DATABASE_URL") {
            settings.database.owner_url = Some(url);
        }
        if let Ok(listen) = std::env::var("ALMANAC_LISTEN") {
            settings.listen = Some(listen);
        }
        if let Ok(path) = std::env::var("ALMANAC_SIGNING_KEY") {
            settings.signing.key_path = Some(PathBuf::from(path));
        }
        if let Ok(rate) = std::env::var("ALMANAC_RATE_LIMIT_PER_SECOND") {
            settings.rate_limit.requests_per_second = rate.trim().parse().with_context(|| {
                format!("ALMANAC_RATE_LIMIT_PER_SECOND must be a number of requests per second (0: off), got {rate:?}")
            })?;
        }
        if let Some(dir) = data_dir_flag {
            settings.database.data_dir = Some(dir);
        }
        settings
            .reading
            .validate()
            .map_err(anyhow::Error::msg)
            .context("the reading section of the configuration is not valid")?;
        settings
            .catalog
            .validate()
            .map_err(anyhow::Error::msg)
            .context("the catalog section of the configuration is not valid")?;
        settings
            .cors
            .validate()
            .map_err(anyhow::Error::msg)
            .context("the cors section of the configuration is not valid")?;
        settings
            .rate_limit
            .validate()
            .map_err(anyhow::Error::msg)
            .context("the rate_limit section of the configuration is not valid")?;
        Ok(settings)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.database
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

#[cfg(test)]
mod reading_tests {
    use super::Settings;

    pub(super) fn load(text: &str) -> anyhow::Result<Settings> {
        let path = std::env::temp_dir().join(format!(
            "almanac-config-reading-{}-{}.yaml",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text)?;
        let loaded = Settings::load(Some(&path), None);
        let _ = std::fs::remove_file(&path);
        loaded
    }

    #[test]
    fn the_reading_section_lists_hosts_and_credentials_and_defaults_to_nothing() {
        let settings = load(
            "reading:\n  allow:\n    - host: git.example.com\n    - host: '*.corp.example'\n      \
             paths: [/catalog/]\n    - host: git.internal.example\n      private: true\n  \
             credentials:\n    - host: git.internal.example\n      token: s3cret\n",
        )
        .expect("valid configuration");
        let hosts: Vec<&str> = settings
            .reading
            .allow
            .iter()
            .map(|rule| rule.host.as_str())
            .collect();
        assert_eq!(
            hosts,
            ["git.example.com", "*.corp.example", "git.internal.example"]
        );
        assert_eq!(settings.reading.allow[1].paths, ["/catalog/"]);
        assert!(settings.reading.allow[2].private);
        assert!(!format!("{settings:?}").contains("s3cret"));

        let empty = load("listen: 127.0.0.1:7007\n").expect("valid configuration");
        assert!(empty.reading.allow.is_empty());
    }

    #[test]
    fn a_bad_reading_entry_stops_the_start_naming_it() {
        let error = load("reading:\n  allow:\n    - host: 'a.*.example'\n")
            .expect_err("a wildcard inside a host");
        assert_eq!(
            format!("{error:#}"),
            "the reading section of the configuration is not valid: reading.allow: host \
             \"a.*.example\" is not a host, *.domain or *"
        );
        assert!(load("reading:\n  allow:\n    - hots: x\n").is_err());
    }
}

#[cfg(test)]
mod cors_tests {
    use super::reading_tests::load;

    #[test]
    fn the_cors_section_takes_backstages_shape_and_names_a_bad_origin() {
        let settings = load(
            "cors:\n  origin: [http://localhost:3000, 'https://*.corp.example']\n  \
             methods: [GET, POST]\n  credentials: true\n  maxAge: 600\n",
        )
        .expect("valid configuration");
        assert_eq!(
            settings.cors.origin,
            ["http://localhost:3000", "https://*.corp.example"]
        );
        assert!(settings.cors.credentials);
        assert_eq!(settings.cors.max_age, Some(600));
        let one = load("cors:\n  origin: http://localhost:3000\n").expect("one origin");
        assert_eq!(one.cors.origin, ["http://localhost:3000"]);
        assert_eq!(one.cors.methods, ["GET", "POST"]);
        assert!(load("listen: 127.0.0.1:7007\n")
            .expect("valid")
            .cors
            .origin
            .is_empty());
        let error = load("cors:\n  origin: [http://localhost:3000/]\n").expect_err("a path");
        assert_eq!(
            format!("{error:#}"),
            "the cors section of the configuration is not valid: cors.origin[0]: \
             \"http://localhost:3000/\" must be scheme://host[:port] with no path or trailing slash"
        );
    }
}

#[cfg(test)]
mod rate_limit_tests {
    use super::reading_tests::load;

    #[test]
    fn the_rate_limit_is_on_by_default_and_a_bad_value_is_named() {
        let default = load("listen: 127.0.0.1:7007\n").expect("valid");
        assert_eq!(default.rate_limit.requests_per_second, 100.0);
        assert_eq!(default.rate_limit.burst, 200);
        assert_eq!(default.rate_limit.max_clients, 10_000);
        let off = load("rate_limit:\n  requests_per_second: 0\n").expect("off");
        assert!(off.rate_limit.is_off());
        let set = load("rate_limit:\n  requests_per_second: 5\n  burst: 10\n").expect("set");
        assert_eq!(
            (set.rate_limit.requests_per_second, set.rate_limit.burst),
            (5.0, 10)
        );
        let error = load("rate_limit:\n  requests_per_second: -1\n").expect_err("negative");
        assert_eq!(
            format!("{error:#}"),
            "the rate_limit section of the configuration is not valid: \
             rate_limit.requests_per_second must be 0 (off) or more, got -1"
        );
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::reading_tests::load;
    use super::OrphanStrategy;
    use almanac_domain::Kind;

    /// A Backstage app-config.yaml's catalog block, as a real app has it.
    const APP_CONFIG: &str = "catalog:\n  processingInterval: { minutes: 30 }\n  \
        orphanStrategy: delete\n  stitchingStrategy: { mode: deferred }\n  import:\n    \
        entityFilename: catalog-info.yaml\n    pullRequestBranchName: backstage-integration\n  \
        rules:\n    - allow: [Component, System, API, Resource, Location]\n  providers:\n    \
        github:\n      org: { organization: example }\n  locations:\n    - type: file\n      \
        target: /srv/catalog/org.yaml\n      rules:\n        - allow: [User, Group]\n    \
        - type: url\n      target: https://git.example.com/catalog-info.yaml\n";

    #[test]
    fn a_backstage_app_config_catalog_block_loads() {
        let settings = load(APP_CONFIG).expect("Backstage's catalog block");
        let catalog = &settings.catalog;
        assert_eq!(catalog.orphan_strategy, Some(OrphanStrategy::Delete));
        assert_eq!(catalog.locations.len(), 2);
        assert_eq!(catalog.locations[0].rules[0].allow, ["User", "Group"]);
        assert_eq!(
            catalog.ignored_keys(),
            [
                "import",
                "processingInterval",
                "providers",
                "stitchingStrategy"
            ]
        );
        let rules = catalog.kind_rules();
        let group = almanac_domain::Entity::from_value(serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": {"name": "admins"}, "spec": {"type": "team", "children": []}
        }))
        .expect("a group");
        assert_eq!(group.kind(), &Kind::Group);
        assert!(rules.check(&group, "file:/srv/catalog/org.yaml").is_ok());
        assert!(rules
            .check(&group, "url:https://git.example.com/catalog-info.yaml")
            .is_err());
    }

    #[test]
    fn a_key_neither_almanac_nor_backstage_knows_is_refused() {
        let error = load("catalog:\n  refresh_interval_secnds: 5\n").expect_err("a typo");
        assert!(
            format!("{error:#}").contains("catalog.refresh_interval_secnds"),
            "{error:#}"
        );
        let keep = load("catalog:\n  orphanStrategy: keep\n").expect("keep");
        assert_eq!(keep.catalog.orphan_strategy, Some(OrphanStrategy::Keep));
        assert!(load("catalog:\n  orphanStrategy: sometimes\n").is_err());
    }
}
