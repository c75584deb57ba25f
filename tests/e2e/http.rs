//! The HTTP endpoints operators use: health, Prometheus metrics, records.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{Berth, require};

pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to http");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read http");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

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
