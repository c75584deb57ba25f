//! Each row of DESIGN.md's naming table, through dig against the real
//! binary following the real daemon.

use super::{a, berth, eventually_a, eventually_gone};
use crate::support::docker::{Scope, must, require_docker};
use crate::support::wait_until;

#[test]
fn container_name_is_sanitised_and_gets_a_ptr() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("name");
    let berth = berth(&[]);
    let container = scope.name("Web_1.x");
    scope.run(&container, &[]);
    let ip = scope.ip(&container, "bridge");

    let dns = format!("{}-web-1-x", scope.prefix);
    eventually_a(&berth, &dns, &[&ip]);
    let ptr = berth.dig(&["-x", &ip]);
    assert_eq!(ptr.rdata("PTR"), [format!("{dns}.apps.local.")]);
    assert!(ptr.has_flag("aa"), "{}", ptr.raw);
}

#[test]
fn compose_service_answers_with_every_healthy_replica() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("compose");
    let berth = berth(&[]);
    let project = scope.name("Shop");
    let service = format!("--label=com.docker.compose.project={project}");
    let labels = [service.as_str(), "--label=com.docker.compose.service=web"];
    scope.run(&scope.name("web-1"), &labels);
    scope.run(&scope.name("web-2"), &labels);
    let sick = scope.name("web-3");
    let mut failing = labels.to_vec();
    failing.extend([
        "--health-cmd=exit 1",
        "--health-interval=1s",
        "--health-retries=1",
    ]);
    scope.run(&sick, &failing);
    let ips = [
        scope.ip(&scope.name("web-1"), "bridge"),
        scope.ip(&scope.name("web-2"), "bridge"),
    ];
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();

    let rrset = format!("web.{}", project.to_ascii_lowercase());
    eventually_a(&berth, &rrset, &ips);
    let unhealthy =
        wait_until(|| must(&["inspect", "-f", "{{.State.Health.Status}}", &sick]) == "unhealthy");
    assert!(unhealthy, "the failing replica never turned unhealthy");
    eventually_a(&berth, &rrset, &ips);
    eventually_gone(&berth, &scope.name("web-3"));
}

#[test]
fn berth_names_are_relative_and_take_wildcards() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("names");
    let berth = berth(&[]);
    let p = &scope.prefix;
    let container = scope.name("c");
    scope.run(
        &container,
        &[&format!("--label=berth.names=API.{p}, *.preview.{p}")],
    );
    let ip = scope.ip(&container, "bridge");

    eventually_a(&berth, &format!("api.{p}"), &[&ip]);
    assert_eq!(a(&berth, &format!("pr-7.preview.{p}")), [ip.as_str()]);
    assert_eq!(a(&berth, &format!("a.b.preview.{p}")), [ip.as_str()]);
    assert_eq!(a(&berth, &container), [ip]);
}

#[test]
fn srv_records_from_exposed_ports_and_port_labels() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("srv");
    let berth = berth(&[]);
    let container = scope.name("api");
    scope.run(
        &container,
        &[
            "--expose=80",
            "--expose=8080",
            "--expose=53/udp",
            "--label=berth.port.metrics=9100",
            "--label=berth.port.dns=5353/udp",
        ],
    );
    let ip = scope.ip(&container, "bridge");
    eventually_a(&berth, &container, &[&ip]);

    let target = format!("{container}.apps.local.");
    let srv = |owner: &str| {
        berth
            .dig(&[&format!("{owner}.{container}.apps.local"), "SRV"])
            .rdata("SRV")
    };
    assert_eq!(srv("_http._tcp"), [format!("0 10 80 {target}")]);
    assert_eq!(srv("_8080._tcp"), [format!("0 10 8080 {target}")]);
    assert_eq!(srv("_domain._udp"), [format!("0 10 53 {target}")]);
    assert_eq!(srv("_metrics._tcp"), [format!("0 10 9100 {target}")]);
    assert_eq!(srv("_dns._udp"), [format!("0 10 5353 {target}")]);
    // The SRV target resolves, in the same answer (RFC 2782 additional data
    // is optional; the name must at least resolve).
    assert_eq!(a(&berth, &container), [ip]);
}

#[test]
fn registrator_service_names_and_tags() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("registrator");
    let berth = berth(&[]);
    let p = &scope.prefix;
    let db = scope.name("db1");
    scope.run(
        &db,
        &[
            "--expose=5432",
            &format!("--env=SERVICE_NAME={p}-pg"),
            "--env=SERVICE_TAGS=primary,eu",
        ],
    );
    let front = scope.name("front1");
    scope.run(
        &front,
        &[
            "--expose=80",
            "--expose=443",
            &format!("--label=SERVICE_80_NAME={p}-web"),
        ],
    );
    let db_ip = scope.ip(&db, "bridge");
    let front_ip = scope.ip(&front, "bridge");

    eventually_a(&berth, &format!("{p}-pg"), &[&db_ip]);
    assert_eq!(a(&berth, &format!("primary.{p}-pg")), [db_ip.as_str()]);
    assert_eq!(a(&berth, &format!("eu.{p}-pg")), [db_ip]);
    let srv = berth.dig(&[&format!("_{p}-pg._tcp.apps.local"), "SRV"]);
    assert_eq!(srv.rdata("SRV"), [format!("0 10 5432 {db}.apps.local.")]);

    eventually_a(&berth, &format!("{p}-web"), &[&front_ip]);
    let srv = berth.dig(&[&format!("_{p}-web._tcp.apps.local"), "SRV"]);
    assert_eq!(srv.rdata("SRV"), [format!("0 10 80 {front}.apps.local.")]);
}

