//! The command line: bad flags exit 64 with a message naming them; every
//! flag is documented and has an environment variable.

use std::process::Command;

use crate::support::{Berth, require};

fn berth(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env_remove("BERTH_CONFIG")
        .output()
        .expect("run berth");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[test]
fn bad_flags_exit_64_and_name_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "--bogus"),
        (&["--listen", "nowhere"], "--listen"),
        (&["--ttl", "soon"], "--ttl"),
        (&["--zone", "a..b"], "--zone"),
        (&["--ns-address", "not-an-ip"], "--ns-address"),
        (&["--ns", "ns1"], "--ns"),
        (&["--soa-minimum", "3000000000"], "--soa-minimum"),
        (&["--wildcard-target", "300.0.0.1"], "--wildcard-target"),
        (&["--docker", "ftp://host"], "--docker"),
        (
            &["--upstream", "off", "--upstream", "127.0.0.1"],
            "--upstream",
        ),
        (&["--upstream-timeout", "forever"], "--upstream-timeout"),
        (&["--allow-recursion", "10.0.0.0/99"], "--allow-recursion"),
        (&["--zones", "/nonexistent/berth/zones"], "--zones"),
        (&["--log-format", "xml"], "--log-format"),
        (&["--http", "everywhere"], "--http"),
    ];
    for (args, flag) in cases {
        let (code, text) = berth(args);
        assert_eq!(code, Some(64), "{args:?} exit status; output:\n{text}");
        assert!(
            text.contains(flag),
            "{args:?}: message does not name {flag}:\n{text}"
        );
    }
}

#[test]
fn help_documents_every_flag_and_its_variable() {
    let (code, text) = berth(&["--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--listen",
        "--zone ",
        "--zones",
        "--ttl",
        "--ns-address",
        "--ns ",
        "--soa-minimum",
        "--wildcard-target",
        "--docker",
        "--upstream ",
        "--upstream-timeout",
        "--allow-recursion",
        "--log-format",
        "--http",
        "--config",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
        let variable = format!(
            "BERTH_{}",
            flag.trim()
                .trim_start_matches("--")
                .replace('-', "_")
                .to_uppercase()
        );
        assert!(text.contains(&variable), "--help lacks {variable}:\n{text}");
    }
}

#[test]
fn environment_variables_and_the_config_file_set_flags() {
    if !require("dig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    let toml = "zone = [\"fromfile.test\"]\nttl = 33\nsoa-minimum = 44\n";
    std::fs::write(&config, toml).unwrap();
    let berth = Berth::start(&["--config", config.to_str().unwrap()]);
    let soa = berth.dig(&["fromfile.test", "SOA"]);
    assert_eq!(soa.status, "NOERROR");
    assert_eq!(soa.answer[0].ttl, 44);
    assert_eq!(berth.dig(&["fromfile.test", "NS"]).answer[0].ttl, 33);

    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .env("BERTH_TTL", "-1")
        .output()
        .expect("run berth");
    assert_eq!(
        output.status.code(),
        Some(64),
        "a bad BERTH_TTL is a usage error"
    );
}
