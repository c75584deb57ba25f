//! Why berth may not open the Docker socket, said so the operator can fix
//! it: hyper reports only "client error (Connect)".
//!
//! The socket is usually `root:docker`, mode 660: whoever is in group
//! `docker` may use it (and so is root on the host in all but name). Read
//! from /proc and /etc rather than through libc, so the crate needs no
//! `unsafe` for an error message.

use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The socket berth was refused, and who berth is.
#[derive(Debug, thiserror::Error)]
#[error(
    "permission denied on the docker socket {path}{socket}: berth runs as uid {uid} ({user}), \
     groups {groups}; {fix}",
    path = path.display(),
    socket = socket.as_deref().map(|s| format!(" ({s})")).unwrap_or_default(),
    groups = if groups.is_empty() { "none".to_string() } else { groups.join(", ") },
)]
pub struct Denied {
    pub path: PathBuf,
    /// `owner root, group docker, mode 660`, when berth may stat it.
    pub socket: Option<String>,
    pub uid: u32,
    pub user: String,
    pub groups: Vec<String>,
    pub fix: String,
}

/// For a `unix://` endpoint berth could not connect to: `Some` when the
/// reason is that it may not.
pub async fn denied(endpoint: &str) -> Option<Denied> {
    let path = Path::new(endpoint.strip_prefix("unix://")?);
    let error = tokio::net::UnixStream::connect(path).await.err()?;
    if error.kind() != ErrorKind::PermissionDenied {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group_file = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let (uid, gids) = identity(&status);
    let user = name_of(&passwd, uid).unwrap_or_else(|| format!("uid {uid}"));
    let group_name = |gid: u32| name_of(&group_file, gid).unwrap_or_else(|| gid.to_string());
    let groups = gids.iter().map(|gid| group_name(*gid)).collect();
    let meta = std::fs::metadata(path).ok();
    let socket = meta.as_ref().map(|meta| {
        format!(
            "owner {}, group {}, mode {:o}",
            name_of(&passwd, meta.uid()).unwrap_or_else(|| meta.uid().to_string()),
            group_name(meta.gid()),
            meta.permissions().mode() & 0o777
        )
    });
    // The group to join: the socket's, if it lets its group in; else the
    // one Docker's packages create.
    let group = meta
        .filter(|meta| meta.permissions().mode() & 0o060 == 0o060 && meta.gid() != 0)
        .map_or_else(|| "docker".to_string(), |meta| group_name(meta.gid()));
    let fix = format!(
        "add {user} to group {group} (usermod -aG {group} {user}, then restart berth) or run \
         berth with that group (systemd: SupplementaryGroups={group}); the socket must be \
         group {group} with mode 660, as dockerd -G {group} makes it"
    );
    Some(Denied {
        path: path.to_path_buf(),
        socket,
        uid,
        user,
        groups,
        fix,
    })
}

/// The effective uid and the supplementary groups from /proc/self/status.
fn identity(status: &str) -> (u32, Vec<u32>) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect::<Vec<u32>>()
            })
            .unwrap_or_default()
    };
    // Real, effective, saved, filesystem: access is by the effective one.
    let uid = field("Uid:").get(1).copied().unwrap_or(u32::MAX);
    let mut groups = field("Gid:")
        .get(1)
        .copied()
        .into_iter()
        .collect::<Vec<_>>();
    for gid in field("Groups:") {
        if !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    (uid, groups)
}

/// The name /etc/passwd or /etc/group gives `id` (the third field).
fn name_of(file: &str, id: u32) -> Option<String> {
    file.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let number: u32 = fields.nth(1)?.parse().ok()?;
        (number == id && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_berth_runs_as() {
        let status = "Name:\tberth\nUid:\t1000\t65534\t65534\t65534\nGid:\t100\t65534\t65534\t65534\nGroups:\t27 65534 \n";
        assert_eq!(identity(status), (65534, vec![65534, 27]));
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n";
        assert_eq!(name_of(passwd, 65534).as_deref(), Some("nobody"));
        assert_eq!(name_of(passwd, 7), None);
        assert_eq!(name_of("docker:x:999:\n", 999).as_deref(), Some("docker"));
    }
}