#[test]
fn enable_false_hides_and_ttl_label_sets_the_ttl() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("labels");
    let berth = berth(&[]);
    let hidden = scope.name("hidden");
    scope.run(&hidden, &["--label=berth.enable=false"]);
    let shown = scope.name("shown");
    scope.run(&shown, &["--label=berth.ttl=42"]);
    let ip = scope.ip(&shown, "bridge");

    // Events are applied in order: once `shown` is served, `hidden` has
    // been seen too.
    eventually_a(&berth, &shown, &[&ip]);
    let answer = berth.dig(&[&format!("{shown}.apps.local"), "A"]);
    assert_eq!(answer.answer[0].ttl, 42, "{}", answer.raw);
    assert_eq!(
        berth.dig(&[&format!("{hidden}.apps.local"), "A"]).status,
        "NXDOMAIN"
    );
}

#[test]
fn hostile_names_and_labels_stay_inside_the_zone() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("hostile");
    let berth = berth(&[]);
    let container = scope.name("EVIL..name_");
    let long = "x".repeat(300);
    scope.run(
        &container,
        &[
            &format!("--label=berth.names=evil.example.com.,x.example.,*,a..b,ns,{long}"),
            "--label=com.docker.compose.project=../../etc",
            "--label=com.docker.compose.service=w\teb",
            "--label=SERVICE_NAME=!!!",
            "--label=berth.ttl=-5",
            "--label=berth.port.=80",
            "--label=berth.port.x=notaport",
        ],
    );
    let ip = scope.ip(&container, "bridge");

    let dns = format!("{}-evil--name", scope.prefix);
    eventually_a(&berth, &dns, &[&ip]);
    let answer = berth.dig(&[&format!("{dns}.apps.local"), "A"]);
    assert_eq!(answer.answer[0].ttl, 5, "a bad berth.ttl keeps the default");
    // Outside the zone berth answers nothing, and forwarding is off.
    assert_eq!(berth.dig(&["evil.example.com", "A"]).status, "REFUSED");
    assert_eq!(berth.dig(&["x.example", "A"]).status, "REFUSED");
    // Neither the zone's name server nor a zone-wide wildcard is taken.
    assert!(!a(&berth, "ns").contains(&ip));
    assert_eq!(
        berth.dig(&["nothing-here.apps.local", "A"]).status,
        "NXDOMAIN"
    );
    berth.wait_for_log("docker: name skipped");
}

#[test]
fn network_aliases_answer_with_the_address_on_that_network() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("alias");
    let p = &scope.prefix;
    let berth = berth(&[]);
    let front = scope.network("front");
    let alias = format!("api-{p}");
    // Created on the default bridge, then joined to front under the alias
    // (`docker network connect --alias`).
    let joined = scope.name("joined");
    scope.run(&joined, &[]);
    must(&["network", "connect", "--alias", &alias, &front, &joined]);
    // As compose runs a service: on its network, the service name an alias.
    let member = scope.name("member");
    scope.run(
        &member,
        &[
            &format!("--network={front}"),
            &format!("--network-alias={alias}"),
        ],
    );
    let joined_front = scope.ip(&joined, &front);
    let member_front = scope.ip(&member, &front);

    // Both containers share the alias, each with its address on front,
    // as Docker's own DNS answers on that network.
    eventually_a(&berth, &alias, &[&joined_front, &member_front]);
    // The container's own name keeps the address on its first network.
    let joined_bridge = scope.ip(&joined, "bridge");
    assert_eq!(a(&berth, &joined), [joined_bridge]);
}

#[test]
fn short_id_and_hostname_name_the_container() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("hostname");
    let p = &scope.prefix;
    let berth = berth(&[]);
    let named = scope.name("named");
    let id = scope.run(&named, &[&format!("--hostname=Box-{p}")]);
    let ip = scope.ip(&named, "bridge");
    let plain = scope.name("plain");
    let plain_id = scope.run(&plain, &[]);
    let plain_ip = scope.ip(&plain, "bridge");

    eventually_a(&berth, &plain_id[..12], &[&plain_ip]);
    assert_eq!(a(&berth, &id[..12]), [ip.as_str()]);
    assert_eq!(a(&berth, &format!("box-{p}")), [ip.as_str()]);
    // The short ID is Docker's default hostname: the same name, once.
    let answer = berth.dig(&[&format!("{}.apps.local", &plain_id[..12]), "A"]);
    assert_eq!(answer.answer.len(), 1, "{}", answer.raw);
}
