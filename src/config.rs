//! Validated settings: plain data, built before anything binds. A bad value
//! is a [`ConfigError`] that names the flag, and the binary exits with 64.
//!
//! [`Config::resolve`] merges the command line over the TOML file, then
//! hands each flag, or group of flags that belong together, to a helper of
//! its own; a new group is a new helper and a new field. A source's settings
//! are the source's own type ([`docker::Settings`]), built here: this module
//! names the sources, never the other way round.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use hickory_proto::rr::Name;

mod effective;

use crate::cli::Cli;
use crate::dns::tsig::{Key, Keyring};
use crate::dns::xfr::{self, Rule};
use crate::dns::{notify, rrl, tcp};
use crate::registry::NameServer;
use crate::sources::{docker, etcd, zonefile};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:1053";
pub const DEFAULT_ZONE: &str = "apps.local";
pub const DEFAULT_TTL: u32 = 5;
pub const DEFAULT_HTTP: &str = "127.0.0.1:8053";
pub const DEFAULT_DOCKER: &str = "unix:///var/run/docker.sock";
pub const DEFAULT_ETCD_PREFIX: &str = "/skydns";
pub const DEFAULT_ETCD_LEASE: u32 = 15;
const DNS_PORT: u16 = 53;
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// `--docker-reconcile`: seconds between listings.
pub const DEFAULT_DOCKER_RECONCILE: u64 = 30;
/// `--stale-limit`.
pub const DEFAULT_STALE_LIMIT: Duration = Duration::from_secs(300);
/// About 10 MiB of answers at most.
pub const DEFAULT_CACHE_SIZE: usize = 10_000;
/// Past this the cache's tables alone would take more than a small host has.
const MAX_CACHE_SIZE: usize = 10_000_000;
/// Loopback, RFC 1918 and RFC 4193: the networks a host's own clients use.
pub const DEFAULT_ALLOW_RECURSION: [&str; 6] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{flag}: {reason}")]
    Invalid { flag: &'static str, reason: String },
    #[error("--config {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

fn invalid(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        reason: reason.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub zones: Vec<Name>,
    pub zone_dir: Option<PathBuf>,
    /// How much a zone's files may hold.
    pub zone_limits: zonefile::Limits,
    pub ttl: u32,
    /// The negative-caching TTL (`--soa-minimum`).
    pub soa_minimum: u32,
    /// `--ns`, else `ns.<zone>` at `--ns-address`.
    pub name_servers: Vec<NameServer>,
    /// The address `ns.<zone>` took from the host's interfaces (berth
    /// listens on every address, and none was given), to be said at start.
    pub ns_from_interface: Option<IpAddr>,
    pub wildcard_target: Option<IpAddr>,
    /// None: the docker source is off (`--docker off`).
    pub docker: Option<docker::Settings>,
    /// None: the etcd source is off (no `--etcd`, the default).
    pub etcd: Option<etcd::Settings>,
    /// Empty: forwarding is off and other names are REFUSED.
    pub upstreams: Vec<SocketAddr>,
    pub upstream_timeout: Duration,
    /// In 1 KiB answers; 0: no cache.
    pub cache_size: usize,
    /// Ceiling on forwarded TTLs (`--max-ttl`).
    pub max_ttl: u32,
    pub allow_recursion: Vec<IpNet>,
    /// Secondaries: transfers, NOTIFY, TSIG keys, the IXFR journal.
    pub transfers: xfr::Settings,
    /// None: no HTTP endpoint.
    pub http: Option<SocketAddr>,
    /// None: response rate limiting is off (`--rrl off`).
    pub rrl: Option<rrl::Settings>,
    pub tcp: tcp::Limits,
    pub http_limits: crate::http::Limits,
    pub log_format: LogFormat,
    /// `--state-dir`: where serials are kept across restarts; `None`: not
    /// kept.
    pub state_dir: Option<PathBuf>,
}

impl Config {
    /// Merges flags and environment (already in `cli`) over the TOML file
    /// named by `--config`, applies defaults, and validates everything.
    ///
    /// Each flag, or group of flags that only make sense together, has a
    /// helper below; they run in this order, which is the order in which
    /// errors are reported.
    pub fn resolve(cli: Cli) -> Result<Config, ConfigError> {
        let Some(path) = cli.config.clone() else {
            return Config::build(cli);
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let file: Cli = toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let on_command_line = given_keys(&cli);
        Config::build(over(cli, file)).map_err(|error| match error {
            // A bad value that came from the file: say where it is.
            ConfigError::Invalid { flag, reason }
                if !on_command_line.iter().any(|key| key == flag) =>
            {
                match key_line(&text, flag) {
                    Some(line) => ConfigError::File {
                        path,
                        reason: format!("line {line}: {flag}: {reason}"),
                    },
                    None => ConfigError::Invalid { flag, reason },
                }
            }
            other => other,
        })
    }

    fn build(given: Cli) -> Result<Config, ConfigError> {
        let listen = listen(&given.listen)?;
        let zones = zones(&given.zone)?;
        let zone_dir = zone_dir(given.zones.as_deref())?;
        let zone_limits = zone_limits(&given)?;
        let ttl = seconds("ttl", given.ttl.unwrap_or(DEFAULT_TTL))?;
        let soa_minimum = seconds("soa-minimum", given.soa_minimum.unwrap_or(DEFAULT_TTL))?;
        let (name_servers, ns_from_interface) =
            name_servers(&given.ns, given.ns_address.as_deref(), &listen)?;
        let wildcard_target = wildcard_target(given.wildcard_target.as_deref())?;
        let docker = docker(&given, &zones, ttl, &name_servers)?;
        let etcd = etcd(&given, &zones, ttl)?;
        let upstreams = upstreams(&given.upstream, &listen)?;
        let upstream_timeout = upstream_timeout(given.upstream_timeout.as_deref())?;
        let cache_size = cache_size(given.cache_size)?;
        let max_ttl = given
            .max_ttl
            .unwrap_or(crate::dns::forward::DEFAULT_MAX_TTL);
        let allow_recursion = allow_recursion(&given.allow_recursion)?;
        let transfers = transfers(&given)?;
        let http = http(given.http.as_deref())?;
        let rrl = rrl(given.rrl.as_deref(), given.rrl_slip)?;
        let tcp = tcp_limits(&given)?;
        let http_limits = http_limits(&given)?;
        let log_format = log_format(given.log_format.as_deref())?;
        let state_dir = state_dir(given.state_dir.as_deref())?;
        Ok(Config {
            listen,
            zones,
            zone_dir,
            zone_limits,
            ttl,
            soa_minimum,
            name_servers,
            ns_from_interface,
            wildcard_target,
            docker,
            etcd,
            upstreams,
            upstream_timeout,
            cache_size,
            max_ttl,
            allow_recursion,
            transfers,
            http,
            rrl,
            tcp,
            http_limits,
            log_format,
            state_dir,
        })
    }
}

/// The keys (flag names) given on the command line or in the
/// environment: those the file's values do not reach.
fn given_keys(cli: &Cli) -> Vec<String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(cli) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(_, value)| match value {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::Array(values) => !values.is_empty(),
            _ => true,
        })
        .map(|(key, _)| key)
        .collect()
}

