//! The command line: bad flags exit 64 with a message naming them; every
//! flag is documented and has an environment variable.

use std::net::TcpListener;
use std::process::Command;

use crate::support::docker::{endpoint, require_docker};
use crate::support::{Berth, require, write_file};

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
        // Rough edges a first trial found.
        (&["--docker", "http://"], "--docker"),
        (&["--docker", "tcp://:2375"], "--docker"),
        (&["--docker", "unix://docker.sock"], "--docker"),
        (&["--ttl", "-5"], "--ttl"),
        (&["--cache-size", "-1"], "--cache-size"),
        (&["--max-ttl", "-1"], "--max-ttl"),
        (&["--expose", "some"], "--expose"),
        (&["--filter", "status=running"], "--filter"),
        (&["--filter", "label"], "--filter"),
        (&["--filter", "name=("], "--filter"),
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

#[test]
fn a_bad_zone_name_says_which_character_and_why() {
    let (code, text) = berth(&["--zone", "bad zone!"]);
    assert_eq!(code, Some(64), "{text}");
    assert!(
        text.contains("--zone") && text.contains("a space at position 4"),
        "{text}"
    );
    assert!(text.contains("only letters, digits, '-' and '_'"), "{text}");
    let (code, text) = berth(&["--zone", "apps!.local"]);
    assert_eq!(code, Some(64), "{text}");
    assert!(text.contains("'!' at position 5"), "{text}");
}

/// A daemon that is not there yet: one WARN, and berth follows it once
/// its socket appears, without a restart.
#[test]
fn a_docker_socket_that_appears_later_is_one_warning_then_followed() {
    if !require_docker() {
        return;
    }
    let Some(real) = endpoint().strip_prefix("unix://").map(str::to_string) else {
        return; // a tcp:// DOCKER_HOST has no socket to link to
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("docker.sock");
    let url = format!("unix://{}", socket.display());
    let berth = Berth::start(&["--docker", &url]);
    berth.wait_for_log("docker: daemon unavailable");
    std::os::unix::fs::symlink(&real, &socket).expect("link the socket");
    berth.wait_for_log("docker: following container events");
    let log = berth.log();
    let warnings = log.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 1, "{log}");
}

/// `--listen 0.0.0.0:PORT` alone: ns.<zone> gets the host's first address
/// that is not loopback, and berth says so.
#[test]
fn a_wildcard_listen_address_gives_ns_the_first_interface_address() {
    if !require("dig") || !require("hostname") {
        return;
    }
    let output = Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname -I");
    let listed = String::from_utf8_lossy(&output.stdout).to_string();
    let Some(first) = listed.split_whitespace().find(|a| !a.contains(':')) else {
        return; // no IPv4 address but loopback: berth exits 64 then, below
    };
    let berth = Berth::start(&["--listen", "0.0.0.0:0"]);
    berth.wait_for_log("ns.<zone> answers at the first interface address");
    assert_eq!(
        berth.dig(&["ns.apps.local", "A"]).rdata("A"),
        [first.to_string()],
        "hostname -I: {listed}"
    );
}

#[test]
fn toml_takes_one_value_or_a_list_and_check_prints_the_result() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_file(
        dir.path(),
        "berth.toml",
        "upstream = \"off\"\nlisten = \"127.0.0.1:1053\"\nzone = [\"one.test\", \"two.test\"]\ndocker = \"off\"\n",
    );
    let (code, text) = berth(&["--config", &config, "--check"]);
    assert_eq!(code, Some(0), "{text}");
    let printed: toml::Table = toml::from_str(&text).expect("--check prints TOML");
    let strings = |key: &str| -> Vec<String> {
        printed[key]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(strings("upstream"), ["off"]);
    assert_eq!(strings("listen"), ["127.0.0.1:1053"]);
    assert_eq!(strings("zone"), ["one.test.", "two.test."]);
    assert_eq!(
        printed["ttl"].as_integer(),
        Some(5),
        "the default, filled in"
    );

    // What --check printed is a config file that --check takes as it is.
    let again = write_file(dir.path(), "again.toml", &text);
    let (code, text_again) = berth(&["--config", &again, "--check"]);
    assert_eq!((code, &text_again), (Some(0), &text));

    // A bad value in the file: 64, with the key and its line.
    let bad = write_file(
        dir.path(),
        "bad.toml",
        "docker = \"off\"\nzone = \"one.test\"\nttl = 3000000000\n",
    );
    let (code, text) = berth(&["--config", &bad, "--check"]);
    assert_eq!(code, Some(64), "{text}");
    assert!(text.contains("bad.toml: line 3: ttl:"), "{text}");
}

/// The README's example file passes `--check`: its paths under
/// `/etc/berth/` are made in a temporary directory first.
#[test]
fn the_readme_example_config_passes_check() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```toml\n# /etc/berth/berth.toml")
        .expect("README has the example config file");
    let body = &readme[start + "```toml\n".len()..];
    let example = &body[..body.find("```").expect("the example's closing fence")];
    let root = tempfile::tempdir().expect("temp dir");
    let etc = root.path().to_str().expect("utf-8 path");
    std::fs::create_dir(root.path().join("zones")).expect("zones dir");
    let secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";
    write_file(
        root.path(),
        "berth-xfr.key",
        &format!("key \"berth-xfr\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n"),
    );
    let config = write_file(
        root.path(),
        "berth.toml",
        &example.replace("/etc/berth", etc),
    );
    let (code, text) = berth(&["--config", &config, "--check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("apps.internal."), "{text}");
    assert!(!text.contains(secret), "--check printed a secret:\n{text}");
}

/// Sockets are bound before any source starts: a port in use is the first
/// thing berth says, with no "docker source on" or "forwarding" before it.
#[test]
fn binding_errors_come_before_sources_start() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let taken = taken.local_addr().expect("address").to_string();
    let (code, text) = berth(&[
        "--listen",
        "127.0.0.1:0",
        "--http",
        &taken,
        "--docker",
        "unix:///nonexistent/docker.sock",
        "--upstream",
        "127.0.0.1:9",
    ]);
    assert_ne!(code, Some(0), "{text}");
    let error = text
        .find(&format!("binding --http {taken}"))
        .unwrap_or_else(|| panic!("no binding error:\n{text}"));
    for started in ["docker source on", "forwarding"] {
        if let Some(at) = text.find(started) {
            assert!(at > error, "{started:?} before the binding error:\n{text}");
        }
    }
    assert!(text.contains("in use"), "{text}");
}
