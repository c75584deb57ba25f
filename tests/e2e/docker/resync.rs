//! Losing the daemon and finding it again. berth talks to dockerd through a
//! unix-socket proxy the test cuts and restores; afterwards berth's names
//! must equal exactly what `docker ps` shows.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{a, berth_at, eventually_a, proxy};
use crate::support::docker::{Scope, must, require_docker, resolve_many};
use crate::support::{Berth, wait_until_for};

/// A burst of hundreds of containers on two cores takes a while to settle.
const BURST_DEADLINE: Duration = Duration::from_secs(180);
/// `docker` CLI processes run at once in a burst.
const WORKERS: usize = 8;

/// Waits until, for every one of `names`, berth answers with the address
/// Docker reports if that container is running, and with nothing if not.
fn eventually_matches_docker(berth: &Berth, scope: &Scope, names: &[String]) {
    let fqdns: Vec<String> = names.iter().map(|n| format!("{n}.apps.local")).collect();
    let mut mismatches: Vec<String> = Vec::new();
    let matched = wait_until_for(BURST_DEADLINE, || {
        let running = scope.running_addresses();
        let answers = resolve_many(berth.addr, &fqdns);
        mismatches = names
            .iter()
            .zip(&fqdns)
            .filter_map(|(name, fqdn)| {
                let want: Vec<String> = running.get(name).cloned().into_iter().collect();
                let got = answers.get(fqdn);
                (got != Some(&want)).then(|| format!("{name}: docker {want:?}, berth {got:?}"))
            })
            .collect();
        mismatches.is_empty()
    });
    assert!(
        matched,
        "{} names differ from docker ps, e.g. {:?}; log:\n{}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)],
        berth.log()
    );
}

/// Runs `job` on every item with [`WORKERS`] threads; panics with the
/// first error once all are done.
fn in_parallel<T: Sync>(items: &[T], job: impl Fn(usize, &T) -> Result<(), String> + Sync) {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if let Err(e) = job(i, item) {
                        errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        errors.is_empty(),
        "{} docker commands failed: {:?}",
        errors.len(),
        errors.first()
    );
}

fn remove(name: &str) -> Result<(), String> {
    crate::support::docker::docker(&["rm", "-f", name]).map(drop)
}

#[test]
fn names_match_docker_after_the_connection_comes_back() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("cut");
    let proxy = proxy();
    let berth = berth_at(&proxy.url(), &[]);
    let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|n| scope.name(n)).collect();
    let [a_, b, c, d] = [&names[0], &names[1], &names[2], &names[3]];
    scope.run(a_, &[]);
    scope.run(b, &[]);
    eventually_a(&berth, a_, &[&scope.ip(a_, "bridge")]);
    let b_ip = scope.ip(b, "bridge");
    eventually_a(&berth, b, &[&b_ip]);

    proxy.cut();
    berth.wait_for_log("docker: lost the daemon");
    scope.run(c, &[]);
    scope.run(d, &[]);
    must(&["rm", "-f", a_]);
    must(&["stop", b]);
    // Meanwhile berth keeps serving what it last knew.
    assert_eq!(a(&berth, b), [b_ip]);

    proxy.restore();
    eventually_matches_docker(&berth, &scope, &names);
}

#[test]
fn no_daemon_at_start_up_is_retried_quietly() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("nodaemon");
    let proxy = proxy();
    proxy.cut();
    let url = proxy.url();
    let berth = Berth::start(&["--docker", &url]);
    berth.wait_for_log("docker: daemon unavailable");
    // The zone is served all the same.
    assert_eq!(berth.dig(&["apps.local", "SOA"]).status, "NOERROR");
    let container = scope.name("late");
    scope.run(&container, &[]);

    // Several retries later the reason has still been logged only once.
    std::thread::sleep(Duration::from_millis(1500));
    let log = berth.log();
    assert_eq!(
        log.matches("docker: daemon unavailable").count(),
        1,
        "{log}"
    );

    proxy.restore();
    eventually_a(&berth, &container, &[&scope.ip(&container, "bridge")]);
}

#[test]
fn two_hundred_containers_started_and_removed_in_parallel() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("burst");
    let proxy = proxy();
    let berth = berth_at(&proxy.url(), &[]);

    // Live: starts and removals interleave while berth follows events.
    let mut names: Vec<String> = (0..200).map(|i| scope.name(&format!("c{i}"))).collect();
    in_parallel(&names, |i, name| {
        scope.try_run(name, &[])?;
        if i % 2 == 1 { remove(name) } else { Ok(()) }
    });
    eventually_matches_docker(&berth, &scope, &names);

    // Cut off: half the survivors go, fifty new ones come, then resync.
    proxy.cut();
    berth.wait_for_log("docker: lost the daemon");
    let newcomers: Vec<String> = (0..50).map(|i| scope.name(&format!("d{i}"))).collect();
    let doomed: Vec<String> = names.iter().step_by(4).cloned().collect();
    let work: Vec<(bool, &String)> = doomed
        .iter()
        .map(|n| (false, n))
        .chain(newcomers.iter().map(|n| (true, n)))
        .collect();
    in_parallel(&work, |_, (start, name)| {
        if *start {
            scope.try_run(name, &[]).map(drop)
        } else {
            remove(name)
        }
    });
    proxy.restore();
    names.extend(newcomers);
    eventually_matches_docker(&berth, &scope, &names);
}
