//! Validated settings: plain data, built before anything binds. A bad value
//! is a [`ConfigError`] that names the flag, and the binary exits with 64.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use hickory_proto::rr::Name;

use crate::cli::Cli;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:1053";
pub const DEFAULT_ZONE: &str = "apps.local";
pub const DEFAULT_TTL: u32 = 5;
pub const DEFAULT_HTTP: &str = "127.0.0.1:8053";
pub const DEFAULT_DOCKER: &str = "unix:///var/run/docker.sock";
const DNS_PORT: u16 = 53;
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DockerEndpoint {
    Off,
    Url(String),
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

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub zones: Vec<Name>,
    pub zone_dir: Option<PathBuf>,
    pub ttl: u32,
    pub ns_address: Option<IpAddr>,
    pub wildcard_target: Option<IpAddr>,
    pub docker: DockerEndpoint,
    pub addresses: Addresses,
    /// Serve containers whose healthcheck has not passed yet.
    pub serve_starting: bool,
    /// Empty: forwarding is off and other names are REFUSED.
    pub upstreams: Vec<SocketAddr>,
    pub upstream_timeout: Duration,
    /// In 1 KiB answers; 0: no cache.
    pub cache_size: usize,
    pub allow_recursion: Vec<IpNet>,
    /// None: no HTTP endpoint.
    pub http: Option<SocketAddr>,
    pub log_format: LogFormat,
}

