//! Almanac itself runs unprivileged on the embedded database: as an ordinary account that
//! owns the data directory, `almanac ingest` initialises, starts, uses and stops its own
//! PostgreSQL (no root, no second account), and everything it creates belongs to that
//! account. Run as root, the test drops to `nobody` with `runuser`; otherwise the test
//! process is already unprivileged and runs the binary as itself.

use super::support::{almanac, scratch_dir};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// `(uid, name)` of `nobody` from /etc/passwd.
fn nobody() -> Option<(u32, String)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|line| line.starts_with("nobody:"))?;
    let uid = line.split(':').nth(2)?.parse().ok()?;
    Some((uid, "nobody".to_string()))
}

fn chown_tree(path: &Path, uid: u32) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(uid.to_string())
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ingest_runs_as_an_unprivileged_user_owning_the_data_directory() {
    let dir = scratch_dir("unprivileged");
    let data = dir.join("data");
    let catalog = dir.join("catalog-info.yaml");
    std::fs::write(
        &catalog,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: plain\n\
         spec: { type: service, lifecycle: production, owner: team-a }\n",
    )
    .unwrap();
    let as_root = almanac_store::embedded::effective_uid() == Some(0);
    let (uid, out) = if as_root {
        let (uid, name) = nobody().expect("a `nobody` account to run as");
        chown_tree(&dir, uid);
        let mut command = Command::new("runuser");
        command.arg("-u").arg(&name).arg("--");
        let base = almanac();
        command.arg(base.get_program());
        for (key, value) in base.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let out = command
            .arg("--data-dir")
            .arg(&data)
            .arg("ingest")
            .arg(&catalog)
            .output()
            .unwrap();
        (uid, out)
    } else {
        let uid = std::fs::metadata(&dir).unwrap().uid();
        let out = almanac()
            .arg("--data-dir")
            .arg(&data)
            .arg("ingest")
            .arg(&catalog)
            .output()
            .unwrap();
        (uid, out)
    };

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("1 registered"), "{stdout}");
    assert!(!stderr.contains("runs as root"), "{stderr}");
    for path in [
        data.clone(),
        data.join("pg"),
        data.join("pg/PG_VERSION"),
        data.join("socket"),
        data.join("postgresql.log"),
    ] {
        assert_eq!(
            std::fs::metadata(&path).unwrap().uid(),
            uid,
            "{} belongs to the account Almanac ran as",
            path.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
