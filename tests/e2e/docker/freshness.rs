//! Docker freshness (issue 14): a stalled event stream is caught by the
//! periodic reconciliation; while the daemon cannot be followed the last
//! records are served with TTL 1, withdrawn after `--stale-limit`, and
//! restored whole when it is back; a wedged daemon costs a timeout, not a
//! wedged berth. berth talks to the real dockerd through a proxy the test
//! stalls, cuts and wedges. No assertion is about how long anything took:
//! the tests wait for what berth logs and serves.

use super::{berth_at, eventually_a, eventually_gone, proxy};
use crate::support::docker::{Scope, must, require_docker};
use crate::support::metrics::scrape;
use crate::support::{Berth, http_get, wait_until};

/// The TTL berth is started with, so that TTL 1 cannot be the normal one.
const TTL: &str = "30";

/// The TTL of `name`'s A record as berth gives it now; `None` if it gives
/// none.
fn a_ttl(berth: &Berth, name: &str) -> Option<u32> {
    let answer = berth.dig(&[&format!("{name}.apps.local"), "A"]);
    answer
        .answer
        .iter()
        .find(|rr| rr.rtype == "A")
        .map(|rr| rr.ttl)
}

/// Polls until `name`'s A record has TTL `ttl`.
fn eventually_ttl(berth: &Berth, name: &str, ttl: u32) {
    let mut last = None;
    let held = wait_until(|| {
        last = a_ttl(berth, name);
        last == Some(ttl)
    });
    assert!(
        held,
        "{name}: wanted TTL {ttl}, berth kept giving {last:?}; log:\n{}",
        berth.log()
    );
}

/// `/readyz`'s status and body.
fn readyz(berth: &Berth) -> (u16, String) {
    http_get(berth.http_addr().expect("http address"), "/readyz")
}

/// Polls until `berth_docker_state` is 1 for `state`.
fn eventually_state(berth: &Berth, state: &str) {
    let http = berth.http_addr().expect("http address");
    let held =
        wait_until(|| scrape(http).value("berth_docker_state", &[("state", state)]) == Some(1.0));
    assert!(
        held,
        "berth_docker_state never became {state}:\n{}",
        scrape(http).text
    );
}

/// The log line that contains every one of `needles`, once there is one.
fn log_line(berth: &Berth, needles: &[&str]) -> String {
    let mut line = None;
    let found = wait_until(|| {
        line = berth
            .log()
            .lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string);
        line.is_some()
    });
    assert!(
        found,
        "berth never logged a line with {needles:?}; log:\n{}",
        berth.log()
    );
    line.unwrap_or_default()
}

#[test]
fn a_stalled_event_stream_is_repaired_by_the_reconciliation() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("stall");
    let proxy = proxy();
    let berth = berth_at(&proxy.url(), &["--docker-reconcile", "2"]);
    let (early, late) = (scope.name("early"), scope.name("late"));
    scope.run(&early, &[]);
    eventually_a(&berth, &early, &[&scope.ip(&early, "bridge")]);

    // From here on the stream stays open and says nothing: a start and a
    // removal go unreported, and only a listing can find them.
    proxy.stall_events();
    scope.run(&late, &[]);
    let line = log_line(&berth, &["WARN", "reconciliation repaired", &late]);
    assert!(
        line.contains(&format!("added {late}.apps.local A")),
        "{line}"
    );
    eventually_a(&berth, &late, &[&scope.ip(&late, "bridge")]);
    // The next session's first listing would see the removal too; make it
    // the reconciliation's to find.
    let reconnected = wait_until(|| {
        berth
            .log()
            .matches("docker: following container events")
            .count()
            >= 2
    });
    assert!(reconnected, "{}", berth.log());

    must(&["rm", "-f", &early]);
    let line = log_line(
        &berth,
        &[
            "WARN",
            "reconciliation repaired",
            &format!("removed {early}.apps.local"),
        ],
    );
    assert!(
        line.contains("the event stream had not delivered this"),
        "{line}"
    );
    eventually_gone(&berth, &early);

    // A repair means the stream is not to be trusted: berth starts over.
    berth.wait_for_log("docker: reconnecting for a new event stream");
    let metrics = scrape(berth.http_addr().expect("http address"));
    let repairs = metrics.get("berth_docker_reconcile_repairs_total", &[]);
    assert!(repairs >= 2.0, "{}", metrics.text);
    assert!(metrics.get("berth_docker_reconciliations_total", &[]) >= 2.0);
}

