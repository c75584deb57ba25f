//! The root file system of the test image, as a tar for `docker import`:
//! the host's `/bin/sleep` and `/bin/sh` (healthchecks run through a shell),
//! the libraries and loader `ldd` lists for them, and an empty `/tmp`.
//!
//! Shared by the e2e tests and `bench/docker-latency.rs`, hence std only.

use std::path::{Path, PathBuf};
use std::process::Command;

const BINARIES: [&str; 2] = ["/bin/sleep", "/bin/sh"];

/// Writes `rootfs.tar` into `dir` and returns its path.
pub fn rootfs_tar(dir: &Path) -> Result<PathBuf, String> {
    let root = dir.join("rootfs");
    let mut files: Vec<String> = BINARIES.iter().map(|b| b.to_string()).collect();
    for binary in BINARIES {
        let output = Command::new("ldd")
            .arg(binary)
            .output()
            .map_err(|e| format!("ldd {binary}: {e}"))?;
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            // `libc.so.6 => /lib/…/libc.so.6 (0x…)` or `/lib64/ld-linux….so.2 (0x…)`
            let path = line
                .split("=>")
                .last()
                .and_then(|rest| rest.split_whitespace().next())
                .filter(|p| p.starts_with('/'));
            if let Some(path) = path {
                files.push(path.to_string());
            }
        }
    }
    for file in &files {
        let target = root.join(file.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("mkdir for {file}: {e}"))?;
        }
        // Copies through symlinks: the image gets the real file.
        std::fs::copy(file, &target).map_err(|e| format!("copy {file}: {e}"))?;
    }
    std::fs::create_dir_all(root.join("tmp")).map_err(|e| format!("mkdir tmp: {e}"))?;
    let tar = dir.join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar exited with {status}"));
    }
    Ok(tar)
}
