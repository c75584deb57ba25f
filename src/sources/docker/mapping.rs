//! The naming rules (DESIGN.md, "Naming"): one inspected container in, the
//! registry entity that serves it out. Pure: no I/O, no clock, no logging;
//! what had to be skipped is returned for the caller to report.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::container::{Container, Health, Network, Port, Proto, Status};
use super::naming::{self, NameError, Relative};
use super::settings::{Addresses, Expose, Settings};
use crate::registry::{Entity, Record};

const LABEL_ENABLE: &str = "berth.enable";
const LABEL_TTL: &str = "berth.ttl";
const LABEL_NAMES: &str = "berth.names";
const LABEL_PORT_PREFIX: &str = "berth.port.";
const LABEL_COMPOSE_SERVICE: &str = "com.docker.compose.service";
const LABEL_COMPOSE_PROJECT: &str = "com.docker.compose.project";

/// The result of mapping one container.
#[derive(Debug, Default)]
pub struct Mapped {
    /// `None` when the container is not served at all: hidden, stopped,
    /// paused, unhealthy, or without an address to give out.
    pub entity: Option<Entity>,
    /// Names and labels that were ignored, with the reason.
    pub skipped: Vec<Skipped>,
    /// Why `entity` is `None`, for the operator.
    pub hidden: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// What was ignored: `berth.names "evil.com."`.
    pub what: String,
    pub why: String,
}

/// Docker's length of a short container ID, its name in Docker's DNS.
const SHORT_ID: usize = 12;

/// One SRV service a container offers: `_<service>._<proto>`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Service {
    name: String,
    proto: Proto,
    port: u16,
}

/// A registrator-style service: its label, tags, and the container port
/// its SRV records give.
#[derive(Clone, Debug)]
struct Registered {
    label: String,
    tags: Vec<String>,
    port: Option<Port>,
}

pub fn map(container: &Container, settings: &Settings) -> Mapped {
    let mut skipped = Vec::new();
    let hidden = |why| Mapped {
        hidden: Some(why),
        ..Mapped::default()
    };
    if let Some(why) = not_exposed(container, settings.expose) {
        return hidden(why);
    }
    if let Some(why) = not_served(container, settings) {
        return hidden(why);
    }
    let addresses = addresses(container, &settings.addresses);
    if addresses.is_empty() {
        return hidden("no address on the network berth serves");
    }
    let canonical = Relative::single(&container.name);
    if canonical.is_none() {
        skipped.push(skip(
            format!("container name {:?}", container.name),
            NameError::EmptyLabel,
        ));
    }
    let plan = Plan {
        ttl: ttl(container, settings.ttl, &mut skipped),
        docker_names: docker_names(container, &addresses, settings, &mut skipped),
        hosts: host_names(container, canonical.as_ref(), &mut skipped),
        services: services(container, &settings.addresses, &mut skipped),
        registered: registered(container, &settings.addresses, &mut skipped),
        container,
        mode: &settings.addresses,
        addresses,
        canonical,
    };

    let mut records = Vec::new();
    for zone in &settings.zones {
        let mut placer = Placer::new(zone, &settings.reserved, &mut skipped);
        plan.place_in(zone, &mut placer, &mut records);
    }
    // The host's address belongs to the host: only container addresses get
    // a PTR, to the container's name in the first zone.
    if let Addresses::Container { .. } = settings.addresses
        && let Some(zone) = settings.zones.first()
    {
        plan.reverse(zone, &mut records);
    }
    let mut entity = Entity::new(container.id.clone(), unique(records));
    entity.title = Some(container.name.clone());
    Mapped {
        entity: Some(entity),
        skipped,
        hidden: None,
    }
}

/// Everything one container's records are made from, zone-independent.
struct Plan<'a> {
    container: &'a Container,
    mode: &'a Addresses,
    addresses: Vec<IpAddr>,
    ttl: u32,
    /// The container's own name: the target of its SRV and PTR records.
    canonical: Option<Relative>,
    /// Names that get the addresses and, unless wildcards, the SRV records.
    hosts: Vec<Relative>,
    /// Names Docker's embedded DNS gives the container (short ID,
    /// hostname, network aliases), each with its addresses: an alias's
    /// are those on its network.
    docker_names: Vec<(Relative, Vec<IpAddr>)>,
    services: Vec<Service>,
    registered: Vec<Registered>,
}

