//! Two berths standing for two hosts, sharing one etcd cluster and one real
//! dockerd. Each says its containers are at its own host address
//! (`--address host --host-ip 127.0.0.x`), and each looks only at the
//! containers labelled as running on it (`--filter label=…`), as berths on
//! two real hosts see only their own. A container labelled for both "runs
//! on both hosts": the two claiming one name share its RRset. One labelled
//! for a single host reaches the other only through etcd.

use super::{eventually, rdata};
use crate::support::docker::{Scope, require_docker};
use crate::support::etcd::{Cluster, require_etcd};
use crate::support::metrics::scrape;
use crate::support::{Berth, http_get, signal, wait_until};

const HOST_A: &str = "127.0.0.2";
const HOST_B: &str = "127.0.0.3";

/// The label that puts a container on `instance` in `scope`.
fn on(scope: &Scope, instance: &str) -> String {
    format!("e2e.{}.{instance}", scope.prefix)
}

/// `docker run` options for a container running on each of `instances`.
fn running_on(scope: &Scope, instances: &[&str]) -> Vec<String> {
    instances
        .iter()
        .map(|instance| format!("--label={}", on(scope, instance)))
        .collect()
}

fn run_on(scope: &Scope, name: &str, instances: &[&str]) {
    let options = running_on(scope, instances);
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    scope.run(name, &options);
}

