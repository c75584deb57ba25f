//! deploy/systemd/berth.service as `systemd-analyze verify` sees it: no
//! error and no warning (an unknown or misspelt key is only a warning).

use std::process::Command;

use super::deploy_dir;
use crate::support::require;

const INSTALLED_AT: &str = "/usr/local/bin/berth";

#[test]
fn systemd_unit_verifies_clean() {
    if !require("systemd-analyze") {
        return;
    }
    let unit = std::fs::read_to_string(deploy_dir().join("systemd/berth.service"))
        .expect("read berth.service");
    for setting in [
        "DynamicUser=yes",
        "SupplementaryGroups=docker",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "ExecReload=kill -HUP $MAINPID",
    ] {
        assert!(
            unit.lines().any(|line| line == setting),
            "berth.service lacks {setting}"
        );
    }
    // verify checks that ExecStart's binary exists: point it at the one
    // just built instead of the installed path.
    assert!(unit.contains(&format!("ExecStart={INSTALLED_AT}")));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("berth.service");
    std::fs::write(
        &path,
        unit.replace(INSTALLED_AT, env!("CARGO_BIN_EXE_berth")),
    )
    .expect("write unit");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success() && said.trim().is_empty(), "{said}");
}
