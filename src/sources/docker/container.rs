//! What berth needs to know about one container, read out of
//! `docker inspect` into berth's own terms.
//!
//! Everything Docker sends is optional in the API schema and is treated so:
//! a missing field means "not there", never a panic. Only the ID is required,
//! because without it the container cannot be tracked.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use bollard::models::{
    ContainerInspectResponse, ContainerState, EndpointSettings, HealthStatusEnum, HostConfig,
    PortMap,
};

/// Longest container ID: 256 bits in hex.
const MAX_ID_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The full ID: the registry entity's ID, and the key events use.
    pub id: String,
    /// The name without Docker's leading `/`.
    pub name: String,
    /// `--hostname`; Docker's default is the short ID.
    pub hostname: Option<String>,
    pub status: Status,
    pub health: Health,
    pub labels: BTreeMap<String, String>,
    /// Registrator's `SERVICE_*` variables from the environment; the rest of
    /// the environment (secrets, often) is never kept.
    pub service_env: BTreeMap<String, String>,
    /// Ports the image or `--expose` declares, sorted.
    pub exposed: Vec<Port>,
    /// Host ports each container port is published on, for `--address host`.
    pub published: BTreeMap<Port, Vec<u16>>,
    /// Attached networks: the one the container was created on first, then
    /// the others by name, so "the first network" is stable.
    pub networks: Vec<Network>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Paused,
    Restarting,
    /// Created, exited, dead or being removed.
    NotRunning,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// No healthcheck: counts as healthy.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(text: &str) -> Option<Proto> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }

    /// The label RFC 2782 puts after the service: `_tcp`, without the `_`.
    pub fn label(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// A container port and its transport, as Docker writes `80/tcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    pub number: u16,
    pub proto: Proto,
}

impl Port {
    /// `80/tcp`, `53/udp`; a bare number is TCP, as in Docker.
    pub fn parse(text: &str) -> Option<Port> {
        let (number, proto) = match text.split_once('/') {
            Some((number, proto)) => (number, Proto::parse(proto)?),
            None => (text, Proto::Tcp),
        };
        let number = number.trim().parse().ok().filter(|&n| n != 0)?;
        Some(Port { number, proto })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    /// The network's ID, for `--filter network=` by ID prefix.
    pub id: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// `--network-alias`, compose's `aliases:` and service name: names
    /// Docker's DNS gives this container on this network only.
    pub aliases: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("docker sent a container without a usable ID")]
pub struct MissingId;

/// Docker IDs are hex. Anything else is refused before it is put into a
/// request path.
pub fn is_container_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_ID_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Container {
    /// Reads one `docker inspect`; each part has a helper below.
    pub fn from_inspect(inspect: ContainerInspectResponse) -> Result<Container, MissingId> {
        let id = inspect
            .id
            .filter(|id| is_container_id(id))
            .ok_or(MissingId)?;
        let name = inspect
            .name
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default();
        let state = inspect.state.unwrap_or_default();
        let config = inspect.config.unwrap_or_default();
        let network = inspect.network_settings.unwrap_or_default();
        let primary = primary_network(inspect.host_config);
        Ok(Container {
            id,
            name,
            hostname: config.hostname.clone().filter(|h| !h.is_empty()),
            status: status(&state),
            health: health(state.health.and_then(|h| h.status)),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            service_env: service_env(config.env.unwrap_or_default()),
            exposed: exposed(config.exposed_ports.unwrap_or_default()),
            published: published(network.ports.unwrap_or_default()),
            networks: networks(network.networks.unwrap_or_default(), primary.as_deref()),
        })
    }
}

fn status(state: &ContainerState) -> Status {
    match (
        state.running.unwrap_or(false),
        state.paused.unwrap_or(false),
        state.restarting.unwrap_or(false),
    ) {
        (true, true, _) => Status::Paused,
        (true, _, true) => Status::Restarting,
        (true, false, false) => Status::Running,
        (false, _, _) => Status::NotRunning,
    }
}

fn health(status: Option<HealthStatusEnum>) -> Health {
    match status {
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) | None => Health::None,
    }
}

/// Registrator's `SERVICE_*` variables out of `KEY=VALUE` pairs; the rest
/// are dropped here, never stored.
fn service_env(env: Vec<String>) -> BTreeMap<String, String> {
    env.into_iter()
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.starts_with("SERVICE_")
                .then(|| (key.to_string(), value.to_string()))
        })
        .collect()
}

/// `80/tcp`-style port keys, sorted, each once; unreadable ones skipped.
fn exposed(ports: Vec<String>) -> Vec<Port> {
    let mut exposed: Vec<Port> = ports.iter().filter_map(|p| Port::parse(p)).collect();
    exposed.sort();
    exposed.dedup();
    exposed
}

