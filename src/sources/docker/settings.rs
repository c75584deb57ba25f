//! What the docker source is told. `config.rs` builds [`Settings`] from the
//! flags; nothing in this source reads flags, files or the environment.

use std::net::IpAddr;

use hickory_proto::rr::Name;

/// Everything the docker source runs with; the same for every container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The daemon: `unix:///var/run/docker.sock`, `tcp://host:2375`.
    pub endpoint: String,
    /// Every name is placed in each of these zones.
    pub zones: Vec<Name>,
    /// Names in those zones no container may take: the zones' name servers.
    pub reserved: Vec<Name>,
    /// TTL unless a container sets `berth.ttl`.
    pub ttl: u32,
    pub addresses: Addresses,
    /// Serve containers whose healthcheck has not passed yet.
    pub serve_starting: bool,
    /// Which containers are served unless their labels say otherwise.
    pub expose: Expose,
}

/// `--expose`: whether a container must ask to be served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expose {
    /// Every container, unless labelled `berth.enable=false`.
    #[default]
    All,
    /// Only containers labelled `berth.enable=true` or `berth.names`:
    /// on a shared host, other people's containers stay out of the zone.
    Labelled,
}

impl Expose {
    pub fn as_str(self) -> &'static str {
        match self {
            Expose::All => "all",
            Expose::Labelled => "labelled",
        }
    }
}

/// Which address a container's names resolve to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// The container's own IP on `network`, or on the network it was
    /// created on (else the first with an address).
    Container { network: Option<String> },
    /// The host's IP for every container; SRV ports are the published
    /// host ports, so clients on other machines can reach them.
    Host { ip: IpAddr },
}