impl Plan<'_> {
    fn place_in(&self, zone: &Name, place: &mut Placer<'_>, records: &mut Vec<Record>) {
        let ttl = self.ttl;
        let target = self.canonical.as_ref().and_then(|c| c.under(zone).ok());
        let address_records = |name: Name, records: &mut Vec<Record>| {
            for ip in &self.addresses {
                records.push(Record::address(name.clone(), ttl, *ip));
            }
        };
        for host in &self.hosts {
            let Some(name) = place.at(host) else {
                continue;
            };
            address_records(name, records);
            // A wildcard SRV owner would answer every `_x._y` below it.
            let Some(target) = target.as_ref().filter(|_| !host.is_wildcard()) else {
                continue;
            };
            for service in &self.services {
                let owner = host.service(&service.name, service.proto.label());
                if let Some(owner) = place.at(&owner) {
                    records.push(Record::srv(owner, ttl, service.port, target.clone()));
                }
            }
        }
        for (name, addresses) in &self.docker_names {
            if let Some(name) = place.at(name) {
                for ip in addresses {
                    records.push(Record::address(name.clone(), ttl, *ip));
                }
            }
        }
        for service in &self.registered {
            let Some(base) = Relative::single(&service.label) else {
                continue;
            };
            let tagged = service.tags.iter().map(|tag| base.child(tag));
            for name in std::iter::once(base.clone()).chain(tagged) {
                if let Some(name) = place.at(&name) {
                    address_records(name, records);
                }
            }
            let (Some(port), Some(target)) = (service.port, &target) else {
                continue;
            };
            let owner = Relative::zone_service(&service.label, port.proto.label());
            if let Some(owner) = place.at(&owner) {
                for number in client_ports(self.container, self.mode, port) {
                    records.push(Record::srv(owner.clone(), ttl, number, target.clone()));
                }
            }
        }
    }

    /// A PTR for each address, to the container's name in `zone`.
    fn reverse(&self, zone: &Name, records: &mut Vec<Record>) {
        let Some(target) = self.canonical.as_ref().and_then(|c| c.under(zone).ok()) else {
            return;
        };
        for ip in &self.addresses {
            records.push(Record::reverse(*ip, self.ttl, target.clone()));
        }
    }
}

/// Places relative names under one zone, skipping the zone's own name
/// servers and names too long for it.
struct Placer<'a> {
    zone: &'a Name,
    /// The zones' name servers, whose addresses berth's configuration owns.
    reserved: &'a [Name],
    skipped: &'a mut Vec<Skipped>,
}

impl<'a> Placer<'a> {
    fn new(zone: &'a Name, reserved: &'a [Name], skipped: &'a mut Vec<Skipped>) -> Self {
        Placer {
            zone,
            reserved,
            skipped,
        }
    }

    fn at(&mut self, relative: &Relative) -> Option<Name> {
        let placed = relative.under(self.zone).and_then(|name| {
            if self.reserved.contains(&name) {
                Err(NameError::Reserved)
            } else {
                Ok(name)
            }
        });
        placed
            .map_err(|error| self.skipped.push(skip(format!("name {relative}"), error)))
            .ok()
    }
}

fn skip(what: String, why: impl std::fmt::Display) -> Skipped {
    Skipped {
        what,
        why: why.to_string(),
    }
}

/// Why the container's labels, under `--expose`, keep it out, if they do.
/// `berth.enable=false` always does (Traefik's habit); with `labelled`, a
/// container must opt in with `berth.enable=true` or a `berth.names`.
fn not_exposed(container: &Container, expose: Expose) -> Option<&'static str> {
    let enable = container
        .labels
        .get(LABEL_ENABLE)
        .map(|value| value.trim().to_ascii_lowercase());
    let enable = enable.as_deref();
    if matches!(enable, Some("false" | "0" | "no" | "off")) {
        return Some("berth.enable=false");
    }
    let opted_in = matches!(enable, Some("true" | "1" | "yes" | "on"))
        || container
            .labels
            .get(LABEL_NAMES)
            .is_some_and(|names| !names.trim().is_empty());
    match expose {
        Expose::All => None,
        Expose::Labelled if opted_in => None,
        Expose::Labelled => Some("no berth.enable=true or berth.names label (--expose labelled)"),
    }
}

/// Why a container's state keeps it from being served, if it does.
fn not_served(container: &Container, settings: &Settings) -> Option<&'static str> {
    match container.status {
        Status::Running => {}
        Status::Paused => return Some("paused"),
        Status::Restarting => return Some("restarting"),
        Status::NotRunning => return Some("not running"),
    }
    match container.health {
        Health::None | Health::Healthy => None,
        Health::Starting if settings.serve_starting => None,
        Health::Starting => Some("health: starting (served with --serve-starting)"),
        Health::Unhealthy => Some("unhealthy"),
    }
}