fn host(cluster: &Cluster, scope: &Scope, instance: &str, ip: &str) -> Berth {
    let mut args = cluster.berth_args();
    let docker = crate::support::docker::endpoint();
    let only_its_own = format!("label={}", on(scope, instance));
    args.extend(
        [
            "--docker",
            &docker,
            "--filter",
            &only_its_own,
            "--address",
            "host",
            "--host-ip",
            ip,
            "--instance",
            instance,
            // Short, so that a dead host's names go soon; the test polls.
            "--etcd-lease",
            "3",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let berth = Berth::start(&args);
    berth.wait_for_log("etcd: following the prefix");
    berth.wait_for_log("docker: following container events");
    berth
}

fn fqdn(container: &str) -> String {
    format!("{container}.apps.local")
}

#[test]
fn each_host_serves_the_others_containers_through_etcd() {
    if !require_etcd() || !require_docker() {
        return;
    }
    let mut cluster = Cluster::start(3);
    let scope = Scope::new("hosts");
    let mut a = host(&cluster, &scope, "host-a", HOST_A);
    let b = host(&cluster, &scope, "host-b", HOST_B);

    let web = scope.name("web");
    run_on(&scope, &web, &["host-a", "host-b"]);
    eventually(&a, &fqdn(&web), "A", &[HOST_A, HOST_B]);
    eventually(&b, &fqdn(&web), "A", &[HOST_A, HOST_B]);
    // On host A alone: B has it from etcd, and never looked at it.
    let solo = scope.name("solo");
    run_on(&scope, &solo, &["host-a"]);
    eventually(&a, &fqdn(&solo), "A", &[HOST_A]);
    eventually(&b, &fqdn(&solo), "A", &[HOST_A]);
    let from = origins(&b, &solo);
    assert_eq!(
        from,
        [format!("etcd host-a (/skydns/local/apps/{solo}/host-a)")]
    );

    // What berth wrote, checked against the SkyDNS schema: the name
    // reversed under /skydns, the instance last, {"host","ttl"}.
    let key = |instance: &str| format!("/skydns/local/apps/{web}/{instance}");
    let keys = cluster.get_prefix(&format!("/skydns/local/apps/{web}/"));
    let mut expected = vec![
        (key("host-a"), format!(r#"{{"host":"{HOST_A}","ttl":5}}"#)),
        (key("host-b"), format!(r#"{{"host":"{HOST_B}","ttl":5}}"#)),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    operator_sees_who_published(&b, &web);

    // kill -9: host A's lease runs out, and its address with it.
    signal(a.pid(), "KILL");
    eventually(&b, &fqdn(&web), "A", &[HOST_B]);
    eventually(&b, &fqdn(&solo), "A", &[]);

    // Back: it publishes again. A restart writes the same keys again
    // rather than adding any.
    drop(a);
    a = host(&cluster, &scope, "host-a", HOST_A);
    eventually(&b, &fqdn(&web), "A", &[HOST_A, HOST_B]);
    drop(a);
    let a = host(&cluster, &scope, "host-a", HOST_A);
    eventually(&a, &fqdn(&web), "A", &[HOST_A, HOST_B]);
    assert_eq!(
        cluster.get_prefix(&format!("/skydns/local/apps/{web}/")),
        expected
    );

    // One member of three stops: nothing changes, and new containers
    // still travel.
    cluster.stop_member(1);
    let api = scope.name("api");
    run_on(&scope, &api, &["host-a", "host-b"]);
    eventually(&b, &fqdn(&api), "A", &[HOST_A, HOST_B]);
    assert_eq!(rdata(&a, &fqdn(&web), "A"), [HOST_A, HOST_B]);

    // All three: both keep answering everything they knew; a container
    // started meanwhile is served by each from its own Docker.
    cluster.stop_all();
    a.wait_for_log("etcd: lost the cluster");
    b.wait_for_log("etcd: lost the cluster");
    let http = b.http_addr().expect("http");
    let disconnected = wait_until(|| scrape(http).get("berth_etcd_connected", &[]) == 0.0);
    assert!(disconnected, "{}", scrape(http).text);
    let late = scope.name("late");
    run_on(&scope, &late, &["host-a", "host-b"]);
    eventually(&a, &fqdn(&late), "A", &[HOST_A]);
    eventually(&b, &fqdn(&late), "A", &[HOST_B]);
    for berth in [&a, &b] {
        assert_eq!(rdata(berth, &fqdn(&web), "A"), [HOST_A, HOST_B]);
        assert_eq!(rdata(berth, &fqdn(&api), "A"), [HOST_A, HOST_B]);
    }

    // etcd back: both read it again and publish what changed meanwhile.
    cluster.start_all();
    eventually(&a, &fqdn(&late), "A", &[HOST_A, HOST_B]);
    eventually(&b, &fqdn(&late), "A", &[HOST_A, HOST_B]);
    eventually(&b, &fqdn(&web), "A", &[HOST_A, HOST_B]);
}

/// `/metrics` and `/v1/records` on host B say which instance published
/// `container`'s address and where B stands with etcd.
fn operator_sees_who_published(b: &Berth, container: &str) {
    let http = b.http_addr().expect("http");
    let metrics = scrape(http);
    assert_eq!(metrics.get("berth_etcd_connected", &[]), 1.0);
    assert!(metrics.get("berth_etcd_revision", &[]) > 0.0);
    assert!(metrics.get("berth_etcd_last_sync_timestamp_seconds", &[]) > 0.0);
    assert!(metrics.get("berth_etcd_keys", &[("instance", "host-a")]) >= 1.0);
    assert!(metrics.get("berth_etcd_published_keys", &[("instance", "host-b")]) >= 1.0);
    // Its own keys are not read back.
    assert_eq!(
        metrics.value("berth_etcd_keys", &[("instance", "host-b")]),
        None
    );

    let from = origins(b, container);
    let via_etcd = format!("etcd host-a (/skydns/local/apps/{container}/host-a)");
    assert!(from.contains(&via_etcd), "{from:?}");
    let local = format!("container {container} (");
    assert!(from.iter().any(|f| f.starts_with(&local)), "{from:?}");
}

/// Where `berth`'s A records for `container` come from, by /v1/records.
fn origins(berth: &Berth, container: &str) -> Vec<String> {
    let (status, records) = http_get(berth.http_addr().expect("http"), "/v1/records");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&records).expect("JSON");
    let name = format!("{container}.apps.local.");
    json.as_array()
        .into_iter()
        .flatten()
        .flat_map(|zone| zone["records"].as_array().cloned().unwrap_or_default())
        .find(|r| r["name"] == name.as_str() && r["type"] == "A")
        .and_then(|r| serde_json::from_value(r["from"].clone()).ok())
        .unwrap_or_default()
}

#[test]
fn a_lost_lease_is_granted_again_and_everything_published_again() {
    if !require_etcd() || !require_docker() {
        return;
    }
    let cluster = Cluster::start(3);
    let scope = Scope::new("lease");
    let a = host(&cluster, &scope, "host-a", HOST_A);
    let web = scope.name("web");
    run_on(&scope, &web, &["host-a"]);
    let key = format!("/skydns/local/apps/{web}/host-a");
    let published = || {
        cluster
            .get_prefix(&key)
            .iter()
            .any(|(k, v)| *k == key && v.contains(HOST_A))
    };
    assert!(
        wait_until(published),
        "{key} never written; log:\n{}",
        a.log()
    );

    // What a partition longer than the lease does: etcd drops the lease
    // and every key on it.
    let leases = cluster.etcdctl(&["lease", "list"]).expect("lease list");
    for id in leases
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        cluster
            .etcdctl(&["lease", "revoke", id])
            .expect("lease revoke");
    }
    a.wait_for_log("etcd: reading the prefix again");
    assert!(
        wait_until(published),
        "{key} not published again; log:\n{}",
        a.log()
    );
}