/// The line (from 1) on which the TOML `text` sets `key`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|at| at + 1)
}

/// Flags and variables (in `cli`) over the file: a value given on the
/// command line wins, and a list given there replaces the file's whole list.
/// Destructured in full, so a new flag cannot be forgotten here.
fn over(cli: Cli, file: Cli) -> Cli {
    let Cli {
        config,
        check,
        listen,
        zone,
        zones,
        max_zone_file_size,
        max_zone_size,
        ttl,
        soa_minimum,
        ns,
        ns_address,
        wildcard_target,
        docker,
        address,
        network,
        host_ip,
        serve_starting,
        expose,
        docker_reconcile,
        stale_limit,
        filter,
        etcd,
        etcd_prefix,
        etcd_lease,
        instance,
        etcd_ca,
        etcd_cert,
        etcd_key,
        etcd_user,
        etcd_password_file,
        upstream,
        allow_recursion,
        allow_transfer,
        notify,
        ixfr_journal,
        tsig_key,
        tsig_key_file,
        upstream_timeout,
        http,
        cache_size,
        max_ttl,
        rrl,
        rrl_slip,
        tcp_connections,
        tcp_per_client,
        tcp_idle_timeout,
        tcp_queued_bytes,
        http_connections,
        http_timeout,
        log_format,
        state_dir,
    } = cli;
    let list = |flag: Vec<String>, file: Vec<String>| if flag.is_empty() { file } else { flag };
    Cli {
        config,
        check,
        listen: list(listen, file.listen),
        zone: list(zone, file.zone),
        zones: zones.or(file.zones),
        max_zone_file_size: max_zone_file_size.or(file.max_zone_file_size),
        max_zone_size: max_zone_size.or(file.max_zone_size),
        ttl: ttl.or(file.ttl),
        soa_minimum: soa_minimum.or(file.soa_minimum),
        ns: list(ns, file.ns),
        ns_address: ns_address.or(file.ns_address),
        wildcard_target: wildcard_target.or(file.wildcard_target),
        docker: docker.or(file.docker),
        address: address.or(file.address),
        network: network.or(file.network),
        host_ip: host_ip.or(file.host_ip),
        etcd: list(etcd, file.etcd),
        etcd_prefix: etcd_prefix.or(file.etcd_prefix),
        etcd_lease: etcd_lease.or(file.etcd_lease),
        instance: instance.or(file.instance),
        etcd_ca: etcd_ca.or(file.etcd_ca),
        etcd_cert: etcd_cert.or(file.etcd_cert),
        etcd_key: etcd_key.or(file.etcd_key),
        etcd_user: etcd_user.or(file.etcd_user),
        etcd_password_file: etcd_password_file.or(file.etcd_password_file),
        serve_starting: serve_starting || file.serve_starting,
        expose: expose.or(file.expose),
        docker_reconcile: docker_reconcile.or(file.docker_reconcile),
        stale_limit: stale_limit.or(file.stale_limit),
        filter: list(filter, file.filter),
        upstream: list(upstream, file.upstream),
        allow_recursion: list(allow_recursion, file.allow_recursion),
        allow_transfer: list(allow_transfer, file.allow_transfer),
        notify: list(notify, file.notify),
        ixfr_journal: ixfr_journal.or(file.ixfr_journal),
        tsig_key: list(tsig_key, file.tsig_key),
        tsig_key_file: if tsig_key_file.is_empty() {
            file.tsig_key_file
        } else {
            tsig_key_file
        },
        upstream_timeout: upstream_timeout.or(file.upstream_timeout),
        http: http.or(file.http),
        cache_size: cache_size.or(file.cache_size),
        max_ttl: max_ttl.or(file.max_ttl),
        rrl: rrl.or(file.rrl),
        rrl_slip: rrl_slip.or(file.rrl_slip),
        tcp_connections: tcp_connections.or(file.tcp_connections),
        tcp_per_client: tcp_per_client.or(file.tcp_per_client),
        tcp_idle_timeout: tcp_idle_timeout.or(file.tcp_idle_timeout),
        tcp_queued_bytes: tcp_queued_bytes.or(file.tcp_queued_bytes),
        http_connections: http_connections.or(file.http_connections),
        http_timeout: http_timeout.or(file.http_timeout),
        log_format: log_format.or(file.log_format),
        state_dir: state_dir.or(file.state_dir),
    }
}

/// `--max-zone-file-size` and `--max-zone-size`.
fn zone_limits(given: &Cli) -> Result<zonefile::Limits, ConfigError> {
    Ok(zonefile::Limits {
        file_bytes: size(
            "max-zone-file-size",
            given.max_zone_file_size.as_deref(),
            zonefile::confine::DEFAULT_FILE_BYTES,
        )?,
        zone_bytes: size(
            "max-zone-size",
            given.max_zone_size.as_deref(),
            zonefile::confine::DEFAULT_ZONE_BYTES,
        )?,
    })
}

/// A size: bytes, or a number with K, M or G (powers of 1024).
fn size(flag: &'static str, given: Option<&str>, default: u64) -> Result<u64, ConfigError> {
    let Some(text) = given else {
        return Ok(default);
    };
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches("IB").trim_end_matches('B');
    let (number, shift) = match digits.char_indices().last() {
        Some((at, 'K')) => (&digits[..at], 10),
        Some((at, 'M')) => (&digits[..at], 20),
        Some((at, 'G')) => (&digits[..at], 30),
        _ => (digits, 0),
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| invalid(flag, format!("{text:?} is not a size such as 512M or 2G")))
}

/// `--listen`.
fn listen(given: &[String]) -> Result<Vec<SocketAddr>, ConfigError> {
    let parse = |text: &str| parse_socket(text, None);
    parse_each(
        "listen",
        or_defaults(given, &[DEFAULT_LISTEN]),
        "ADDR:PORT",
        parse,
    )
}

/// `--zone`: each name once, in the order given.
fn zones(given: &[String]) -> Result<Vec<Name>, ConfigError> {
    let mut zones = Vec::new();
    for text in or_defaults(given, &[DEFAULT_ZONE]) {
        let name =
            parse_zone(text).map_err(|reason| invalid("zone", format!("{text:?}: {reason}")))?;
        if !zones.contains(&name) {
            zones.push(name);
        }
    }
    Ok(zones)
}

/// `--zones`: a directory that must exist when named, else `./zones` if
/// there is one.
fn zone_dir(given: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    match given {
        Some(dir) if !dir.is_dir() => Err(invalid(
            "zones",
            format!("{} is not a directory", dir.display()),
        )),
        Some(dir) => Ok(Some(dir.to_path_buf())),
        None => Ok(Some(PathBuf::from("zones")).filter(|dir| dir.is_dir())),
    }
}

