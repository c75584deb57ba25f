//! Keys others write in the SkyDNS schema — by hand with `etcdctl put`, or
//! as registrator's skydns2 backend writes them — served by berth; and what
//! berth keeps serving while members, or the whole cluster, are away.

use super::{berth, eventually, rdata};
use crate::support::etcd::{Cluster, require_etcd};

/// registrator's skydns2 backend: `<prefix>/<domain reversed>/<service
/// name>/<hostname:container:port>`, value `{"host":…,"port":…}`.
const WEB_1: &str = "/skydns/local/apps/web/host1:web-1:80";
const WEB_2: &str = "/skydns/local/apps/web/host2:web-2:80";

#[test]
fn keys_put_by_hand_and_by_registrator_are_served() {
    if !require_etcd() {
        return;
    }
    let cluster = Cluster::start(3);
    // Before berth starts: the first reading has it.
    cluster.put(WEB_1, r#"{"host":"10.0.0.5","port":8080}"#);
    let berth = berth(&cluster, &["--instance", "reader"]);
    eventually(&berth, "web.apps.local", "A", &["10.0.0.5"]);

    // After: the watch delivers it.
    cluster.put(WEB_2, r#"{"host":"10.0.0.6","port":8080}"#);
    cluster.put("/skydns/local/apps/db", r#"{"host":"10.0.0.9","ttl":60}"#);
    cluster.put("/skydns/local/apps/db6/x", r#"{"host":"2001:db8::9"}"#);
    eventually(&berth, "web.apps.local", "A", &["10.0.0.5", "10.0.0.6"]);
    eventually(&berth, "db.apps.local", "A", &["10.0.0.9"]);
    eventually(&berth, "db6.apps.local", "AAAA", &["2001:db8::9"]);
    let db = berth.dig(&["db.apps.local", "A"]);
    assert_eq!(db.answer[0].ttl, 60, "the value's ttl: {}", db.raw);

    // SRV as SkyDNS serves it: the key's own name is the target, and it
    // has the address.
    eventually(
        &berth,
        "web.apps.local",
        "SRV",
        &[
            "10 100 8080 host1:web-1:80.web.apps.local.",
            "10 100 8080 host2:web-2:80.web.apps.local.",
        ],
    );
    eventually(&berth, "host1:web-1:80.web.apps.local", "A", &["10.0.0.5"]);

    // A name host is an SRV target, with the given priority and weight.
    cluster.put(
        "/skydns/local/apps/_tcp/_pg/h1",
        r#"{"host":"db.apps.local","port":5432,"priority":1,"weight":20}"#,
    );
    eventually(
        &berth,
        "_pg._tcp.apps.local",
        "SRV",
        &["1 20 5432 db.apps.local."],
    );

    // Changed and deleted keys follow; a bad value is not served and
    // breaks nothing.
    cluster.put(WEB_2, r#"{"host":"10.0.0.7","port":8080}"#);
    cluster.delete(WEB_1);
    cluster.put("/skydns/local/apps/bad", "{not json");
    eventually(&berth, "web.apps.local", "A", &["10.0.0.7"]);
    assert_eq!(berth.dig(&["bad.apps.local", "A"]).status, "NXDOMAIN");
    // Outside the zones: ignored.
    cluster.put("/skydns/org/example/www", r#"{"host":"10.0.0.1"}"#);
    cluster.put("/skydns/local/apps/marker", r#"{"host":"10.0.0.2"}"#);
    eventually(&berth, "marker.apps.local", "A", &["10.0.0.2"]);
    assert!(
        !berth
            .log()
            .contains("records outside every served zone are ignored")
    );
}

#[test]
fn members_and_the_whole_cluster_going_away_change_nothing_served() {
    if !require_etcd() {
        return;
    }
    let mut cluster = Cluster::start(3);
    cluster.put(WEB_1, r#"{"host":"10.0.0.5"}"#);
    let berth = berth(&cluster, &["--instance", "reader"]);
    eventually(&berth, "web.apps.local", "A", &["10.0.0.5"]);

    // One member of three: the cluster still has a quorum.
    cluster.stop_member(0);
    cluster.put(WEB_2, r#"{"host":"10.0.0.6"}"#);
    eventually(&berth, "web.apps.local", "A", &["10.0.0.5", "10.0.0.6"]);

    // All of them: the last view stays served.
    cluster.stop_all();
    berth.wait_for_log("etcd: lost the cluster");
    for _ in 0..20 {
        assert_eq!(
            rdata(&berth, "web.apps.local", "A"),
            ["10.0.0.5", "10.0.0.6"],
            "log:\n{}",
            berth.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Logged once, not on every retry.
    assert_eq!(
        berth.log().matches("etcd: unavailable").count(),
        0,
        "log:\n{}",
        berth.log()
    );

    // Back: berth reads the prefix again and follows.
    cluster.start_all();
    cluster.delete(WEB_1);
    cluster.put("/skydns/local/apps/late", r#"{"host":"10.0.0.8"}"#);
    eventually(&berth, "late.apps.local", "A", &["10.0.0.8"]);
    eventually(&berth, "web.apps.local", "A", &["10.0.0.6"]);
}