impl Config {
    /// Merges flags and environment (already in `cli`) over the TOML file
    /// named by `--config`, applies defaults, and validates everything.
    pub fn resolve(cli: Cli) -> Result<Config, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => Cli::default(),
        };
        let pick_vec =
            |flag: Vec<String>, file: Vec<String>| if flag.is_empty() { file } else { flag };
        let listen = pick_vec(cli.listen, file.listen);
        let zone = pick_vec(cli.zone, file.zone);
        let upstream = pick_vec(cli.upstream, file.upstream);

        let listen = if listen.is_empty() {
            vec![DEFAULT_LISTEN.to_string()]
        } else {
            listen
        };
        let listen = listen
            .iter()
            .map(|text| {
                parse_socket(text, None)
                    .ok_or_else(|| invalid("listen", format!("{text:?} is not ADDR:PORT")))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let zone = if zone.is_empty() {
            vec![DEFAULT_ZONE.to_string()]
        } else {
            zone
        };
        let mut zones = Vec::new();
        for text in &zone {
            let name = parse_zone(text)
                .map_err(|reason| invalid("zone", format!("{text:?}: {reason}")))?;
            if !zones.contains(&name) {
                zones.push(name);
            }
        }

        let zone_dir = match cli.zones.or(file.zones) {
            Some(dir) if !dir.is_dir() => {
                return Err(invalid(
                    "zones",
                    format!("{} is not a directory", dir.display()),
                ));
            }
            Some(dir) => Some(dir),
            None => Some(PathBuf::from("zones")).filter(|dir| dir.is_dir()),
        };

        let ttl = cli.ttl.or(file.ttl).unwrap_or(DEFAULT_TTL);
        if ttl > i32::MAX as u32 {
            return Err(invalid("ttl", "must be at most 2147483647 (RFC 2181 §8)"));
        }

        let ns_address =
            match cli.ns_address.or(file.ns_address) {
                Some(text) => Some(parse_ip(&text).ok_or_else(|| {
                    invalid("ns-address", format!("{text:?} is not an IP address"))
                })?),
                None => listen
                    .iter()
                    .map(|a| a.ip())
                    .find(|ip| !ip.is_unspecified()),
            };
        let wildcard_target = match cli.wildcard_target.or(file.wildcard_target) {
            Some(text) => Some(parse_ip(&text).ok_or_else(|| {
                invalid("wildcard-target", format!("{text:?} is not an IP address"))
            })?),
            None => None,
        };

        let docker = match cli.docker.or(file.docker) {
            Some(text) if text == "off" => DockerEndpoint::Off,
            Some(text) => DockerEndpoint::Url(check_docker_url(&text)?),
            None => match std::env::var("DOCKER_HOST").ok().filter(|v| !v.is_empty()) {
                Some(text) => DockerEndpoint::Url(check_docker_url(&text).map_err(|_| {
                    invalid(
                        "docker",
                        format!("$DOCKER_HOST {text:?} is not unix:// or tcp://; set --docker"),
                    )
                })?),
                None => DockerEndpoint::Url(DEFAULT_DOCKER.to_string()),
            },
        };

        let addresses = resolve_addresses(
            cli.address.or(file.address),
            cli.network.or(file.network),
            cli.host_ip.or(file.host_ip),
        )?;
        let serve_starting = cli.serve_starting || file.serve_starting;

        let upstreams = if upstream.iter().any(|u| u == "off") {
            if upstream.len() > 1 {
                return Err(invalid(
                    "upstream",
                    "\"off\" cannot be combined with addresses",
                ));
            }
            Vec::new()
        } else if upstream.is_empty() {
            resolv_conf_nameservers(Path::new("/etc/resolv.conf"), &listen)
        } else {
            upstream
                .iter()
                .map(|text| {
                    parse_socket(text, Some(DNS_PORT)).ok_or_else(|| {
                        invalid(
                            "upstream",
                            format!("{text:?} is not ADDR[:PORT] or \"off\""),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        if let Some(looped) = upstreams.iter().find(|u| listen.contains(u)) {
            return Err(invalid("upstream", format!("{looped} is berth itself")));
        }

        let upstream_timeout = match cli.upstream_timeout.or(file.upstream_timeout) {
            Some(text) => parse_duration(&text).ok_or_else(|| {
                invalid(
                    "upstream-timeout",
                    format!("{text:?} is not a duration such as 2s or 500ms"),
                )
            })?,
            None => DEFAULT_UPSTREAM_TIMEOUT,
        };

        let cache_size = cli
            .cache_size
            .or(file.cache_size)
            .unwrap_or(DEFAULT_CACHE_SIZE);
        if cache_size > MAX_CACHE_SIZE {
            return Err(invalid(
                "cache-size",
                format!("must be at most {MAX_CACHE_SIZE}"),
            ));
        }

        let allow = pick_vec(cli.allow_recursion, file.allow_recursion);
        let allow: Vec<String> = if allow.is_empty() {
            DEFAULT_ALLOW_RECURSION
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            allow
        };
        let allow_recursion = allow
            .iter()
            .map(|text| {
                parse_net(text).ok_or_else(|| {
                    invalid(
                        "allow-recursion",
                        format!("{text:?} is not an address or CIDR"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let http =
            match cli.http.or(file.http).as_deref() {
                Some("off") => None,
                Some(text) => Some(parse_socket(text, None).ok_or_else(|| {
                    invalid("http", format!("{text:?} is not ADDR:PORT or \"off\""))
                })?),
                None => DEFAULT_HTTP.parse().ok(),
            };

        let log_format = match cli.log_format.or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log-format",
                    format!("{other:?} is not \"text\" or \"json\""),
                ));
            }
        };

        Ok(Config {
            listen,
            zones,
            zone_dir,
            ttl,
            ns_address,
            wildcard_target,
            docker,
            addresses,
            serve_starting,
            upstreams,
            upstream_timeout,
            cache_size,
            allow_recursion,
            http,
            log_format,
        })
    }
}

fn read_file(path: &Path) -> Result<Cli, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    toml::from_str(&text).map_err(|e| file_error(e.to_string()))
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

fn check_docker_url(text: &str) -> Result<String, ConfigError> {
    if text.starts_with("https://") {
        // The Docker client is built without TLS: reach a remote daemon
        // through an SSH-forwarded unix socket instead.
        return Err(invalid(
            "docker",
            format!("{text:?}: TLS is not supported; use unix:// or tcp://"),
        ));
    }
    let known = ["unix://", "tcp://", "http://"];
    if known.iter().any(|scheme| text.starts_with(scheme)) {
        Ok(text.to_string())
    } else {
        Err(invalid(
            "docker",
            format!("{text:?} is not unix://, tcp://, http:// or \"off\""),
        ))
    }
}

/// `--address`, `--network` and `--host-ip` together: each only makes
/// sense with one choice of `--address`.
fn resolve_addresses(
    address: Option<String>,
    network: Option<String>,
    host_ip: Option<String>,
) -> Result<Addresses, ConfigError> {
    match address.as_deref() {
        None | Some("container") => {
            if host_ip.is_some() {
                return Err(invalid("host-ip", "only used with --address host"));
            }
            if network.as_deref() == Some("") {
                return Err(invalid("network", "is empty"));
            }
            Ok(Addresses::Container { network })
        }
        Some("host") => {
            if network.is_some() {
                return Err(invalid("network", "only used with --address container"));
            }
            let text = host_ip.ok_or_else(|| invalid("host-ip", "required with --address host"))?;
            let ip = parse_ip(&text)
                .filter(|ip| !ip.is_unspecified())
                .ok_or_else(|| {
                    invalid("host-ip", format!("{text:?} is not a host's IP address"))
                })?;
            Ok(Addresses::Host { ip })
        }
        Some(other) => Err(invalid(
            "address",
            format!("{other:?} is not \"container\" or \"host\""),
        )),
    }
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
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["berth"];
        argv.extend_from_slice(args);
        Config::resolve(Cli::try_parse_from(argv).unwrap())
    }

    #[test]
    fn defaults() {
        let config = resolve(&["--docker", "off", "--upstream", "off"]).unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:1053".parse().unwrap()]);
        assert_eq!(config.zones[0].to_ascii(), "apps.local.");
        assert_eq!(config.ttl, 5);
        assert_eq!(config.ns_address, Some("127.0.0.1".parse().unwrap()));
        assert!(config.upstreams.is_empty());
        assert_eq!(config.cache_size, DEFAULT_CACHE_SIZE);
    }

    #[test]
    fn errors_name_the_flag() {
        let message = |args: &[&str]| resolve(args).unwrap_err().to_string();
        assert!(message(&["--listen", "nowhere"]).starts_with("--listen:"));
        assert!(message(&["--zone", "a..b"]).starts_with("--zone:"));
        assert!(message(&["--ns-address", "x"]).starts_with("--ns-address:"));
        assert!(message(&["--docker", "ftp://x"]).starts_with("--docker:"));
        assert!(
            message(&["--upstream", "off", "--upstream", "1.1.1.1"]).starts_with("--upstream:")
        );
        assert!(message(&["--zones", "/nonexistent/dir"]).starts_with("--zones:"));
        assert!(message(&["--cache-size", "99999999"]).starts_with("--cache-size:"));
        assert!(message(&["--docker", "https://h:2376"]).starts_with("--docker:"));
        assert!(message(&["--address", "both"]).starts_with("--address:"));
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
    fn addresses() {
        let config = resolve(&["--upstream", "off"]).unwrap();
        assert_eq!(config.addresses, Addresses::Container { network: None });
        assert!(!config.serve_starting);
        let config = resolve(&["--network", "backend", "--serve-starting"]).unwrap();
        assert_eq!(
            config.addresses,
            Addresses::Container {
                network: Some("backend".into())
            }
        );
        assert!(config.serve_starting);
        let config = resolve(&["--address", "host", "--host-ip", "192.0.2.1"]).unwrap();
        assert_eq!(
            config.addresses,
            Addresses::Host {
                ip: "192.0.2.1".parse().unwrap()
            }
        );
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
}
