//! Who the database processes run as. `initdb` and `postgres` refuse to run as
//! root, so a root caller hands them to an unprivileged account.

use std::path::Path;

/// An account from `/etc/passwd`.
#[derive(Clone, Debug, PartialEq)]
pub struct OsUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The effective uid of this process, read from procfs (no libc needed).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    // "Uid:\treal\teffective\tsaved\tfs"
    line.split_whitespace().nth(2)?.parse().ok()
}

pub fn lookup(name: &str) -> Option<OsUser> {
    lookup_in(&std::fs::read_to_string("/etc/passwd").ok()?, name)
}

fn lookup_in(passwd: &str, name: &str) -> Option<OsUser> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let entry = fields.next()?;
        if entry != name {
            return None;
        }
        let _password = fields.next()?;
        Some(OsUser {
            name: entry.to_string(),
            uid: fields.next()?.parse().ok()?,
            gid: fields.next()?.parse().ok()?,
        })
    })
}

/// The account to run PostgreSQL as when we are root: `ALMANAC_PG_USER`, else
/// `postgres` (Debian's packages create it), else `nobody`.
pub fn database_user_for_root() -> Option<OsUser> {
    if let Ok(name) = std::env::var("ALMANAC_PG_USER") {
        return lookup(&name);
    }
    lookup("postgres").or_else(|| lookup("nobody"))
}

/// Gives `path` to `user`, so that PostgreSQL running as that user owns its files.
pub fn give_to(path: &Path, user: &OsUser) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_account_in_passwd_text() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104::/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            lookup_in(passwd, "postgres"),
            Some(OsUser {
                name: "postgres".into(),
                uid: 101,
                gid: 104
            })
        );
        assert_eq!(lookup_in(passwd, "post"), None);
    }
}