/// The host ports each container port is bound to; ports bound to none
/// are left out.
fn published(ports: PortMap) -> BTreeMap<Port, Vec<u16>> {
    let mut published = BTreeMap::new();
    for (port, bindings) in ports {
        let Some(port) = Port::parse(&port) else {
            continue;
        };
        let mut hosts: Vec<u16> = bindings
            .unwrap_or_default()
            .iter()
            .filter_map(|b| b.host_port.as_deref()?.parse().ok())
            .filter(|&n: &u16| n != 0)
            .collect();
        hosts.sort();
        // 0.0.0.0 and :: usually share one host port.
        hosts.dedup();
        if !hosts.is_empty() {
            published.insert(port, hosts);
        }
    }
    published
}

/// The network the container was created on. Docker calls the default
/// bridge "default" in the mode and "bridge" in the map of networks.
fn primary_network(host_config: Option<HostConfig>) -> Option<String> {
    let mode = host_config?.network_mode?;
    Some(if mode == "default" {
        "bridge".to_string()
    } else {
        mode
    })
}

/// The attached networks, `primary` first, then the others by name.
fn networks(endpoints: HashMap<String, EndpointSettings>, primary: Option<&str>) -> Vec<Network> {
    let mut networks: Vec<Network> = endpoints
        .into_iter()
        .map(|(name, endpoint)| Network {
            name,
            id: endpoint.network_id.unwrap_or_default(),
            aliases: endpoint.aliases.unwrap_or_default(),
            ipv4: endpoint.ip_address.as_deref().and_then(|a| a.parse().ok()),
            ipv6: endpoint
                .global_ipv6_address
                .as_deref()
                .and_then(|a| a.parse().ok()),
        })
        .collect();
    networks.sort_by(|a, b| {
        let rank = |n: &Network| Some(n.name.as_str()) != primary;
        (rank(a), &a.name).cmp(&(rank(b), &b.name))
    });
    networks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from a real `docker inspect` of Docker 20.10.
    const INSPECT: &str = r#"{
        "Id": "1d25491e1907ee3912d181ab18b2d155e6400716d0e4345cef28a8ba32c0b109",
        "Name": "/probe1",
        "State": {"Status": "running", "Running": true, "Paused": false,
                  "Restarting": false, "Health": {"Status": "starting"}},
        "HostConfig": {"NetworkMode": "default"},
        "Config": {"Hostname": "box", "Env": ["PATH=/bin", "SERVICE_NAME=db", "SECRET=x"],
                   "Labels": {"com.docker.compose.service": "web"},
                   "ExposedPorts": {"8080/tcp": {}, "9000/tcp": {}, "53/udp": {}}},
        "NetworkSettings": {
            "Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"},
                                   {"HostIp": "::", "HostPort": "32768"}],
                      "9000/tcp": null},
            "Networks": {
                "zeta": {"IPAddress": "10.9.0.2", "GlobalIPv6Address": "fd00:9::2",
                         "Aliases": ["api", "1d25491e1907"]},
                "bridge": {"IPAddress": "172.17.0.2", "GlobalIPv6Address": ""},
                "alpha": {"IPAddress": "", "GlobalIPv6Address": ""}
            }
        }
    }"#;

    fn container() -> Container {
        let inspect: ContainerInspectResponse = serde_json::from_str(INSPECT).unwrap();
        Container::from_inspect(inspect).unwrap()
    }

    #[test]
    fn reads_state_and_health() {
        let c = container();
        assert_eq!(c.name, "probe1");
        assert_eq!(c.hostname.as_deref(), Some("box"));
        assert_eq!(c.status, Status::Running);
        assert_eq!(c.health, Health::Starting);
    }

    #[test]
    fn keeps_only_registrator_variables() {
        let c = container();
        assert_eq!(c.service_env.len(), 1);
        assert_eq!(c.service_env["SERVICE_NAME"], "db");
    }

    #[test]
    fn reads_ports() {
        let c = container();
        let tcp = |number| Port {
            number,
            proto: Proto::Tcp,
        };
        assert_eq!(
            c.exposed,
            vec![
                Port {
                    number: 53,
                    proto: Proto::Udp
                },
                tcp(8080),
                tcp(9000)
            ]
        );
        assert_eq!(c.published.get(&tcp(8080)), Some(&vec![32768]));
        assert!(!c.published.contains_key(&tcp(9000)));
    }

    #[test]
    fn the_network_it_was_created_on_comes_first() {
        let c = container();
        let names: Vec<&str> = c.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["bridge", "alpha", "zeta"]);
        assert_eq!(c.networks[0].ipv4, Some(Ipv4Addr::new(172, 17, 0, 2)));
        assert_eq!(c.networks[1].ipv4, None);
        assert_eq!(c.networks[2].ipv6, Some("fd00:9::2".parse().unwrap()));
        assert_eq!(c.networks[2].aliases, ["api", "1d25491e1907"]);
    }

    #[test]
    fn refuses_ids_that_are_not_hex() {
        assert!(is_container_id("1d25491e1907"));
        assert!(!is_container_id("../../info?"));
        assert!(!is_container_id(""));
        let inspect = ContainerInspectResponse {
            id: Some("x/../y".into()),
            ..Default::default()
        };
        assert!(Container::from_inspect(inspect).is_err());
    }
}
