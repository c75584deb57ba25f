//! What an operator sees: `/readyz`, the log lines that say what berth is
//! doing, and the status page at `/`, rendered by a real browser
//! (headless Chromium).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::docker::{Scope, endpoint, require_docker};
use crate::support::http_get as get;
use crate::support::metrics::{Metrics, scrape};
use crate::support::{Berth, DEADLINE, free_port, peers, require, wait_until, write_file};

/// Polls `/readyz` until its status is `status`; returns its body.
fn readyz_becomes(berth: &Berth, status: u16) -> String {
    let http = berth.http_addr().expect("http address in the log");
    let mut last = (0, String::new());
    let held = wait_until(|| {
        last = get(http, "/readyz");
        last.0 == status
    });
    assert!(held, "/readyz stayed {last:?}; log:\n{}", berth.log());
    last.1
}

#[test]
fn readyz_waits_for_docker_and_every_zone_file() {
    if !require("dig") {
        return;
    }
    // A daemon that is not there (yet): berth is up, not ready, and says why.
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("docker.sock");
    let url = format!("unix://{}", socket.display());
    let berth = Berth::start(&["--docker", &url]);
    berth.wait_for_log("http listening");
    let reason = readyz_becomes(&berth, 503);
    assert!(reason.contains("unreachable since"), "{reason}");
    assert_eq!(get(berth.http_addr().unwrap(), "/healthz").0, 200);
    drop(berth);

    // Docker off: ready once the zone files loaded; a rejected file is not.
    let (berth, zones) = Berth::with_zone_file("$TTL 60\nweb IN A 192.0.2.1\n", &[]);
    berth.wait_for_log("http listening");
    assert_eq!(readyz_becomes(&berth, 200), "ready\n");
    write_file(
        zones.path(),
        "broken.zone",
        "$ORIGIN broken.test.\nx IN A nope\n",
    );
    let reason = readyz_becomes(&berth, 503);
    assert!(
        reason.contains("broken.zone rejected") && reason.contains(":2:"),
        "{reason}"
    );
    write_file(
        zones.path(),
        "broken.zone",
        "$ORIGIN apps.local.\n$TTL 60\nx IN A 192.0.2.2\n",
    );
    readyz_becomes(&berth, 200);
}

#[test]
fn an_upstream_that_fails_is_logged_once_and_again_when_it_answers() {
    if !require("dig") || !require("dnsmasq") {
        return;
    }
    // Nothing listens here yet: every exchange fails at once (port unreachable).
    let port = free_port();
    let upstream = format!("127.0.0.1:{port}");
    let berth = Berth::start(&["--upstream", &upstream, "--upstream-timeout", "500ms"]);
    for name in ["a.up.test", "b.up.test", "c.up.test"] {
        assert_eq!(berth.dig(&[name, "A"]).status, "SERVFAIL");
    }
    let failing = |log: &str| log.matches("upstream failing").count();
    assert_eq!(failing(&berth.log()), 1, "{}", berth.log());

    let _dnsmasq = peers::dnsmasq("address=/up.test/192.0.2.9\n", port);
    let answered = wait_until(|| berth.dig(&["d.up.test", "A"]).rdata("A") == ["192.0.2.9"]);
    assert!(answered, "{}", berth.log());
    berth.wait_for_log("upstream answers again");
    assert_eq!(failing(&berth.log()), 1, "{}", berth.log());
}

#[test]
fn docker_changes_are_logged_one_line_per_name_set() {
    if !require_docker() {
        return;
    }
    let berth = Berth::start(&["--docker", &endpoint()]);
    berth.wait_for_log("docker: following container events");
    let scope = Scope::new("logs");
    let web = scope.name("web");
    scope.run(&web, &["--label", "berth.names=front"]);
    let ip = scope.ip(&web, "bridge");
    berth.wait_for_log(&format!("docker: serving {web}.apps.local A {ip} ({web})"));
    berth.wait_for_log(&format!("docker: serving front.apps.local A {ip} ({web})"));
    crate::support::docker::must(&["rm", "-f", &web]);
    berth.wait_for_log(&format!("docker: dropped {web}.apps.local ({web})"));
    berth.wait_for_log(&format!("docker: dropped front.apps.local ({web})"));
    let log = berth.log();
    let lines = log
        .lines()
        .filter(|l| l.contains(&format!("docker: serving {web}.apps.local ")))
        .count();
    assert_eq!(lines, 1, "one line per name set added:\n{log}");
}