fn ttl(container: &Container, default: u32, skipped: &mut Vec<Skipped>) -> u32 {
    let Some(text) = container.labels.get(LABEL_TTL) else {
        return default;
    };
    match text.trim().parse::<u32>() {
        // RFC 2181 §8: a TTL is at most 2^31 - 1.
        Ok(ttl) if ttl <= i32::MAX as u32 => ttl,
        _ => {
            skipped.push(skip(
                format!("{LABEL_TTL} {text:?}"),
                "not a number of seconds below 2^31",
            ));
            default
        }
    }
}

/// A network's addresses, IPv4 first.
fn on_network(network: &Network) -> Vec<IpAddr> {
    let v4 = network.ipv4.map(IpAddr::V4);
    let v6 = network.ipv6.map(IpAddr::V6);
    v4.into_iter().chain(v6).collect()
}

fn addresses(container: &Container, mode: &Addresses) -> Vec<IpAddr> {
    let network = match mode {
        Addresses::Host { ip } => return vec![*ip],
        Addresses::Container {
            network: Some(name),
        } => container.networks.iter().find(|n| &n.name == name),
        Addresses::Container { network: None } => container
            .networks
            .iter()
            .find(|n| n.ipv4.is_some() || n.ipv6.is_some()),
    };
    network.map(on_network).unwrap_or_default()
}

/// The names Docker's embedded DNS answers for a container, as berth
/// serves them: its short ID and `--hostname` (when it is not the short
/// ID) with the container's `addresses`, and each network alias with the
/// address on that network — only `--network`'s aliases when one is named,
/// and the host's address with `--address host`. A name that is the
/// container's own is left to it.
fn docker_names(
    container: &Container,
    addresses: &[IpAddr],
    settings: &Settings,
    skipped: &mut Vec<Skipped>,
) -> Vec<(Relative, Vec<IpAddr>)> {
    let own = Relative::single(&container.name);
    let short_id = container.id.get(..SHORT_ID).unwrap_or(&container.id);
    let mut names: Vec<(Relative, Vec<IpAddr>)> = Vec::new();
    let mut add = |what: String, text: &str, addresses: Vec<IpAddr>| {
        let labels: Vec<&str> = text.split('.').collect();
        match Relative::of_labels(&labels) {
            Some(name) if Some(&name) == own.as_ref() => {}
            Some(name) => match names.iter_mut().find(|(known, _)| *known == name) {
                Some((_, known)) => known.extend(addresses),
                None => names.push((name, addresses)),
            },
            None => skipped.push(skip(what, NameError::EmptyLabel)),
        }
    };
    add(
        format!("short ID {short_id:?}"),
        short_id,
        addresses.to_vec(),
    );
    if let Some(hostname) = container.hostname.as_deref().filter(|h| *h != short_id) {
        add(
            format!("hostname {hostname:?}"),
            hostname,
            addresses.to_vec(),
        );
    }
    for network in &container.networks {
        let served = match &settings.addresses {
            Addresses::Host { .. } => addresses.to_vec(),
            Addresses::Container {
                network: Some(name),
            } if *name != network.name => continue,
            Addresses::Container { .. } => on_network(network),
        };
        if served.is_empty() {
            continue;
        }
        for alias in &network.aliases {
            let what = format!("network alias {alias:?} on {}", network.name);
            add(what, alias, served.clone());
        }
    }
    names
        .into_iter()
        .map(|(name, addresses)| (name, unique(addresses)))
        .collect()
}

/// The container ports clients can reach: every exposed one with container
/// addresses; with the host's address, only those published.
fn offered_ports(container: &Container, mode: &Addresses) -> Vec<Port> {
    match mode {
        Addresses::Container { .. } => container.exposed.clone(),
        Addresses::Host { .. } => container.published.keys().copied().collect(),
    }
}

/// The port numbers clients use for a container port: the port itself, or
/// the host ports it is published on.
fn client_ports(container: &Container, mode: &Addresses, port: Port) -> Vec<u16> {
    match mode {
        Addresses::Container { .. } => vec![port.number],
        Addresses::Host { .. } => container.published.get(&port).cloned().unwrap_or_default(),
    }
}

