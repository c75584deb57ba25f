//! The command line. Every flag is also an environment variable and a key in
//! the optional TOML file; [`crate::config::Config::resolve`] merges the
//! three (flag over variable over file over default) and validates the result.

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Deserializer, Serialize};

/// Authoritative DNS for the containers on a Docker host.
///
/// berth answers A, AAAA, SRV, PTR and TXT queries for names in its zones from
/// a live map of the host's containers and from RFC 1035 zone files, and
/// forwards every other query to upstream resolvers.
#[derive(Parser, Debug, Default, Deserialize, Serialize)]
#[command(name = "berth", version, about, long_about = None)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cli {
    /// Read settings from this TOML file; its keys are the long flag names.
    #[arg(long, env = "BERTH_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Check the configuration, print it as berth will run it (TOML, keys
    /// as in --config) and exit: 0 when it is good, 64 when it is not.
    #[arg(long)]
    #[serde(skip)]
    pub check: bool,

    /// Address to answer DNS on, UDP and TCP; repeatable, IPv6 as [::1]:1053.
    /// [default: 127.0.0.1:1053]
    #[arg(
        long,
        env = "BERTH_LISTEN",
        value_name = "ADDR:PORT",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub listen: Vec<String>,

    /// Zone berth is authoritative for; repeatable. [default: apps.local]
    #[arg(long, env = "BERTH_ZONE", value_name = "NAME", value_delimiter = ',')]
    #[serde(deserialize_with = "one_or_many")]
    pub zone: Vec<String>,

    /// Directory of RFC 1035 master files (*.zone), reloaded on SIGHUP and
    /// when a file changes. [default: ./zones when it exists]
    #[arg(long, env = "BERTH_ZONES", value_name = "DIR")]
    pub zones: Option<PathBuf>,

    /// Largest zone file berth reads, each $INCLUDEd file counted alone;
    /// K, M and G multiply by 1024. [default: 512M]
    #[arg(
        long,
        env = "BERTH_MAX_ZONE_FILE_SIZE",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub max_zone_file_size: Option<String>,

    /// Largest zone berth reads: its file and everything it $INCLUDEs,
    /// a file counted each time it is included. [default: 2G]
    #[arg(
        long,
        env = "BERTH_MAX_ZONE_SIZE",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub max_zone_size: Option<String>,

    /// TTL of generated records. [default: 5]
    #[arg(long, env = "BERTH_TTL", value_name = "SECONDS", allow_hyphen_values = true, value_parser = seconds)]
    pub ttl: Option<u32>,

    /// The SOA minimum: how long resolvers cache NXDOMAIN and NODATA
    /// (RFC 2308). [default: 5]
    #[arg(long, env = "BERTH_SOA_MINIMUM", value_name = "SECONDS", allow_hyphen_values = true, value_parser = seconds)]
    pub soa_minimum: Option<u32>,

    /// A name server of every zone, NAME=IP: relative names (ns1) are placed
    /// in each zone with that address; repeatable; the first is the SOA
    /// MNAME. [default: ns=<--ns-address>]
    #[arg(long, env = "BERTH_NS", value_name = "NAME=IP", value_delimiter = ',')]
    #[serde(deserialize_with = "one_or_many")]
    pub ns: Vec<String>,

    /// Address of ns.<zone>, the host the zone's NS record names, when no
    /// --ns is given.
    /// [default: the first --listen address, unless it is a wildcard]
    #[arg(long, env = "BERTH_NS_ADDRESS", value_name = "IP")]
    pub ns_address: Option<String>,

    /// Answer every otherwise unknown name in a zone with this address
    /// (a wildcard record, RFC 4592): the front-router model.
    #[arg(long, env = "BERTH_WILDCARD_TARGET", value_name = "IP")]
    pub wildcard_target: Option<String>,

    /// Docker Engine API endpoint, or "off".
    /// [default: $DOCKER_HOST, else unix:///var/run/docker.sock]
    #[arg(long, env = "BERTH_DOCKER", value_name = "URL|off")]
    pub docker: Option<String>,

    /// Which address a container's names get: "container" (its IP on
    /// --network, else on the network it was created on) or "host"
    /// (--host-ip, with SRV ports the published host ports).
    /// [default: container]
    #[arg(long, env = "BERTH_ADDRESS", value_name = "container|host")]
    pub address: Option<String>,

    /// The Docker network whose addresses containers get with
    /// --address container. [default: the network each was created on]
    #[arg(long, env = "BERTH_NETWORK", value_name = "NAME")]
    pub network: Option<String>,

    /// The host's address, given for every container with --address host.
    #[arg(long, env = "BERTH_HOST_IP", value_name = "IP")]
    pub host_ip: Option<String>,

    /// Also serve containers whose healthcheck has not passed yet
    /// (health "starting"). Unhealthy ones are never served.
    #[arg(long, env = "BERTH_SERVE_STARTING")]
    pub serve_starting: bool,

    /// Which containers are served: "all" (unless labelled
    /// berth.enable=false) or "labelled" (only those labelled
    /// berth.enable=true or berth.names). [default: all]
    #[arg(long, env = "BERTH_EXPOSE", value_name = "all|labelled")]
    pub expose: Option<String>,
    /// Seconds between listings of the running containers that catch what
    /// the event stream missed (a lost event, a stalled stream), or 0 for
    /// none. Every Docker API call is given at most half this long.
    /// [default: 30]
    #[arg(long, env = "BERTH_DOCKER_RECONCILE", value_name = "SECONDS")]
    pub docker_reconcile: Option<u64>,

    /// How long the last Docker records stay served, with TTL 1, while the
    /// daemon cannot be followed: 90s, 5m, 1h, or 0 for as long as it
    /// takes. [default: 5m]
    #[arg(long, env = "BERTH_STALE_LIMIT", value_name = "DURATION")]
    pub stale_limit: Option<String>,

    /// Look only at containers that pass this filter, in `docker ps
    /// --filter` syntax: label=KEY, label=KEY=VALUE, name=REGEX or
    /// network=NAME; repeatable (every label, and any name and any
    /// network, must match). [default: every container]
    #[arg(long, env = "BERTH_FILTER", value_name = "KEY=VALUE")]
    #[serde(deserialize_with = "one_or_many")]
    pub filter: Vec<String>,

    /// etcd endpoint (http:// or https://) of the cluster shared by every
    /// host's berth; repeatable, or "off". [default: off]
    #[arg(
        long,
        env = "BERTH_ETCD",
        value_name = "URL|off",
        value_delimiter = ','
    )]
    pub etcd: Vec<String>,

    /// Key prefix of the SkyDNS schema in etcd. [default: /skydns]
    #[arg(long, env = "BERTH_ETCD_PREFIX", value_name = "KEY")]
    pub etcd_prefix: Option<String>,

    /// Seconds this host's names stay in etcd after its berth dies (the
    /// lease berth keeps alive). [default: 15]
    #[arg(long, env = "BERTH_ETCD_LEASE", value_name = "SECONDS")]
    pub etcd_lease: Option<u32>,

    /// This host's name in etcd: the last segment of every key this berth
    /// writes. Letters, digits and -. [default: the host name]
    #[arg(long, env = "BERTH_INSTANCE", value_name = "NAME")]
    pub instance: Option<String>,

    /// CA certificate (PEM) that signed the etcd members' certificates.
    #[arg(long, env = "BERTH_ETCD_CA", value_name = "FILE")]
    pub etcd_ca: Option<PathBuf>,

    /// Client certificate (PEM) for etcd; needs --etcd-key.
    #[arg(long, env = "BERTH_ETCD_CERT", value_name = "FILE")]
    pub etcd_cert: Option<PathBuf>,

    /// Private key (PEM) of --etcd-cert.
    #[arg(long, env = "BERTH_ETCD_KEY", value_name = "FILE")]
    pub etcd_key: Option<PathBuf>,

    /// etcd user name; needs --etcd-password-file.
    #[arg(long, env = "BERTH_ETCD_USER", value_name = "NAME")]
    pub etcd_user: Option<String>,

    /// File holding the etcd user's password (one line).
    #[arg(long, env = "BERTH_ETCD_PASSWORD_FILE", value_name = "FILE")]
    pub etcd_password_file: Option<PathBuf>,

    /// Resolver to forward other queries to; repeatable, or "off" to refuse them.
    /// [default: the nameservers in /etc/resolv.conf, except berth itself]
    #[arg(
        long,
        env = "BERTH_UPSTREAM",
        value_name = "ADDR[:PORT]|off",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub upstream: Vec<String>,

    /// Clients allowed to use forwarding; others get REFUSED for names
    /// outside berth's zones. Repeatable.
    /// [default: loopback, 10/8, 172.16/12, 192.168/16, fc00::/7]
    #[arg(
        long,
        env = "BERTH_ALLOW_RECURSION",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub allow_recursion: Vec<String>,

    /// Secondaries that may transfer berth's zones (AXFR, IXFR): a CIDR,
    /// "key NAME" (any address that signs with that --tsig-key), or both
    /// ("10.0.0.0/8 key NAME"). Repeatable. [default: none: REFUSED]
    #[arg(
        long,
        env = "BERTH_ALLOW_TRANSFER",
        value_name = "CIDR|key NAME",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub allow_transfer: Vec<String>,

    /// Secondary to send NOTIFY to when a zone's serial changes, as
    /// "ADDR[:PORT]" or "ADDR[:PORT] key NAME" to sign it. Repeatable.
    #[arg(
        long,
        env = "BERTH_NOTIFY",
        value_name = "ADDR[:PORT]",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub notify: Vec<String>,

    /// Versions of each zone kept for IXFR; 0 sends whole zones only.
    /// [default: 100]
    #[arg(long, env = "BERTH_IXFR_JOURNAL", value_name = "VERSIONS", allow_hyphen_values = true, value_parser = count::<usize>)]
    pub ixfr_journal: Option<usize>,

    /// TSIG key (RFC 8945) as NAME:ALGORITHM:BASE64; algorithms hmac-sha256,
    /// hmac-sha384, hmac-sha512, hmac-sha1. Repeatable. Other users can see
    /// a command line: prefer --tsig-key-file.
    #[arg(
        long,
        env = "BERTH_TSIG_KEY",
        value_name = "NAME:ALG:BASE64",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub tsig_key: Vec<String>,

    /// File of TSIG keys: NAME:ALGORITHM:BASE64 lines, or what
    /// `tsig-keygen` writes (one file for named and berth). Repeatable.
    #[arg(long, env = "BERTH_TSIG_KEY_FILE", value_name = "FILE")]
    #[serde(deserialize_with = "one_or_many")]
    pub tsig_key_file: Vec<PathBuf>,

    /// How long to wait for one upstream before trying the next.
    /// [default: 2s]
    #[arg(long, env = "BERTH_UPSTREAM_TIMEOUT", value_name = "DURATION")]
    pub upstream_timeout: Option<String>,

    /// Address for HTTP: /healthz, /metrics (Prometheus) and /v1/records
    /// (JSON), or "off". [default: 127.0.0.1:8053]
    #[arg(long, env = "BERTH_HTTP", value_name = "ADDR:PORT|off")]
    pub http: Option<String>,

    /// Room in the cache of forwarded answers, in answers of up to 1 KiB
    /// (a larger one takes a slot per KiB started); 0 turns the cache off.
    /// [default: 10000]
    #[arg(long, env = "BERTH_CACHE_SIZE", value_name = "ENTRIES", allow_hyphen_values = true, value_parser = count::<usize>)]
    pub cache_size: Option<usize>,

    /// Longest TTL given to clients in forwarded answers, and the longest
    /// any is cached. [default: 86400]
    #[arg(long, env = "BERTH_MAX_TTL", value_name = "SECONDS", allow_hyphen_values = true, value_parser = seconds)]
    pub max_ttl: Option<u32>,

    /// Response rate limiting of berth's own UDP answers: responses per
    /// second to one client network (/24, /56) for one name and type (or
    /// one zone's NXDOMAINs, or errors), or "off". TCP is never limited.
    /// [default: 100]
    #[arg(long, env = "BERTH_RRL", value_name = "RATE|off")]
    pub rrl: Option<String>,

    /// Past the --rrl rate, every Nth response goes out empty with TC set,
    /// so a real client retries over TCP; the others are dropped. 0 drops
    /// them all. [default: 1]
    #[arg(long, env = "BERTH_RRL_SLIP", value_name = "N", allow_hyphen_values = true, value_parser = count::<u32>)]
    pub rrl_slip: Option<u32>,

    /// Open DNS TCP connections at most; when all are taken, the one idle
    /// the longest is closed for a new client. [default: 512]
    #[arg(long, env = "BERTH_TCP_CONNECTIONS", value_name = "N")]
    pub tcp_connections: Option<usize>,

    /// DNS TCP connections one client address (an IPv6 /64) may hold.
    /// [default: an eighth of --tcp-connections]
    #[arg(long, env = "BERTH_TCP_PER_CLIENT", value_name = "N")]
    pub tcp_per_client: Option<usize>,

    /// A DNS TCP connection with no complete query and no write progress
    /// for this long is closed (a client that does not read, too).
    /// [default: 10s]
    #[arg(long, env = "BERTH_TCP_IDLE_TIMEOUT", value_name = "DURATION")]
    pub tcp_idle_timeout: Option<String>,

    /// Bytes of replies that may wait to be written on one DNS TCP
    /// connection; reading stops until they are. At least 64K.
    /// [default: 128K]
    #[arg(long, env = "BERTH_TCP_QUEUED_BYTES", value_name = "SIZE")]
    pub tcp_queued_bytes: Option<String>,

    /// Open HTTP connections at most; more are closed at once.
    /// [default: 64]
    #[arg(long, env = "BERTH_HTTP_CONNECTIONS", value_name = "N")]
    pub http_connections: Option<usize>,

    /// An HTTP connection that sends no complete request head for this
    /// long, from when it opened or its last response, is closed.
    /// [default: 30s]
    #[arg(long, env = "BERTH_HTTP_TIMEOUT", value_name = "DURATION")]
    pub http_timeout: Option<String>,

    /// Directory where berth keeps what must survive a restart: each
    /// zone's last SOA serial, so a restart never repeats or lowers one.
    /// [default: $STATE_DIRECTORY (systemd's StateDirectory=), else none:
    /// serials start again from the clock]
    #[arg(long, env = "BERTH_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Log format: "text" or "json". Filter with RUST_LOG. [default: text]
    #[arg(long, env = "BERTH_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

/// A repeatable key in the TOML file takes one value or a list of them:
/// `upstream = "off"` as well as `upstream = ["10.0.0.2", "10.0.0.3"]`.
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(value) => vec![value],
        OneOrMany::Many(values) => values,
    })
}

/// A number of seconds: a whole number, never negative. (clap alone would
/// take `--ttl -5` for a flag named `-5`.)
fn seconds(text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of seconds (0 to 2147483647)"))
}

/// A count: a whole number, never negative.
fn count<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number (0 or more)"))
}
