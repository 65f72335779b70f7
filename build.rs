//! Embeds the demo catalog (`examples/demo`) in the binary, so `serve --demo` works
//! wherever the binary runs (an installed binary, a moved checkout).
//!
//! Writes `$OUT_DIR/demo_files.rs`: a list of `(relative path, include_bytes!(...))`.
//! A few lines of std instead of the `include_dir` crate: one dependency fewer, and the
//! list is plain data the binary writes out on start. It does not read or check the files.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("examples/demo");
    // A directory: cargo re-runs this script when any file under it changes.
    println!("cargo:rerun-if-changed=examples/demo");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under the root");
        let relative: Vec<_> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        out.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            relative.join("/"),
            file.display().to_string()
        ));
    }
    out.push_str("]\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(target.join("demo_files.rs"), out).expect("write demo_files.rs");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
