//! Finding the PostgreSQL server binaries: `ALMANAC_PG_BIN` if set (and only
//! there), else `PATH`, then Debian's `/usr/lib/postgresql/<version>/bin`
//! (newest first).

use super::EmbeddedError;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct PgBinaries {
    pub dir: PathBuf,
}

impl PgBinaries {
    pub fn locate() -> Result<Self, EmbeddedError> {
        // An explicit directory is authoritative: no silent fallback elsewhere.
        if let Some(dir) = std::env::var_os("ALMANAC_PG_BIN") {
            let dir = PathBuf::from(dir);
            return if has_server_binaries(&dir) {
                Ok(Self { dir })
            } else {
                Err(EmbeddedError::BinariesMissing)
            };
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path));
        }
        candidates.extend(debian_versions());
        candidates
            .into_iter()
            .find(|dir| has_server_binaries(dir))
            .map(|dir| Self { dir })
            .ok_or(EmbeddedError::BinariesMissing)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| dir.join(name).is_file())
}

fn debian_versions() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).collect()
}