/// `--state-dir`, else systemd's `$STATE_DIRECTORY` (the first, if it
/// lists several); `None` when neither is set. Created at start-up if
/// missing, so only a path that cannot be one is refused here.
fn state_dir(given: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let dir = given.map(Path::to_path_buf).or_else(|| {
        let systemd = std::env::var_os("STATE_DIRECTORY")?;
        let first = systemd.to_str()?.split(':').next()?.to_string();
        Some(PathBuf::from(first)).filter(|dir| !dir.as_os_str().is_empty())
    });
    match dir {
        Some(dir) if dir.exists() && !dir.is_dir() => Err(invalid(
            "state-dir",
            format!("{} is not a directory", dir.display()),
        )),
        dir => Ok(dir),
    }
}

/// `--ttl` and `--soa-minimum`.
fn seconds(flag: &'static str, ttl: u32) -> Result<u32, ConfigError> {
    if ttl > i32::MAX as u32 {
        return Err(invalid(flag, "must be at most 2147483647 (RFC 2181 §8)"));
    }
    Ok(ttl)
}

/// `--ns NAME=IP`, each in the order given; without any, `ns.<zone>` at
/// `--ns-address`, else at the first address berth listens on that is not
/// a wildcard.
fn name_servers(
    given: &[String],
    ns_address: Option<&str>,
    listen: &[SocketAddr],
) -> Result<(Vec<NameServer>, Option<IpAddr>), ConfigError> {
    if given.is_empty() {
        let mut picked = None;
        let address = match ns_address {
            Some(text) => parse_one("ns-address", text, "an IP address", parse_ip)?,
            None => match listen
                .iter()
                .map(|a| a.ip())
                .find(|ip| !ip.is_unspecified())
            {
                Some(ip) => ip,
                None => *picked.insert(interface_address(listen)?),
            },
        };
        return Ok((NameServer::usual(Some(address)), picked));
    }
    if ns_address.is_some() {
        return Err(invalid("ns-address", "only used without --ns"));
    }
    let given = given.iter().map(|text| name_server(text));
    Ok((given.collect::<Result<_, _>>()?, None))
}

/// berth listens on every address (`0.0.0.0`, `[::]`): `ns.<zone>` gets
/// the first address of the host's first interface that is not loopback
/// (nor link-local), of the same family; `app` says which at start-up.
/// A host with none must be told: `--ns-address`.
fn interface_address(listen: &[SocketAddr]) -> Result<IpAddr, ConfigError> {
    let v6 = listen.first().is_some_and(SocketAddr::is_ipv6);
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(ip) => !v6 && !ip.is_loopback() && !ip.is_link_local(),
        IpAddr::V6(ip) => v6 && !ip.is_loopback() && !ip.is_unicast_link_local(),
    };
    if_addrs::get_if_addrs()
        .ok()
        .and_then(|interfaces| interfaces.iter().map(|i| i.ip()).find(usable))
        .ok_or_else(|| {
            invalid(
                "ns-address",
                format!(
                    "--listen {} answers on every address and this host has no other \
                     interface than loopback for ns.<zone>: give --ns-address IP",
                    listen.first().map(ToString::to_string).unwrap_or_default()
                ),
            )
        })
}

/// One `--ns`: `NAME=IP`, or an absolute `NAME.` outside berth's zones
/// alone (its address is not berth's to give).
fn name_server(text: &str) -> Result<NameServer, ConfigError> {
    let bad = |reason: &str| invalid("ns", format!("{text:?}: {reason}"));
    let (name, address) = match text.split_once('=') {
        Some((name, ip)) => {
            let ip = parse_ip(ip.trim()).ok_or_else(|| bad("not NAME=IP"))?;
            (name.trim(), Some(ip))
        }
        None => (text.trim(), None),
    };
    let parsed = Name::from_ascii(name).map_err(|e| bad(&e.to_string()))?;
    if parsed.is_empty() || parsed.iter().any(|label| label == b"*") {
        return Err(bad("not a name server's name"));
    }
    if address.is_none() && !parsed.is_fqdn() {
        return Err(bad("a name inside the zones needs its address: NAME=IP"));
    }
    Ok(NameServer {
        name: parsed.to_lowercase(),
        address,
    })
}

/// `--wildcard-target`.
fn wildcard_target(given: Option<&str>) -> Result<Option<IpAddr>, ConfigError> {
    given
        .map(|text| parse_one("wildcard-target", text, "an IP address", parse_ip))
        .transpose()
}

/// The docker source's flags: `--docker`, `--address`, `--network`,
/// `--host-ip`, `--serve-starting`, `--expose` and `--filter`. All are checked even with
/// `--docker off`, so a mistake shows before the source is turned on.
fn docker(
    given: &Cli,
    zones: &[Name],
    ttl: u32,
    name_servers: &[NameServer],
) -> Result<Option<docker::Settings>, ConfigError> {
    let endpoint = docker_endpoint(given.docker.as_deref())?;
    let addresses = addresses(
        given.address.as_deref(),
        given.network.as_deref(),
        given.host_ip.as_deref(),
    )?;
    let expose = expose(given.expose.as_deref())?;
    let filters = docker::Filters::parse(&given.filter)
        .map_err(|error| invalid("filter", error.to_string()))?;
    // Containers are named in the forward zones; a reverse zone given as
    // --zone (so that secondaries can hold it) gets only their PTRs.
    let forward = |zone: &&Name| {
        let text = zone.to_ascii().to_ascii_lowercase();
        !(text.ends_with("in-addr.arpa.") || text.ends_with("ip6.arpa."))
    };
    let zones: Vec<Name> = zones.iter().filter(forward).cloned().collect();
    // The zones' own name servers are berth's configuration, never a
    // container's to answer for.
    let reserved = zones
        .iter()
        .flat_map(|zone| name_servers.iter().filter_map(|ns| ns.in_zone(zone)))
        .collect();
    let reconcile = docker_reconcile(given.docker_reconcile)?;
    let stale_limit = stale_limit(given.stale_limit.as_deref())?;
    Ok(endpoint.map(|endpoint| docker::Settings {
        endpoint,
        zones,
        reserved,
        ttl,
        addresses,
        serve_starting: given.serve_starting,
        expose,
        reconcile,
        stale_limit,
        filters,
    }))
}

/// `--expose`.
fn expose(given: Option<&str>) -> Result<docker::Expose, ConfigError> {
    match given {
        None | Some("all") => Ok(docker::Expose::All),
        Some("labelled" | "labeled") => Ok(docker::Expose::Labelled),
        Some(other) => Err(invalid(
            "expose",
            format!("{other:?} is not \"all\" or \"labelled\""),
        )),
    }
}

