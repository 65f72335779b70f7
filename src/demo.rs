//! The demo catalog (`examples/demo`), embedded in the binary at build time (see
//! `build.rs`), and written out for `serve --demo`.
//!
//! It writes the files and names the root descriptor; it does not read or check them
//! (that is ingest's job, under the same file-root rules as any other location).

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Every file of `examples/demo`: path relative to its root (`/`-separated), contents.
const FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

/// Writes the demo afresh into `<data_dir>/demo/` (whatever was there is removed, so a
/// newer binary never serves an older demo's leftovers) and returns its root descriptor.
pub fn write_into(data_dir: &Path) -> anyhow::Result<PathBuf> {
    // Absolute: the location's key and file root must not depend on the working directory.
    let root = std::path::absolute(data_dir.join("demo"))
        .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    match std::fs::remove_dir_all(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot clear {}", root.display())),
    }
    for (relative, contents) in FILES {
        let path = relative
            .split('/')
            .fold(root.clone(), |path, part| path.join(part));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root.join("catalog-info.yaml"))
}
