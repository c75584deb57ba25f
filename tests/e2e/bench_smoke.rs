//! The benchmark script in smoke mode, so that it never rots: every server
//! it drives starts, is queried by dnsperf for a second, and lands in the
//! table. No figure is asserted but that berth answered at all: rates and
//! durations are for the benchmark, never for tests.

use std::path::Path;
use std::process::Command;

use crate::support;

#[test]
fn bench_script_smoke_produces_a_table_with_berth_answering() {
    if !support::require("dnsperf") || !support::require("dig") {
        return;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/run");
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .args([
            "--smoke",
            "--no-install",
            "--berth",
            env!("CARGO_BIN_EXE_berth"),
        ])
        .arg("--out")
        .arg(out.path());
    // Outside CI a missing server only drops its row; with CI=true (inherited)
    // the script fails on it, as the support module's `require` does.
    let output = command.output().expect("run bench/run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench/run --smoke failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("queries/s") && stdout.contains("CPU us/q"),
        "no table in the output:\n{stdout}"
    );

    let results = std::fs::read_to_string(out.path().join("results.tsv")).expect("results.tsv");
    let header: Vec<&str> = results
        .lines()
        .next()
        .unwrap_or_default()
        .split('\t')
        .collect();
    let answered = header
        .iter()
        .position(|column| *column == "answered")
        .expect("an answered column");
    let berth_answered: u64 = results
        .lines()
        .skip(1)
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|fields| fields.first() == Some(&"berth"))
        .filter_map(|fields| fields.get(answered)?.parse::<u64>().ok())
        .sum();
    assert!(
        berth_answered > 0,
        "berth answered nothing:\n{results}\n{stderr}"
    );
    if support::in_ci() {
        for server in ["knot", "nsd", "dnsmasq", "named"] {
            assert!(
                results
                    .lines()
                    .any(|line| line.starts_with(&format!("{server}\t"))),
                "no {server} row in CI:\n{results}"
            );
        }
    }
}