/// SRV services from offered ports (named by IANA, else by number) and from
/// `berth.port.<svc>=<port>[/udp]` labels.
fn services(container: &Container, mode: &Addresses, skipped: &mut Vec<Skipped>) -> Vec<Service> {
    let mut named: Vec<(String, Port)> = offered_ports(container, mode)
        .into_iter()
        .map(|port| (naming::port_service(port.number), port))
        .collect();
    for (key, value) in &container.labels {
        let Some(service) = key.strip_prefix(LABEL_PORT_PREFIX) else {
            continue;
        };
        match (naming::label(service), Port::parse(value)) {
            (Some(service), Some(port)) => named.push((service, port)),
            (None, _) => skipped.push(skip(format!("label {key:?}"), NameError::EmptyLabel)),
            (_, None) => skipped.push(skip(
                format!("label {key:?}={value:?}"),
                "not PORT, PORT/tcp or PORT/udp",
            )),
        }
    }
    let mut services: Vec<Service> = Vec::new();
    for (name, port) in named {
        let numbers = client_ports(container, mode, port);
        if numbers.is_empty() {
            skipped.push(skip(
                format!("SRV _{name}._{}", port.proto.label()),
                format!("port {} is not published", port.number),
            ));
        }
        for number in numbers {
            let service = Service {
                name: name.clone(),
                proto: port.proto,
                port: number,
            };
            if !services.contains(&service) {
                services.push(service);
            }
        }
    }
    services
}

/// `berth.names` entries and `<service>.<project>`, after the container's
/// own name.
fn host_names(
    container: &Container,
    canonical: Option<&Relative>,
    skipped: &mut Vec<Skipped>,
) -> Vec<Relative> {
    let mut hosts: Vec<Relative> = canonical.into_iter().cloned().collect();
    let compose = (
        container.labels.get(LABEL_COMPOSE_SERVICE),
        container.labels.get(LABEL_COMPOSE_PROJECT),
    );
    if let (Some(service), Some(project)) = compose {
        match Relative::of_labels(&[service, project]) {
            Some(name) => hosts.push(name),
            None => skipped.push(skip(
                format!("compose service {service:?} of project {project:?}"),
                NameError::EmptyLabel,
            )),
        }
    }
    if let Some(list) = container.labels.get(LABEL_NAMES) {
        for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
            match Relative::parse(entry) {
                Ok(name) => hosts.push(name),
                Err(error) => skipped.push(skip(format!("{LABEL_NAMES} {entry:?}"), error)),
            }
        }
    }
    unique(hosts)
}

/// `items` without repeats, first occurrences kept in order. The lists are
/// a container's names and records: short, so a scan beats hashing.
fn unique<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

/// Registrator's `SERVICE_NAME`, `SERVICE_<port>_NAME`, `SERVICE_TAGS` and
/// `SERVICE_<port>_TAGS`, from labels or, failing that, the environment.
/// As registrator does, a container with several ports and one
/// `SERVICE_NAME` gets one service per port, named `<name>-<port>`.
fn registered(
    container: &Container,
    mode: &Addresses,
    skipped: &mut Vec<Skipped>,
) -> Vec<Registered> {
    let lookup = |key: &str| {
        container
            .labels
            .get(key)
            .or_else(|| container.service_env.get(key))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let tags_of = |text: Option<&str>| -> Vec<String> {
        let mut tags: Vec<String> = text
            .into_iter()
            .flat_map(|t| t.split(','))
            .filter_map(naming::label)
            .collect();
        tags.sort();
        tags.dedup();
        tags
    };
    let ports = offered_ports(container, mode);
    let default_name = lookup("SERVICE_NAME");
    let default_tags = lookup("SERVICE_TAGS");

    let mut wanted: Vec<(String, Vec<String>, Option<Port>)> = Vec::new();
    if ports.is_empty()
        && let Some(name) = default_name
    {
        wanted.push((name.to_string(), tags_of(default_tags), None));
    }
    for &port in &ports {
        let number = port.number;
        let name = match (lookup(&format!("SERVICE_{number}_NAME")), default_name) {
            (Some(name), _) => name.to_string(),
            (None, Some(name)) if ports.len() > 1 => format!("{name}-{number}"),
            (None, Some(name)) => name.to_string(),
            (None, None) => continue,
        };
        let tags = tags_of(lookup(&format!("SERVICE_{number}_TAGS")).or(default_tags));
        wanted.push((name, tags, Some(port)));
    }
    wanted
        .into_iter()
        .filter_map(|(name, tags, port)| match naming::label(&name) {
            Some(label) => Some(Registered { label, tags, port }),
            None => {
                skipped.push(skip(
                    format!("registrator name {name:?}"),
                    NameError::EmptyLabel,
                ));
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
