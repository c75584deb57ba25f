//! The HTTP endpoints operators use: health, Prometheus metrics, records.

use crate::support::{Berth, http_get as get, require};

#[test]
fn healthz_metrics_and_records() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = Berth::with_zone_file("$TTL 60\ngateway IN A 192.0.2.1\n", &[]);
    berth.wait_for_log("http listening");
    let http = berth.http_addr().expect("http address in the log");

    assert_eq!(get(http, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get(http, "/nope").0, 404);

    assert_eq!(berth.dig(&["gateway.apps.local", "A"]).status, "NOERROR");
    assert_eq!(berth.dig(&["missing.apps.local", "A"]).status, "NXDOMAIN");
    assert_eq!(berth.dig(&["example.com", "A"]).status, "REFUSED");
    let (status, metrics) = get(http, "/metrics");
    assert_eq!(status, 200);
    let value = |line_start: &str| -> u64 {
        metrics
            .lines()
            .find(|line| line.starts_with(line_start))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{line_start} missing from:\n{metrics}"))
    };
    assert!(value("berth_queries_total{transport=\"udp\"}") >= 3);
    assert!(value("berth_answers_total{rcode=\"NXDOMAIN\"}") >= 1);
    assert!(value("berth_refused_total") >= 1);
    assert!(value("berth_zone_serial{zone=\"apps.local.\"}") > 0);

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
}