/// `--docker-reconcile`: `None` for 0 (off).
fn docker_reconcile(given: Option<u64>) -> Result<Option<Duration>, ConfigError> {
    match given.unwrap_or(DEFAULT_DOCKER_RECONCILE) {
        0 => Ok(None),
        // A listing every second would keep a busy daemon busier, and the
        // calls' timeout (half the interval) would leave it no slack.
        1 => Err(invalid(
            "docker-reconcile",
            "must be 0 (off) or at least 2 seconds".to_string(),
        )),
        seconds => Ok(Some(Duration::from_secs(seconds))),
    }
}

/// `--stale-limit`: `None` for 0 (keep serving the last records).
fn stale_limit(given: Option<&str>) -> Result<Option<Duration>, ConfigError> {
    let Some(text) = given else {
        return Ok(Some(DEFAULT_STALE_LIMIT));
    };
    let text = text.trim();
    // A bare number is seconds, as in the other flags.
    let limit = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text).map_err(|e| {
            invalid(
                "stale-limit",
                format!("{text:?}: {e}; give a duration such as 90s or 5m, or 0"),
            )
        })?,
    };
    Ok((!limit.is_zero()).then_some(limit))
}

/// `--docker`, else `$DOCKER_HOST`, else the usual socket; None when "off".
fn docker_endpoint(given: Option<&str>) -> Result<Option<String>, ConfigError> {
    match given {
        Some("off") => Ok(None),
        Some(text) => check_docker_url(text).map(Some),
        None => match std::env::var("DOCKER_HOST").ok().filter(|v| !v.is_empty()) {
            Some(text) => check_docker_url(&text).map(Some).map_err(|_| {
                invalid(
                    "docker",
                    format!("$DOCKER_HOST {text:?} is not unix:// or tcp://; set --docker"),
                )
            }),
            None => Ok(Some(DEFAULT_DOCKER.to_string())),
        },
    }
}

fn check_docker_url(text: &str) -> Result<String, ConfigError> {
    if text.starts_with("https://") {
        // The Docker client is built without TLS: reach a remote daemon
        // through an SSH-forwarded unix socket instead.
        return Err(invalid(
            "docker",
            format!("{text:?}: TLS is not supported; use unix:// or tcp://"),
        ));
    }
    let bad = |why: &str| invalid("docker", format!("{text:?}: {why}"));
    if let Some(path) = text.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(bad(
                "unix:// takes an absolute socket path (unix:///var/run/docker.sock)",
            ));
        }
        return Ok(text.to_string());
    }
    let Some(rest) = text
        .strip_prefix("tcp://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return Err(bad(
            "not unix://PATH, tcp://HOST:PORT, http://HOST:PORT or \"off\"",
        ));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && !host.contains(['/', '@', '?', '#'])
        && !host.chars().any(char::is_whitespace);
    if !host_ok {
        return Err(bad("no host: tcp://HOST:PORT (tcp://127.0.0.1:2375)"));
    }
    if port.is_some_and(|port| port.parse::<u16>().map_or(true, |port| port == 0)) {
        return Err(bad("the port is not a number from 1 to 65535"));
    }
    Ok(text.to_string())
}

/// `--address`, `--network` and `--host-ip` together: each only makes
/// sense with one choice of `--address`.
fn addresses(
    address: Option<&str>,
    network: Option<&str>,
    host_ip: Option<&str>,
) -> Result<docker::Addresses, ConfigError> {
    match address {
        None | Some("container") => {
            if host_ip.is_some() {
                return Err(invalid("host-ip", "only used with --address host"));
            }
            if network == Some("") {
                return Err(invalid("network", "is empty"));
            }
            let network = network.map(str::to_string);
            Ok(docker::Addresses::Container { network })
        }
        Some("host") => {
            if network.is_some() {
                return Err(invalid("network", "only used with --address container"));
            }
            let text = host_ip.ok_or_else(|| invalid("host-ip", "required with --address host"))?;
            let host = |text: &str| parse_ip(text).filter(|ip| !ip.is_unspecified());
            let ip = parse_one("host-ip", text, "a host's IP address", host)?;
            Ok(docker::Addresses::Host { ip })
        }
        Some(other) => Err(invalid(
            "address",
            format!("{other:?} is not \"container\" or \"host\""),
        )),
    }
}

/// `--upstream`: "off", the addresses given (port 53 unless stated), or
/// else the host's resolvers; never berth itself.
/// The etcd source's flags; checked even when `--etcd` is off, so a
/// mistake shows before the source is turned on.
fn etcd(given: &Cli, zones: &[Name], ttl: u32) -> Result<Option<etcd::Settings>, ConfigError> {
    let prefix = given.etcd_prefix.as_deref().unwrap_or(DEFAULT_ETCD_PREFIX);
    let prefix = prefix.trim_end_matches('/');
    if !prefix.starts_with('/') || prefix.split('/').skip(1).any(str::is_empty) {
        return Err(invalid(
            "etcd-prefix",
            format!("{prefix:?} is not a key path such as /skydns"),
        ));
    }
    let lease_ttl = given.etcd_lease.unwrap_or(DEFAULT_ETCD_LEASE);
    if !(2..=86_400).contains(&lease_ttl) {
        return Err(invalid("etcd-lease", "must be 2 to 86400 seconds"));
    }
    let instance = instance(given.instance.as_deref())?;
    let identity = match (&given.etcd_cert, &given.etcd_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        (Some(_), None) => return Err(invalid("etcd-key", "required with --etcd-cert")),
        (None, Some(_)) => return Err(invalid("etcd-cert", "required with --etcd-key")),
    };
    let user = match (&given.etcd_user, &given.etcd_password_file) {
        (Some(name), Some(file)) => Some(etcd::User {
            name: name.clone(),
            password_file: file.clone(),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid("etcd-password-file", "required with --etcd-user"));
        }
        (None, Some(_)) => return Err(invalid("etcd-user", "required with --etcd-password-file")),
    };
    let mut endpoints = Vec::new();
    for text in &given.etcd {
        if text == "off" {
            continue;
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(invalid(
                "etcd",
                format!("{text:?} is not http:// or https://"),
            ));
        };
        if !matches!(scheme, "http" | "https") || rest.is_empty() {
            return Err(invalid(
                "etcd",
                format!("{text:?} is not http:// or https://"),
            ));
        }
        endpoints.push(text.clone());
    }
    if endpoints.is_empty() {
        return Ok(None);
    }
    let secure = endpoints.iter().any(|e| e.starts_with("https://"));
    let tls = (secure || given.etcd_ca.is_some() || identity.is_some()).then(|| etcd::Tls {
        ca: given.etcd_ca.clone(),
        identity,
    });
    Ok(Some(etcd::Settings {
        endpoints,
        prefix: prefix.to_string(),
        lease_ttl: i64::from(lease_ttl),
        instance,
        zones: zones.to_vec(),
        ttl,
        tls,
        user,
    }))
}

