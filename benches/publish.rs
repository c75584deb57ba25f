//! What one container starting costs the registry when many are running:
//! the time to apply its records and publish a new snapshot, and the memory
//! the registry holds per 10,000 containers. Drives [`berth::registry::Writer`]
//! directly, without sockets or sources.
//!
//!     cargo bench --bench publish [-- 10000 100000]
//!
//! Prints figures; asserts nothing (timings are never test assertions).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use berth::registry::{Change, Entity, NameServer, Record, SourceId, Writer, ZoneSettings};
use hickory_proto::rr::Name;

/// Upserts timed at each size; the median and the worst are printed.
const SAMPLES: usize = 200;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    for containers in sizes {
        measure(containers);
    }
}

fn measure(containers: usize) {
    let zone = Name::from_ascii("apps.local.").expect("valid zone");
    let rss_before = rss_kib();
    let mut writer = Writer::new(ZoneSettings {
        zones: vec![zone.clone()],
        ttl: 5,
        soa_minimum: 5,
        name_servers: NameServer::usual(Some(IpAddr::V4(Ipv4Addr::LOCALHOST))),
        wildcard_target: None,
        ixfr_journal: 100,
    });
    let loading = Instant::now();
    writer.apply(Change::Replace {
        source: SourceId::Docker,
        entities: (0..containers).map(|i| container(i, &zone)).collect(),
    });
    let first = writer.publish();
    let load_time = loading.elapsed();
    let rss_loaded = rss_kib();

    // One container at a time starts among the others, as `docker run` does.
    let mut times: Vec<Duration> = (0..SAMPLES)
        .map(|k| {
            let change = Change::Upsert {
                source: SourceId::Docker,
                entity: container(containers + k, &zone),
            };
            let start = Instant::now();
            writer.apply(change);
            let snapshot = writer.publish();
            let elapsed = start.elapsed();
            drop(snapshot);
            elapsed
        })
        .collect();
    times.sort();
    drop(first);
    let per_10k = (rss_loaded.saturating_sub(rss_before)) as f64 / containers as f64 * 10_000.0;
    println!(
        "publish: {containers} containers ({} names): one more container, apply + publish: \
         median {:.1} us, worst of {SAMPLES} {:.1} us; loading them all {:.0} ms; \
         RSS {:.1} MiB per 10,000 containers",
        containers * 3,
        micros(times[SAMPLES / 2]),
        micros(times[SAMPLES - 1]),
        load_time.as_secs_f64() * 1e3,
        per_10k / 1024.0,
    );
}

/// What the Docker source makes of a container with one exposed port: its
/// name, an SRV for the port, and the reverse PTR.
fn container(i: usize, zone: &Name) -> Entity {
    let name = Name::from_ascii(format!("c{i:06}"))
        .and_then(|n| n.append_domain(zone))
        .expect("valid name");
    let srv = Name::from_ascii(format!("_http._tcp.c{i:06}"))
        .and_then(|n| n.append_domain(zone))
        .expect("valid name");
    let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32 + 1));
    Entity::new(
        format!("container-{i}"),
        vec![
            Record::address(name.clone(), 5, ip),
            Record::srv(srv, 5, 8080, name.clone()),
            Record::reverse(ip, 5, name),
        ],
    )
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Resident set size from /proc/self/status, in KiB; 0 where unavailable.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
