//! What the docker source is told. `config.rs` builds [`Settings`] from the
//! flags; nothing in this source reads flags, files or the environment.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::filter::Filters;

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
    /// How often the running containers are listed to catch what the event
    /// stream missed; `None`: never (`--docker-reconcile 0`).
    pub reconcile: Option<Duration>,
    /// How long the last records stay served (with TTL 1) once the daemon
    /// cannot be followed; `None`: for as long as it takes.
    pub stale_limit: Option<Duration>,
    /// Which containers berth looks at at all (`--filter`).
    pub filters: Filters,
}

/// The longest any one Engine API call may take, however long the
/// reconciliation interval: a daemon that has not answered in this long is
/// treated as gone.
const LONGEST_CALL: Duration = Duration::from_secs(10);

impl Settings {
    /// How long one Engine API call may take: half the reconciliation
    /// interval (at most [`LONGEST_CALL`]), so a wedged call is given up
    /// before the next reconciliation is due and cannot hold it up.
    pub fn call_timeout(&self) -> Duration {
        self.reconcile
            .map_or(LONGEST_CALL, |every| (every / 2).min(LONGEST_CALL))
    }
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