/// `--instance`, else the host name's first label; lower-cased, and a
/// valid DNS label, since it ends every key berth writes.
fn instance(given: Option<&str>) -> Result<String, ConfigError> {
    let text = match given {
        Some(text) => text.to_string(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .and_then(|h| h.trim().split('.').next().map(str::to_string))
            .ok_or_else(|| invalid("instance", "no host name to default to; set it"))?,
    };
    let text = text.trim().to_ascii_lowercase();
    let valid = !text.is_empty()
        && text.len() <= 63
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(text)
    } else {
        Err(invalid(
            "instance",
            format!("{text:?} is not a DNS label (letters, digits, -; at most 63)"),
        ))
    }
}

fn upstreams(given: &[String], listen: &[SocketAddr]) -> Result<Vec<SocketAddr>, ConfigError> {
    let upstreams = if given.iter().any(|u| u == "off") {
        if given.len() > 1 {
            return Err(invalid(
                "upstream",
                "\"off\" cannot be combined with addresses",
            ));
        }
        Vec::new()
    } else if given.is_empty() {
        resolv_conf_nameservers(Path::new("/etc/resolv.conf"), listen)
    } else {
        let parse = |text: &str| parse_socket(text, Some(DNS_PORT));
        let given = given.iter().map(String::as_str);
        parse_each("upstream", given, "ADDR[:PORT] or \"off\"", parse)?
    };
    if let Some(looped) = upstreams.iter().find(|u| listen.contains(u)) {
        return Err(invalid("upstream", format!("{looped} is berth itself")));
    }
    Ok(upstreams)
}

/// `--upstream-timeout`.
fn upstream_timeout(given: Option<&str>) -> Result<Duration, ConfigError> {
    match given {
        Some(text) => parse_one(
            "upstream-timeout",
            text,
            "a duration such as 2s or 500ms",
            parse_duration,
        ),
        None => Ok(DEFAULT_UPSTREAM_TIMEOUT),
    }
}

/// `--cache-size`.
fn cache_size(given: Option<usize>) -> Result<usize, ConfigError> {
    let size = given.unwrap_or(DEFAULT_CACHE_SIZE);
    if size > MAX_CACHE_SIZE {
        return Err(invalid(
            "cache-size",
            format!("must be at most {MAX_CACHE_SIZE}"),
        ));
    }
    Ok(size)
}

/// `--allow-recursion`.
fn allow_recursion(given: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    let given = or_defaults(given, &DEFAULT_ALLOW_RECURSION);
    parse_each("allow-recursion", given, "an address or CIDR", parse_net)
}

/// `--http`.
fn http(given: Option<&str>) -> Result<Option<SocketAddr>, ConfigError> {
    match given {
        Some("off") => Ok(None),
        Some(text) => {
            let parse = |text: &str| parse_socket(text, None);
            parse_one("http", text, "ADDR:PORT or \"off\"", parse).map(Some)
        }
        None => Ok(DEFAULT_HTTP.parse().ok()),
    }
}

/// `--rrl` and `--rrl-slip`.
fn rrl(given: Option<&str>, slip: Option<u32>) -> Result<Option<rrl::Settings>, ConfigError> {
    let defaults = rrl::Settings::default();
    let rate = match given {
        Some("off") => return Ok(None),
        None => defaults.rate,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|rate| (1..=rrl::MAX_RATE).contains(rate))
            .ok_or_else(|| {
                invalid(
                    "rrl",
                    format!(
                        "{text:?} is not \"off\" or a rate from 1 to {}",
                        rrl::MAX_RATE
                    ),
                )
            })?,
    };
    Ok(Some(rrl::Settings {
        rate,
        slip: slip.unwrap_or(defaults.slip),
    }))
}

/// `--tcp-connections`, `--tcp-per-client`, `--tcp-idle-timeout` and
/// `--tcp-queued-bytes`.
fn tcp_limits(given: &Cli) -> Result<tcp::Limits, ConfigError> {
    let defaults = tcp::Limits::default();
    let connections = given.tcp_connections.unwrap_or(defaults.connections);
    if connections == 0 {
        return Err(invalid("tcp-connections", "must be at least 1"));
    }
    let per_client = match given.tcp_per_client {
        None => (connections / tcp::DEFAULT_SHARE).max(1),
        Some(0) => return Err(invalid("tcp-per-client", "must be at least 1")),
        Some(n) => n.min(connections),
    };
    let idle_timeout = match given.tcp_idle_timeout.as_deref() {
        None => defaults.idle_timeout,
        Some(text) => parse_one(
            "tcp-idle-timeout",
            text,
            "a duration such as 10s or 500ms",
            parse_duration,
        )?,
    };
    let queued_bytes = size(
        "tcp-queued-bytes",
        given.tcp_queued_bytes.as_deref(),
        defaults.queued_bytes as u64,
    )?;
    if queued_bytes < tcp::MIN_QUEUED_BYTES as u64 {
        return Err(invalid(
            "tcp-queued-bytes",
            format!("must hold one message: at least {}", tcp::MIN_QUEUED_BYTES),
        ));
    }
    Ok(tcp::Limits {
        connections,
        per_client,
        idle_timeout,
        // A semaphore counts at most usize::MAX >> 3 permits.
        queued_bytes: usize::try_from(queued_bytes)
            .unwrap_or(usize::MAX >> 3)
            .min(usize::MAX >> 3),
    })
}

/// `--http-connections` and `--http-timeout`.
fn http_limits(given: &Cli) -> Result<crate::http::Limits, ConfigError> {
    let defaults = crate::http::Limits::default();
    let connections = match given.http_connections {
        Some(0) => return Err(invalid("http-connections", "must be at least 1")),
        Some(n) => n,
        None => defaults.connections,
    };
    let timeout = match given.http_timeout.as_deref() {
        None => defaults.timeout,
        Some(text) => parse_one(
            "http-timeout",
            text,
            "a duration such as 30s",
            parse_duration,
        )?,
    };
    Ok(crate::http::Limits {
        connections,
        timeout,
    })
}

/// `--log-format`.
fn log_format(given: Option<&str>) -> Result<LogFormat, ConfigError> {
    match given {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(invalid(
            "log-format",
            format!("{other:?} is not \"text\" or \"json\""),
        )),
    }
}

/// The list given, or `defaults` when none was.
fn or_defaults<'a>(given: &'a [String], defaults: &'a [&'a str]) -> Vec<&'a str> {
    if given.is_empty() {
        defaults.to_vec()
    } else {
        given.iter().map(String::as_str).collect()
    }
}

/// Parses `text` given to `--flag`, or says that it is not `expected`.
fn parse_one<T>(
    flag: &'static str,
    text: &str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ConfigError> {
    parse(text).ok_or_else(|| invalid(flag, format!("{text:?} is not {expected}")))
}

/// [`parse_one`] for each value of a repeatable flag.
fn parse_each<'a, T>(
    flag: &'static str,
    texts: impl IntoIterator<Item = &'a str>,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ConfigError> {
    texts
        .into_iter()
        .map(|text| parse_one(flag, text, expected, &parse))
        .collect()
}

/// `ADDR:PORT`, `[V6]:PORT`, or — when `default_port` is given — a bare address.
fn parse_socket(text: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = parse_ip(text)?;
    Some(SocketAddr::new(ip, default_port?))
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| parse_ip(text).map(IpNet::from))
}