/// `/metrics` follows Docker: the session, the containers served and
/// hidden, the events acted on. Other tests start containers on the same
/// daemon meanwhile, so counts are compared as "moved by at least ours".
#[test]
fn metrics_follow_docker_containers() {
    if !require_docker() {
        return;
    }
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let berth = Berth::start(&["--docker", &endpoint()]);
    berth.wait_for_log("docker: following container events");
    let http = berth.http_addr().expect("http address in the log");
    let before = scrape(http);
    assert_eq!(before.get("berth_docker_connected", &[]), 1.0);
    let last_sync = before.get("berth_docker_last_sync_timestamp_seconds", &[]);
    assert!(last_sync >= started.floor(), "{last_sync} < {started}");
    let containers =
        |m: &Metrics, state: &str| m.get("berth_docker_containers", &[("state", state)]);

    let scope = Scope::new("metrics");
    let web = scope.name("web");
    scope.run(&web, &[]);
    scope.run(&scope.name("off"), &["--label", "berth.enable=false"]);
    let mut now = scrape(http);
    let moved = wait_until(|| {
        now = scrape(http);
        containers(&now, "served") >= containers(&before, "served") + 1.0
            && containers(&now, "hidden") >= containers(&before, "hidden") + 1.0
    });
    assert!(moved, "before:\n{}\nnow:\n{}", before.text, now.text);
    let starts = |m: &Metrics| m.value("berth_docker_events_total", &[("action", "start")]);
    assert!(
        starts(&now).unwrap_or(0.0) >= starts(&before).unwrap_or(0.0) + 2.0,
        "{}",
        now.text
    );
}

/// Runs headless Chromium on `url` with `args`; its stdout.
fn chromium(profile: &Path, url: &str, args: &[&str]) -> String {
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromium");
    let exited =
        crate::support::wait_until_for(DEADLINE * 2, || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("chromium output");
    assert!(exited, "chromium did not finish on {url}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn status_page_in_a_browser_shows_containers_and_escapes_their_labels() {
    if !require_docker() || !require("chromium") {
        return;
    }
    // Nothing listens there: the page shows it failing, and why.
    let dead = format!("127.0.0.1:{}", free_port());
    let (berth, zones) = Berth::with_zone_file(
        "$TTL 60\ngateway IN A 192.0.2.1\n",
        &[
            "--docker",
            &endpoint(),
            "--upstream",
            &dead,
            "--upstream-timeout",
            "500ms",
        ],
    );
    berth.wait_for_log("docker: following container events");
    assert_eq!(berth.dig(&["example.test", "A"]).status, "SERVFAIL");
    let scope = Scope::new("page");
    let web = scope.name("web");
    let id = scope.run(&web, &[]);
    // Hostile input: a label that would be a script if pasted as HTML. Not
    // a number, so the page lists it among what was skipped, verbatim.
    let hostile = scope.name("hostile");
    scope.run(
        &hostile,
        &["--label", "berth.ttl=<script>alert(1)</script>"],
    );
    berth.wait_for_log(&format!("({web})"));
    berth.wait_for_log(&format!("({hostile})"));
    let url = format!("http://{}/", berth.http_addr().expect("http address"));

    let profile = tempfile::tempdir().expect("temp dir");
    let dom = chromium(profile.path(), &url, &["--dump-dom"]);
    assert!(dom.contains(&format!("{web}.apps.local")), "{dom}");
    // Where each name comes from: the container (name and ID), the file
    // and line.
    let short_id = id.trim().get(..12).expect("a container ID");
    assert!(
        dom.contains(&format!("container {web} ({short_id})")),
        "{dom}"
    );
    assert!(dom.contains("gateway.apps.local"), "{dom}");
    let file = zones.path().join("apps.local.zone");
    assert!(
        dom.contains(&format!("zone file {}:2", file.display())),
        "{dom}"
    );
    // The upstream, failing, with its last error.
    let upstream_row = dom
        .split("<tr>")
        .find(|row| row.contains(&format!("<code>{dead}</code>")))
        .unwrap_or_else(|| panic!("no row for {dead}:\n{dom}"));
    assert!(upstream_row.contains("failing"), "{upstream_row}");
    assert!(
        upstream_row.contains("refused") || upstream_row.contains("no answer within"),
        "{upstream_row}"
    );
    // The label is shown as text: escaped in the DOM, never an element.
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
    assert!(!dom.contains("<script>"), "{dom}");

    let shots =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("status-page-{}", std::process::id()));
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let png = shots.join("status.png");
    chromium(
        profile.path(),
        &url,
        &[
            "--window-size=1280,2400",
            &format!("--screenshot={}", png.display()),
        ],
    );
    let image = std::fs::read(&png).expect("screenshot written");
    assert!(
        image.starts_with(b"\x89PNG"),
        "not a PNG: {}",
        png.display()
    );
    eprintln!("status page screenshot: {}", png.display());
}
