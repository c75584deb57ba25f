//! The HTTP endpoints operators use: health, Prometheus metrics, records.

use crate::support::metrics::scrape;
use crate::support::{Berth, free_port, http_get as get, peers, require, write_file};

#[test]
fn healthz_metrics_and_records() {
    if !require("dig") {
        return;
    }
    let (berth, dir) = Berth::with_zone_file("$TTL 60\ngateway IN A 192.0.2.1\n", &[]);
    berth.wait_for_log("http listening");
    let http = berth.http_addr().expect("http address in the log");

    assert_eq!(get(http, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get(http, "/nope").0, 404);

    assert_eq!(berth.dig(&["gateway.apps.local", "A"]).status, "NOERROR");
    assert_eq!(berth.dig(&["missing.apps.local", "A"]).status, "NXDOMAIN");
    assert_eq!(berth.dig(&["example.com", "A"]).status, "REFUSED");
    let metrics = scrape(http);
    assert!(metrics.get("berth_queries_total", &[("transport", "udp")]) >= 3.0);
    assert!(metrics.get("berth_answers_total", &[("rcode", "NXDOMAIN")]) >= 1.0);
    assert!(metrics.get("berth_refused_total", &[]) >= 1.0);

    let (status, records) = get(http, "/v1/records");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&records).expect("JSON");
    let zone = json
        .as_array()
        .and_then(|zones| zones.iter().find(|z| z["zone"] == "apps.local."))
        .expect("apps.local in /v1/records");
    let has = |name: &str, rtype: &str, data: &str| {
        zone["records"].as_array().is_some_and(|rs| {
            rs.iter()
                .any(|r| r["name"] == name && r["type"] == rtype && r["data"] == data)
        })
    };
    assert!(has("gateway.apps.local.", "A", "192.0.2.1"), "{records}");
    assert!(has("apps.local.", "NS", "ns.apps.local."), "{records}");
    // Each name says which file and line give it.
    let from = |name: &str| -> Vec<String> {
        zone["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["name"] == name)
            .flat_map(|r| r["from"].as_array().cloned().unwrap_or_default())
            .filter_map(|from| from.as_str().map(str::to_string))
            .collect()
    };
    let file = dir.path().join("apps.local.zone");
    assert_eq!(
        from("gateway.apps.local."),
        [format!("zone file {}:2", file.display())],
        "{records}"
    );
    assert!(from("apps.local.").is_empty(), "{records}");
}

/// The numbers `/metrics` gives are the ones berth acts on: the SOA serial
/// dig gets, the names a zone file holds, a dead upstream's failures, the
/// cache's hits.
#[test]
fn metrics_agree_with_what_berth_serves() {
    if !require("dig") || !require("dnsmasq") {
        return;
    }
    let zones = tempfile::tempdir().expect("temp dir");
    write_file(
        zones.path(),
        "apps.local.zone",
        "$TTL 60\ngateway IN A 192.0.2.1\n",
    );
    // Served as written: its own serial, not berth's.
    write_file(
        zones.path(),
        "static.test.zone",
        "$ORIGIN static.test.\n$TTL 60\n\
         @ IN SOA ns.static.test. hostmaster.static.test. 7 3600 600 86400 60\n\
         @ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n",
    );
    write_file(
        zones.path(),
        "broken.zone",
        "$ORIGIN broken.test.\nx IN A nope\n",
    );
    // The dead upstream first: berth tries it, counts a failure, and
    // then prefers the one that answered.
    let dead = format!("127.0.0.1:{}", free_port());
    let port = free_port();
    let _dnsmasq = peers::dnsmasq("address=/up.test/192.0.2.9\nlocal-ttl=60\n", port);
    let live = format!("127.0.0.1:{port}");
    let berth = Berth::start(&[
        "--zones",
        zones.path().to_str().expect("utf-8 path"),
        "--upstream",
        &dead,
        "--upstream",
        &live,
        "--upstream-timeout",
        "500ms",
    ]);
    berth.wait_for_log("http listening");
    let http = berth.http_addr().expect("http address in the log");

    for _ in 0..2 {
        assert_eq!(berth.dig(&["a.up.test", "A"]).rdata("A"), ["192.0.2.9"]);
    }
    assert_eq!(
        berth.dig(&["+tcp", "gateway.apps.local", "A"]).status,
        "NOERROR"
    );
    let serial = |zone: &str| -> f64 {
        let soa = berth.dig(&[zone, "SOA"]).rdata("SOA");
        let fields: Vec<&str> = soa[0].split_whitespace().collect();
        fields[2].parse().expect("serial")
    };

    let metrics = scrape(http);
    let zone_serial = |zone: &str| metrics.get("berth_zone_serial", &[("zone", zone)]);
    assert_eq!(zone_serial("static.test."), 7.0, "{}", metrics.text);
    assert_eq!(zone_serial("static.test."), serial("static.test"));
    assert_eq!(zone_serial("apps.local."), serial("apps.local"));
    let names = metrics.get(
        "berth_zone_names",
        &[("zone", "static.test."), ("kind", "static")],
    );
    assert_eq!(names, 3.0, "apex, ns and www:\n{}", metrics.text);
    assert_eq!(metrics.get("berth_zone_files", &[("state", "loaded")]), 2.0);
    assert_eq!(
        metrics.get("berth_zone_files", &[("state", "rejected")]),
        1.0
    );

    let upstream = |metric: &str, address: &str| metrics.get(metric, &[("upstream", address)]);
    assert_eq!(upstream("berth_upstream_failures_total", &dead), 1.0);
    assert_eq!(upstream("berth_upstream_failures_total", &live), 0.0);
    assert_eq!(upstream("berth_upstream_queries_total", &live), 1.0);
    assert_eq!(upstream("berth_upstream_failing", &dead), 1.0);
    assert_eq!(metrics.get("berth_forward_cache_misses_total", &[]), 1.0);
    assert_eq!(metrics.get("berth_forward_cache_hits_total", &[]), 1.0);
    assert_eq!(metrics.get("berth_forward_cache_entries", &[]), 1.0);
    assert_eq!(metrics.get("berth_forward_failures_total", &[]), 0.0);
    assert!(metrics.get("berth_queries_total", &[("transport", "tcp")]) >= 1.0);
    assert_eq!(metrics.get("berth_docker_connected", &[]), 0.0);
    for described in [
        "berth_tcp_connections_open",
        "berth_tcp_connections_refused_total",
        "berth_forward_cache_evictions_total",
        "berth_docker_last_sync_timestamp_seconds",
    ] {
        assert!(
            metrics.describes(described),
            "{described}:\n{}",
            metrics.text
        );
    }
}
