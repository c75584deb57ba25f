//! SOA serials across restarts (`--state-dir`): a serial is
//! `max(serial + 1, unix time)`, so after a burst of changes it runs ahead
//! of the clock; a restart must carry on above it, never repeat or lower a
//! serial a secondary already holds (RFC 1982 comparison, RFC 1996 NOTIFY).
//! The state file is seeded with a serial far ahead of the clock: only a
//! berth that read it can serve a serial above it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::Berth;
use crate::support::secondary::serial;

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// The serial the state file gives `apps.local.`, if it does.
fn saved(dir: &std::path::Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("serials")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("apps.local. "))
        .and_then(|serial| serial.trim().parse().ok())
}

#[test]
fn a_restart_serves_a_serial_above_the_last_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    let ahead = now() + 1_000_000;
    std::fs::write(state.join("serials"), format!("apps.local. {ahead}\n")).expect("seed");
    let state_dir = state.to_str().expect("utf-8 path");

    let first = {
        let berth = Berth::start(&["--state-dir", state_dir]);
        let first = serial(berth.addr, "apps.local.").expect("a SOA serial");
        assert_eq!(first, ahead.wrapping_add(1));
        first
    };
    // Stopped: the file holds what it served.
    assert_eq!(saved(&state), Some(first));

    let berth = Berth::start(&["--state-dir", state_dir]);
    let second = serial(berth.addr, "apps.local.").expect("a SOA serial");
    assert_eq!(second, first.wrapping_add(1));
}

#[test]
fn a_state_dir_that_cannot_be_one_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("file");
    std::fs::write(&file, "").expect("file");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "--docker",
            "off",
            "--upstream",
            "off",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--http", "off", "--state-dir"])
        .arg(&file)
        .output()
        .expect("run berth");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--state-dir"), "{stderr}");
}