/// `2s`, `500ms`, or a bare number of seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        _ => return None,
    };
    (seconds > 0.0 && seconds <= 60.0).then(|| Duration::from_secs_f64(seconds))
}

fn parse_zone(text: &str) -> Result<Name, String> {
    zone_characters(text)?;
    let name = Name::from_ascii(text).map_err(|e| e.to_string())?;
    if name.is_root() || name.is_empty() {
        return Err("berth will not be authoritative for the root".into());
    }
    if name.iter().any(|label| label == b"*") {
        return Err("a zone name cannot contain a wildcard".into());
    }
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    Ok(name)
}

/// A zone's name is a host name's (RFC 952, RFC 1123 §2.1), underscores
/// aside: resolvers and the snippets in `deploy/` must be able to write it.
/// Says which character is wrong, where, and why.
fn zone_characters(text: &str) -> Result<(), String> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() {
        return Ok(());
    }
    for (at, c) in trimmed.char_indices() {
        let allowed = c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !allowed {
            let shown = if c == ' ' {
                "a space".to_string()
            } else {
                format!("{c:?}")
            };
            return Err(format!(
                "{shown} at position {} is not allowed in a zone name: only letters, \
                 digits, '-' and '_', in labels separated by '.'",
                at + 1
            ));
        }
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err("an empty label (two dots together, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("the label {label:?} is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

/// `--tsig-key`, `--tsig-key-file`, `--allow-transfer`, `--notify` and
/// `--ixfr-journal` together: the last three may name keys.
fn transfers(given: &Cli) -> Result<xfr::Settings, ConfigError> {
    let mut keys = Vec::new();
    for spec in &given.tsig_key {
        keys.push(Key::parse(spec).map_err(|e| invalid("tsig-key", e.to_string()))?);
    }
    for path in &given.tsig_key_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid("tsig-key-file", format!("{}: {e}", path.display())))?;
        let found = Key::parse_file(&text, &path.display().to_string())
            .map_err(|e| invalid("tsig-key-file", format!("{}: {e}", path.display())))?;
        keys.extend(found);
    }
    let keys = Keyring::new(keys);
    // "… key NAME": the named key must be one berth was given.
    let split_key =
        |flag: &'static str, text: &str| -> Result<(String, Option<String>), ConfigError> {
            let mut words = text.split_whitespace();
            let mut head = Vec::new();
            let mut key = None;
            while let Some(word) = words.next() {
                if word == "key" {
                    let name = words
                        .next()
                        .ok_or_else(|| invalid(flag, format!("{text:?}: \"key\" needs a NAME")))?;
                    let known = keys.find(name).ok_or_else(|| {
                        invalid(flag, format!("{text:?}: no --tsig-key named {name:?}"))
                    })?;
                    key = Some(known.text.clone());
                } else {
                    head.push(word);
                }
            }
            Ok((head.join(" "), key))
        };
    let allow = given
        .allow_transfer
        .iter()
        .map(|text| {
            let (net, key) = split_key("allow-transfer", text)?;
            let net = match net.as_str() {
                "" if key.is_some() => None,
                other => Some(parse_net(other).ok_or_else(|| {
                    invalid(
                        "allow-transfer",
                        format!("{text:?} is not CIDR, \"key NAME\" or \"CIDR key NAME\""),
                    )
                })?),
            };
            Ok(Rule { net, key })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let notify = given
        .notify
        .iter()
        .map(|text| {
            let (address, key) = split_key("notify", text)?;
            let address = parse_socket(&address, Some(DNS_PORT)).ok_or_else(|| {
                invalid("notify", format!("{text:?} is not ADDR[:PORT] [key NAME]"))
            })?;
            let key = key.and_then(|name| keys.find(&name).cloned());
            Ok(notify::Target { address, key })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(xfr::Settings {
        allow,
        notify,
        keys: std::sync::Arc::new(keys),
        ixfr_journal: given.ixfr_journal.unwrap_or(xfr::DEFAULT_JOURNAL),
    })
}

/// The `nameserver` lines of resolv.conf, minus any address berth listens
/// on (a forwarding loop otherwise).
pub fn resolv_conf_nameservers(path: &Path, listen: &[SocketAddr]) -> Vec<SocketAddr> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        // Drop a scope suffix such as fe80::1%eth0; berth cannot use it.
        .filter_map(|addr| addr.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .filter(|addr| !listen.contains(addr))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::docker::Addresses;
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["berth"];
        argv.extend_from_slice(args);
        Config::resolve(Cli::try_parse_from(argv).unwrap())
    }

    #[test]
    fn transfers_and_keys() {
        let key = "berth-xfr:hmac-sha256:c2VjcmV0";
        let config = resolve(&[
            "--tsig-key",
            key,
            "--allow-transfer",
            "127.0.0.0/8",
            "--allow-transfer",
            "key Berth-XFR.",
            "--allow-transfer",
            "10.0.0.0/8 key berth-xfr",
            "--notify",
            "127.0.0.2",
            "--notify",
            "[::1]:5300 key berth-xfr",
            "--ixfr-journal",
            "0",
        ])
        .unwrap();
        let transfers = &config.transfers;
        assert_eq!(transfers.ixfr_journal, 0);
        assert!(transfers.allows("127.0.0.9".parse().unwrap(), None));
        assert!(!transfers.allows("192.0.2.1".parse().unwrap(), None));
        assert!(transfers.allows("192.0.2.1".parse().unwrap(), Some("berth-xfr")));
        assert_eq!(transfers.notify[0].address, "127.0.0.2:53".parse().unwrap());
        assert!(transfers.notify[0].key.is_none());
        assert!(transfers.notify[1].key.is_some());
        assert!(!xfr::Settings::default().allows("127.0.0.1".parse().unwrap(), None));

        let message = |args: &[&str]| resolve(args).unwrap_err().to_string();
        assert!(message(&["--allow-transfer", "key nope"]).starts_with("--allow-transfer:"));
        assert!(message(&["--allow-transfer", "nowhere"]).starts_with("--allow-transfer:"));
        assert!(message(&["--notify", "x"]).starts_with("--notify:"));
        assert!(message(&["--notify", "127.0.0.1 key"]).starts_with("--notify:"));
        assert!(message(&["--tsig-key", "k:md5:AAAA"]).starts_with("--tsig-key:"));
        assert!(message(&["--tsig-key-file", "/nonexistent"]).starts_with("--tsig-key-file:"));
    }

    #[test]
    fn defaults() {
        let config = resolve(&["--docker", "off", "--upstream", "off"]).unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:1053".parse().unwrap()]);
        assert_eq!(config.zones[0].to_ascii(), "apps.local.");
        assert_eq!(config.ttl, 5);
        assert_eq!(config.soa_minimum, 5);
        assert_eq!(
            config.name_servers,
            NameServer::usual(Some("127.0.0.1".parse().unwrap()))
        );
        assert!(config.upstreams.is_empty());
        assert_eq!(config.cache_size, DEFAULT_CACHE_SIZE);
        assert_eq!(config.rrl, Some(rrl::Settings { rate: 100, slip: 1 }));
        assert_eq!(config.tcp, tcp::Limits::default());
        assert_eq!(config.tcp.per_client, 64);
        let config = resolve(&["--tcp-connections", "40", "--tcp-idle-timeout", "2s"]).unwrap();
        assert_eq!(config.tcp.per_client, 5);
        assert_eq!(config.tcp.idle_timeout, Duration::from_secs(2));
        let config = resolve(&["--rrl", "off", "--rrl-slip", "3"]).unwrap();
        assert_eq!(config.rrl, None);
        let config = resolve(&["--rrl", "20", "--rrl-slip", "0"]).unwrap();
        assert_eq!(config.rrl, Some(rrl::Settings { rate: 20, slip: 0 }));
    }

    #[test]
    fn name_servers_in_the_order_given() {
        let args = [
            "--ns",
            "NS1=192.0.2.1",
            "--ns",
            "ns2=2001:db8::2",
            "--ns",
            "ns.example.net.",
            "--soa-minimum",
            "300",
        ];
        let config = resolve(&args).unwrap();
        let names: Vec<String> = config
            .name_servers
            .iter()
            .map(|ns| format!("{}={:?}", ns.name, ns.address))
            .collect();
        assert_eq!(
            names,
            [
                "ns1=Some(192.0.2.1)",
                "ns2=Some(2001:db8::2)",
                "ns.example.net.=None"
            ]
        );
        assert_eq!((config.ttl, config.soa_minimum), (5, 300));
    }

    #[test]
    fn zone_size_limits() {
        let config = resolve(&["--max-zone-file-size", "64k", "--max-zone-size", "3G"]).unwrap();
        assert_eq!(config.zone_limits.file_bytes, 64 << 10);
        assert_eq!(config.zone_limits.zone_bytes, 3 << 30);
        let config = resolve(&["--max-zone-size", "1000MiB"]).unwrap();
        assert_eq!(config.zone_limits.zone_bytes, 1000 << 20);
        for bad in ["", "0", "-1", "12X", "M"] {
            let error = resolve(&["--max-zone-file-size", bad]).unwrap_err();
            assert!(error.to_string().starts_with("--max-zone-file-size:"));
        }
    }

    #[test]
    fn errors_name_the_flag() {
        let message = |args: &[&str]| resolve(args).unwrap_err().to_string();
        assert!(message(&["--listen", "nowhere"]).starts_with("--listen:"));
        assert!(message(&["--zone", "a..b"]).starts_with("--zone:"));
        assert!(message(&["--ns-address", "x"]).starts_with("--ns-address:"));
        assert!(message(&["--soa-minimum", "3000000000"]).starts_with("--soa-minimum:"));
        assert!(message(&["--ns", "ns1"]).starts_with("--ns:"));
        assert!(message(&["--ns", "ns1=nowhere"]).starts_with("--ns:"));
        assert!(message(&["--ns", "*.x=192.0.2.1"]).starts_with("--ns:"));
        assert!(
            message(&["--ns", "a=192.0.2.1", "--ns-address", "192.0.2.2"])
                .starts_with("--ns-address:")
        );
        assert!(message(&["--docker", "ftp://x"]).starts_with("--docker:"));
        assert!(
            message(&["--upstream", "off", "--upstream", "1.1.1.1"]).starts_with("--upstream:")
        );
        assert!(message(&["--zones", "/nonexistent/dir"]).starts_with("--zones:"));
        assert!(message(&["--cache-size", "99999999"]).starts_with("--cache-size:"));
        assert!(message(&["--docker", "https://h:2376"]).starts_with("--docker:"));
        assert!(message(&["--address", "both"]).starts_with("--address:"));
        assert!(message(&["--rrl", "0"]).starts_with("--rrl:"));
        assert!(message(&["--tcp-connections", "0"]).starts_with("--tcp-connections:"));
        assert!(message(&["--http-connections", "0"]).starts_with("--http-connections:"));
        assert!(message(&["--http-timeout", "1h"]).starts_with("--http-timeout:"));
        assert!(message(&["--tcp-per-client", "0"]).starts_with("--tcp-per-client:"));
        assert!(message(&["--tcp-idle-timeout", "x"]).starts_with("--tcp-idle-timeout:"));
        assert!(message(&["--tcp-queued-bytes", "1K"]).starts_with("--tcp-queued-bytes:"));
        assert!(message(&["--rrl", "fast"]).starts_with("--rrl:"));
        assert!(message(&["--address", "host"]).starts_with("--host-ip:"));
        assert!(message(&["--host-ip", "192.0.2.1"]).starts_with("--host-ip:"));
        assert!(message(&["--address", "host", "--host-ip", "0.0.0.0"]).starts_with("--host-ip:"));
        assert!(
            message(&[
                "--address",
                "host",
                "--host-ip",
                "192.0.2.1",
                "--network",
                "n"
            ])
            .starts_with("--network:")
        );
    }

    #[test]
    fn etcd_settings() {
        let base = ["--docker", "off", "--upstream", "off"];
        let etcd = |args: &[&str]| {
            let mut argv = base.to_vec();
            argv.extend_from_slice(args);
            resolve(&argv).map(|c| c.etcd)
        };
        assert_eq!(etcd(&[]).unwrap(), None);
        assert_eq!(etcd(&["--etcd", "off"]).unwrap(), None);
        let on = etcd(&[
            "--etcd",
            "http://127.0.0.1:2379",
            "--etcd",
            "http://127.0.0.1:2381",
            "--instance",
            "Host-A",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(on.endpoints.len(), 2);
        assert_eq!(on.prefix, "/skydns");
        assert_eq!(on.lease_ttl, 15);
        assert_eq!(on.instance, "host-a");
        assert_eq!(on.tls, None);
        let secure = etcd(&["--etcd", "https://e:2379", "--etcd-prefix", "/dns/"])
            .unwrap()
            .unwrap();
        assert_eq!(secure.prefix, "/dns");
        assert!(secure.tls.is_some());

        let message = |args: &[&str]| etcd(args).unwrap_err().to_string();
        assert!(message(&["--etcd", "127.0.0.1:2379"]).starts_with("--etcd:"));
        assert!(message(&["--etcd-prefix", "skydns"]).starts_with("--etcd-prefix:"));
        assert!(message(&["--etcd-prefix", "/a//b"]).starts_with("--etcd-prefix:"));
        assert!(message(&["--etcd-lease", "1"]).starts_with("--etcd-lease:"));
        assert!(message(&["--instance", "a.b"]).starts_with("--instance:"));
        assert!(message(&["--instance=-a"]).starts_with("--instance:"));
        assert!(message(&["--etcd-cert", "c.pem"]).starts_with("--etcd-key:"));
        assert!(message(&["--etcd-user", "u"]).starts_with("--etcd-password-file:"));
    }

    #[test]
    fn docker_settings() {
        let docker = |args: &[&str]| {
            let mut argv = vec!["--docker", "unix:///run/d.sock", "--upstream", "off"];
            argv.extend_from_slice(args);
            resolve(&argv).unwrap().docker.unwrap()
        };
        let settings = docker(&["--zone", "a.test", "--ttl", "9"]);
        assert_eq!(settings.endpoint, "unix:///run/d.sock");
        assert_eq!(settings.zones[0].to_ascii(), "a.test.");
        assert_eq!(settings.ttl, 9);
        assert_eq!(settings.addresses, Addresses::Container { network: None });
        assert!(!settings.serve_starting);
        let settings = docker(&["--network", "backend", "--serve-starting"]);
        assert_eq!(
            settings.addresses,
            Addresses::Container {
                network: Some("backend".into())
            }
        );
        assert!(settings.serve_starting);
        assert_eq!(settings.expose, docker::Expose::All);
        let settings = docker(&["--expose", "labelled"]);
        assert_eq!(settings.expose, docker::Expose::Labelled);
        let wrong = resolve(&["--docker", "off", "--expose", "some"]).unwrap_err();
        assert!(wrong.to_string().starts_with("--expose:"), "{wrong}");
        let settings = docker(&["--filter", "label=team=web", "--filter", "network=front"]);
        assert_eq!(
            settings.filters.given(),
            ["label=team=web", "network=front"]
        );
        let wrong = resolve(&["--docker", "off", "--filter", "status=running"]).unwrap_err();
        assert!(wrong.to_string().starts_with("--filter:"), "{wrong}");
        let settings = docker(&["--address", "host", "--host-ip", "192.0.2.1"]);
        assert_eq!(
            settings.addresses,
            Addresses::Host {
                ip: "192.0.2.1".parse().unwrap()
            }
        );
        let off = resolve(&["--docker", "off", "--upstream", "off"]).unwrap();
        assert_eq!(off.docker, None);
    }

    #[test]
    fn docker_freshness_flags() {
        let docker = |args: &[&str]| {
            let mut argv = vec!["--docker", "unix:///run/d.sock", "--upstream", "off"];
            argv.extend_from_slice(args);
            resolve(&argv).map(|c| c.docker.unwrap())
        };
        let defaults = docker(&[]).unwrap();
        assert_eq!(defaults.reconcile, Some(Duration::from_secs(30)));
        assert_eq!(defaults.call_timeout(), Duration::from_secs(10));
        assert_eq!(defaults.stale_limit, Some(Duration::from_secs(300)));
        let set = docker(&["--docker-reconcile", "4", "--stale-limit", "90s"]).unwrap();
        assert_eq!(set.reconcile, Some(Duration::from_secs(4)));
        assert_eq!(set.call_timeout(), Duration::from_secs(2));
        assert_eq!(set.stale_limit, Some(Duration::from_secs(90)));
        let off = docker(&["--docker-reconcile", "0", "--stale-limit", "0"]).unwrap();
        assert_eq!(off.reconcile, None);
        assert_eq!(off.call_timeout(), Duration::from_secs(10));
        assert_eq!(off.stale_limit, None);
        assert_eq!(
            docker(&["--stale-limit", "2m"]).unwrap().stale_limit,
            Some(Duration::from_secs(120))
        );
        let message = |args: &[&str]| docker(args).unwrap_err().to_string();
        assert!(message(&["--docker-reconcile", "1"]).starts_with("--docker-reconcile:"));
        assert!(message(&["--stale-limit", "soon"]).starts_with("--stale-limit:"));
    }

    #[test]
    fn upstream_defaults_port_53() {
        let config = resolve(&["--upstream", "127.0.0.2", "--upstream", "[::1]:5300"]).unwrap();
        assert_eq!(config.upstreams[0], "127.0.0.2:53".parse().unwrap());
        assert_eq!(config.upstreams[1], "[::1]:5300".parse().unwrap());
    }

    #[test]
    fn resolv_conf_skips_berth_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        std::fs::write(
            &path,
            "# c\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nsearch x\n",
        )
        .unwrap();
        let listen = vec!["127.0.0.1:53".parse().unwrap()];
        let found = resolv_conf_nameservers(&path, &listen);
        assert_eq!(found, vec!["10.0.0.2:53".parse().unwrap()]);
    }

    #[test]
    fn toml_file_under_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(
            &path,
            "ttl = 30\nzone = [\"a.test\"]\ndocker = \"off\"\nupstream = [\"off\"]\n",
        )
        .unwrap();
        let config = resolve(&["--config", path.to_str().unwrap(), "--ttl", "7"]).unwrap();
        assert_eq!(config.ttl, 7);
        assert_eq!(config.zones[0].to_ascii(), "a.test.");
        std::fs::write(&path, "bogus = 1\n").unwrap();
        let error = resolve(&["--config", path.to_str().unwrap()]).unwrap_err();
        assert!(error.to_string().contains("bogus"));
    }

    #[test]
    fn docker_urls_need_a_host_or_an_absolute_path() {
        for good in [
            "unix:///var/run/docker.sock",
            "tcp://127.0.0.1:2375",
            "http://docker.internal:2375/",
            "tcp://[::1]:2375",
            "tcp://dockerhost",
        ] {
            assert!(check_docker_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://",
            "tcp://",
            "tcp://:2375",
            "unix://x.sock",
            "tcp://h:0",
            "tcp://h:x",
            "ftp://h",
        ] {
            let error = check_docker_url(bad).unwrap_err().to_string();
            assert!(error.starts_with("--docker:"), "{bad}: {error}");
        }
    }

    #[test]
    fn zone_names_say_what_is_wrong() {
        assert!(parse_zone("apps.local").is_ok());
        assert!(parse_zone("_tcp.apps.local.").is_ok());
        let error = parse_zone("bad zone!").unwrap_err();
        assert!(error.contains("a space at position 4"), "{error}");
        assert!(parse_zone("a..b").unwrap_err().contains("empty label"));
        assert!(parse_zone("-a.b").unwrap_err().contains("'-'"));
        assert!(parse_zone(&"x".repeat(64)).unwrap_err().contains("63"));
    }

    #[test]
    fn file_errors_name_the_key_and_line() {
        assert_eq!(key_line("a = 1\n  ttl= 5\n", "ttl"), Some(2));
        assert_eq!(key_line("ttl-x = 1\n", "ttl"), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, "docker = \"off\"\nlisten = \"nowhere\"\n").unwrap();
        let path = path.to_str().unwrap();
        let error = resolve(&["--config", path]).unwrap_err().to_string();
        assert!(error.contains("line 2: listen:"), "{error}");
        // Given on the command line too: the flag's value is the bad one.
        let error = resolve(&["--config", path, "--listen", "x"]).unwrap_err();
        assert!(error.to_string().starts_with("--listen:"), "{error}");
    }
}
