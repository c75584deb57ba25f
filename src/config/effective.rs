//! `berth --check`: the configuration as berth would run it, defaults
//! filled in, as TOML with the keys `--config` takes, so that the output is
//! itself a config file that means the same. TSIG secrets are not printed.

use std::net::SocketAddr;

use toml::{Table, Value};

use super::{Config, LogFormat};
use crate::sources::docker::Addresses;

fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|i| Value::String(i.to_string()))
            .collect(),
    )
}

fn text(value: impl ToString) -> Value {
    Value::String(value.to_string())
}

fn number(n: impl TryInto<i64>) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

fn off_or(address: Option<SocketAddr>) -> Value {
    address.map_or_else(|| text("off"), text)
}

impl Config {
    /// TOML for `--check`; see the module comment.
    pub fn effective(&self) -> String {
        let Config {
            listen,
            zones,
            zone_dir,
            zone_limits,
            ttl,
            soa_minimum,
            name_servers,
            ns_from_interface: _,
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
        } = self;
        let mut table = Table::new();
        let mut set = |key: &str, value: Value| {
            table.insert(key.to_string(), value);
        };
        set("listen", list(listen));
        set("zone", list(zones.iter().map(|z| z.to_ascii())));
        if let Some(dir) = zone_dir {
            set("zones", text(dir.display()));
        }
        set("max-zone-file-size", text(zone_limits.file_bytes));
        set("max-zone-size", text(zone_limits.zone_bytes));
        set("ttl", number(*ttl));
        set("soa-minimum", number(*soa_minimum));
        set(
            "ns",
            list(name_servers.iter().map(|ns| match ns.address {
                Some(ip) => format!("{}={ip}", ns.name),
                None => ns.name.to_ascii(),
            })),
        );
        if let Some(ip) = wildcard_target {
            set("wildcard-target", text(ip));
        }
        match docker {
            None => set("docker", text("off")),
            Some(settings) => {
                set("docker", text(&settings.endpoint));
                match &settings.addresses {
                    Addresses::Container { network } => {
                        set("address", text("container"));
                        if let Some(network) = network {
                            set("network", text(network));
                        }
                    }
                    Addresses::Host { ip } => {
                        set("address", text("host"));
                        set("host-ip", text(ip));
                    }
                }
                set("serve-starting", Value::Boolean(settings.serve_starting));
                set("expose", text(settings.expose.as_str()));
                set(
                    "docker-reconcile",
                    number(settings.reconcile.map_or(0, |every| every.as_secs())),
                );
                set(
                    "stale-limit",
                    text(settings.stale_limit.map_or_else(
                        || "0".to_string(),
                        |limit| humantime::format_duration(limit).to_string(),
                    )),
                );
                set("filter", list(settings.filters.given()));
            }
        }
        match etcd {
            None => set("etcd", list(["off"])),
            Some(settings) => {
                set("etcd", list(&settings.endpoints));
                set("etcd-prefix", text(&settings.prefix));
                set("etcd-lease", number(settings.lease_ttl));
                set("instance", text(&settings.instance));
                if let Some(tls) = &settings.tls {
                    if let Some(ca) = &tls.ca {
                        set("etcd-ca", text(ca.display()));
                    }
                    if let Some((cert, key)) = &tls.identity {
                        set("etcd-cert", text(cert.display()));
                        set("etcd-key", text(key.display()));
                    }
                }
                if let Some(user) = &settings.user {
                    set("etcd-user", text(&user.name));
                    set("etcd-password-file", text(user.password_file.display()));
                }
            }
        }
        if upstreams.is_empty() {
            set("upstream", list(["off"]));
        } else {
            set("upstream", list(upstreams));
        }
        set(
            "upstream-timeout",
            text(format!("{}ms", upstream_timeout.as_millis())),
        );
        set("cache-size", number(*cache_size));
        set("max-ttl", number(*max_ttl));
        set("allow-recursion", list(allow_recursion));
        let with_key = |head: String, key: &Option<String>| match key {
            Some(key) => format!("{head} key {key}").trim().to_string(),
            None => head,
        };
        set(
            "allow-transfer",
            list(transfers.allow.iter().map(|rule| {
                let net = rule.net.map(|n| n.to_string()).unwrap_or_default();
                with_key(net, &rule.key)
            })),
        );
        set(
            "notify",
            list(transfers.notify.iter().map(|target| {
                let key = target.key.as_ref().map(|k| k.text.clone());
                with_key(target.address.to_string(), &key)
            })),
        );
        set("ixfr-journal", number(transfers.ixfr_journal));
        set("http", off_or(*http));
        match rrl {
            Some(settings) => {
                set("rrl", text(settings.rate));
                set("rrl-slip", number(settings.slip));
            }
            None => set("rrl", text("off")),
        }
        set("tcp-connections", number(tcp.connections));
        set("tcp-per-client", number(tcp.per_client));
        set(
            "tcp-idle-timeout",
            text(format!("{}ms", tcp.idle_timeout.as_millis())),
        );
        set("tcp-queued-bytes", text(tcp.queued_bytes));
        set("http-connections", number(http_limits.connections));
        set(
            "http-timeout",
            text(format!("{}ms", http_limits.timeout.as_millis())),
        );
        let format = match log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        set("log-format", text(format));
        if let Some(dir) = state_dir {
            set("state-dir", text(dir.display()));
        }
        let keys: Vec<&str> = transfers.keys.names().collect();
        let mut out = String::new();
        if !keys.is_empty() {
            out.push_str(&format!(
                "# TSIG keys (secrets not shown; give them as before): {}\n",
                keys.join(", ")
            ));
        }
        out.push_str(&toml::to_string(&table).unwrap_or_default());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn what_check_prints_is_a_config_file_that_means_the_same() {
        let config = Config::resolve(
            Cli::try_parse_from([
                "berth",
                "--listen",
                "127.0.0.1:5300",
                "--zone",
                "a.test",
                "--docker",
                "tcp://127.0.0.1:2375",
                "--docker-reconcile",
                "7",
                "--stale-limit",
                "90s",
                "--state-dir",
                "/var/lib/berth",
                "--expose",
                "labelled",
                "--filter",
                "label=com.example.team=web",
                "--filter",
                "name=^web",
                "--upstream",
                "192.0.2.1",
                "--upstream-timeout",
                "1500ms",
                "--tsig-key",
                "xfr:hmac-sha256:c2VjcmV0",
                "--allow-transfer",
                "10.0.0.0/8 key xfr",
                "--notify",
                "127.0.0.2",
                "--etcd",
                "http://127.0.0.1:2379",
                "--instance",
                "node-1",
                "--etcd-user",
                "berth",
                "--etcd-password-file",
                "/run/etcd-password",
            ])
            .unwrap(),
        )
        .unwrap();
        let printed = config.effective();
        assert!(!printed.contains("c2VjcmV0"), "{printed}");
        assert!(
            printed.contains("\"label=com.example.team=web\""),
            "{printed}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, &printed).unwrap();
        let again = Config::resolve(
            Cli::try_parse_from([
                "berth",
                "--config",
                path.to_str().unwrap(),
                "--tsig-key",
                "xfr:hmac-sha256:c2VjcmV0",
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(again.effective(), printed);
    }
}
