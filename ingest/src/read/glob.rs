//! Glob targets of file Locations, as Backstage expands them: `target:
//! ./plugins/**/catalog-info.yaml` (`*` within a path segment, `**` across segments),
//! relative to the Location's own file, becomes one target per matching file.
//!
//! The walk starts at the target's directory part (before the first segment holding a
//! glob character), which must lie inside the source's root (after `..` and symbolic
//! links are resolved); links inside the tree are not followed (`directory::walk`), and
//! more than [`ReadLimits::max_glob_matches`] files fail the target with a message that
//! names the limit. It reads no file: each match is read as an ordinary target.

use std::path::{Component, Path, PathBuf};

use almanac_domain::rules::has_glob;

use super::address::Address;
use super::fetch::FetchError;
use super::location::Target;
use super::{directory, root};

/// `Some((directory, glob))` when `path` holds a glob: the directory before the first
/// segment with a glob character, and the rest as a `/`-separated glob.
pub(crate) fn split(path: &Path) -> Option<(PathBuf, String)> {
    let mut base = PathBuf::new();
    let mut rest: Vec<String> = Vec::new();
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        if rest.is_empty() && !(matches!(component, Component::Normal(_)) && has_glob(&text)) {
            base.push(component.as_os_str());
        } else {
            rest.push(text.into_owned());
        }
    }
    (!rest.is_empty()).then(|| (base, rest.join("/")))
}

/// The directory and glob of a file target that holds one (no IO).
fn glob_of(target: &Target) -> Option<(PathBuf, String)> {
    match &target.address {
        Ok(Address::File(path)) => split(path),
        _ => None,
    }
}

/// Whether `target` is a file target holding a glob, the only kind [`expand`] walks for.
pub(crate) fn holds_glob(target: &Target) -> bool {
    glob_of(target).is_some()
}

/// The files a glob target matches, each as a target of its own (sorted); `Ok(None)`
/// when the target holds no glob. Blocking IO: run it on the blocking pool.
pub(crate) fn expand(
    target: &Target,
    within: Option<&Path>,
    max_matches: usize,
) -> Result<Option<Vec<Target>>, String> {
    let Some((base, glob)) = glob_of(target) else {
        return Ok(None);
    };
    let base = match within {
        Some(root) => match root::inside(&base, root) {
            Ok(base) => base,
            Err(FetchError::NotFound(_)) => return no_match(target),
            Err(error) => return Err(error.message().to_string()),
        },
        None => base,
    };
    if !base.is_dir() {
        return no_match(target);
    }
    let walked = directory::walk(&base, &glob, max_matches).map_err(|message| {
        if message.starts_with("more than") {
            format!(
                "the glob matches more than {max_matches} files (limits.max_glob_matches); \
                 narrow it or raise the limit"
            )
        } else {
            message
        }
    })?;
    if walked.files.is_empty() {
        return no_match(target);
    }
    Ok(Some(
        walked
            .files
            .into_iter()
            .map(|file| {
                let address = Address::File(file);
                Target {
                    key: address.key(),
                    address: Ok(address),
                    optional: target.optional,
                    declared_by: target.declared_by.clone(),
                }
            })
            .collect(),
    ))
}

/// A glob that matches nothing: nothing to read if optional, else a failure (as
/// Backstage reports a required target that does not exist).
fn no_match(target: &Target) -> Result<Option<Vec<Target>>, String> {
    if target.optional {
        Ok(Some(Vec::new()))
    } else {
        Err("no file matches the glob".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_path_splits_at_its_first_glob_segment() {
        assert_eq!(
            split(Path::new("/repo/plugins/**/catalog-info.yaml")),
            Some((
                PathBuf::from("/repo/plugins"),
                "**/catalog-info.yaml".into()
            ))
        );
        assert_eq!(
            split(Path::new("/repo/a/*.yaml")),
            Some((PathBuf::from("/repo/a"), "*.yaml".into()))
        );
        assert_eq!(split(Path::new("/repo/a/catalog-info.yaml")), None);
    }
}