#[test]
fn an_unreachable_daemon_lowers_ttls_then_its_records_are_withdrawn() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("stale");
    let proxy = proxy();
    let berth = berth_at(
        &proxy.url(),
        &[
            "--ttl",
            TTL,
            "--stale-limit",
            "3s",
            "--docker-reconcile",
            "2",
        ],
    );
    let web = scope.name("web");
    scope.run(&web, &[]);
    let ip = scope.ip(&web, "bridge");
    eventually_a(&berth, &web, &[&ip]);
    assert_eq!(a_ttl(&berth, &web), Some(30));
    assert_eq!(readyz(&berth).0, 200);
    eventually_state(&berth, "following");

    proxy.cut();
    berth.wait_for_log("docker: lost the daemon; serving the last records with TTL 1 for up to 3s");
    eventually_ttl(&berth, &web, 1);
    assert_eq!(
        berth.dig(&[&format!("{web}.apps.local"), "A"]).rdata("A"),
        [ip.as_str()]
    );
    let (status, body) = readyz(&berth);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("serving the last records with TTL 1 until"),
        "{body}"
    );
    eventually_state(&berth, "stale");

    // An address Docker may have given to another container by now is not
    // served past the limit.
    berth.wait_for_log("docker: withdrew the records of ");
    eventually_gone(&berth, &web);
    eventually_state(&berth, "unreachable");
    let (status, body) = readyz(&berth);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("records withdrawn at"), "{body}");
    // Each transition is one line, however many retries failed meanwhile.
    assert_eq!(berth.log().matches("docker: lost the daemon").count(), 1);

    proxy.restore();
    eventually_ttl(&berth, &web, 30);
    berth.wait_for_log("docker: records served again after their withdrawal");
    eventually_state(&berth, "following");
    assert_eq!(readyz(&berth).0, 200);
}

#[test]
fn the_daemon_back_before_the_limit_restores_the_ttls() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("back");
    let proxy = proxy();
    let berth = berth_at(&proxy.url(), &["--ttl", TTL]);
    let web = scope.name("web");
    scope.run(&web, &[]);
    eventually_a(&berth, &web, &[&scope.ip(&web, "bridge")]);

    proxy.cut();
    eventually_ttl(&berth, &web, 1);
    proxy.restore();
    eventually_ttl(&berth, &web, 30);
    berth.wait_for_log("docker: records current again after");
    eventually_state(&berth, "following");
}

#[test]
fn a_wedged_daemon_times_out_and_the_connection_is_dropped() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("wedge");
    let proxy = proxy();
    let berth = berth_at(&proxy.url(), &["--ttl", TTL, "--docker-reconcile", "2"]);
    let web = scope.name("web");
    scope.run(&web, &[]);
    eventually_a(&berth, &web, &[&scope.ip(&web, "bridge")]);

    // Connections stay open and nothing answers: the next listing times
    // out, and berth gives up the connection it was on rather than wait.
    proxy.wedge();
    let line = log_line(&berth, &["docker: lost the daemon", "got no answer within"]);
    assert!(line.contains("dropping the connection"), "{line}");
    eventually_ttl(&berth, &web, 1);
    let abandoned = wait_until(|| proxy.abandoned() >= 1);
    assert!(
        abandoned,
        "berth kept its wedged connections; log:\n{}",
        berth.log()
    );

    // The wedged connections stay wedged; new ones work, and berth uses
    // them.
    proxy.restore();
    eventually_ttl(&berth, &web, 30);
    eventually_state(&berth, "following");
}
