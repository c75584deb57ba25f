//! Wiring: build the registry from the sources' first reading, bind, log
//! where berth listens, serve until told to stop, then drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::budget;
use crate::config::Config;
use crate::dns::forward::Forwarder;
use crate::dns::handler::Handler;
use crate::dns::server;
use crate::http::Window;
use crate::registry::{self, ZoneSettings};
use crate::sources::docker::DockerSource;
use crate::sources::etcd::{self as etcd_source, EtcdSource};
use crate::sources::zonefile::ZoneDir;
use crate::state::StateDir;
use crate::status::Status;

/// Signals the binary turns into calls: reload (SIGHUP) and stop (SIGTERM).
pub struct Signals<S> {
    pub reload: Arc<Notify>,
    pub shutdown: S,
}

/// Runs berth until `signals.shutdown` completes.
pub async fn run<S: Future<Output = ()>>(
    config: Config,
    signals: Signals<S>,
) -> anyhow::Result<()> {
    let Config {
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
        mut tcp,
        mut http_limits,
        log_format: _,
        state_dir,
    } = config;

    // Before any socket or file is opened.
    budget_handles(&mut tcp, &mut http_limits);

    let settings = ZoneSettings {
        zones: zones.clone(),
        ttl,
        soa_minimum,
        name_servers,
        wildcard_target,
        ixfr_journal: transfers.ixfr_journal,
    };
    let state = match &state_dir {
        Some(dir) => {
            let state = StateDir::open(dir)?;
            tracing::info!(dir = %dir.display(), "keeping zone serials across restarts");
            Some(state)
        }
        None => None,
    };
    let serials_before = state.as_ref().map(StateDir::serials).unwrap_or_default();
    let (registry, snapshot) =
        registry::spawn_resuming(settings, serials_before).context("starting the registry")?;
    let stop_keeping = CancellationToken::new();
    if let Some(state) = state {
        tokio::spawn(state.keep_serials(
            snapshot.clone(),
            registry.published(),
            stop_keeping.clone(),
        ));
    }
    let status = Arc::new(Status::default());

    // Bound before the zone files are read: a port in use is the first
    // thing said, and queries that arrive during the first reading wait in
    // the sockets, to be answered from it.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bound = server::bind(&listen, workers).with_context(|| format!("binding {listen:?}"))?;
    let addresses: Vec<SocketAddr> = bound.iter().map(|b| b.address).collect();
    // HTTP too: every "address in use" comes before any source starts.
    let http_listener = match http {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding --http {address}"))?,
        ),
        None => None,
    };
    if let Some(ip) = ns_from_interface {
        tracing::info!(
            %ip,
            "ns.<zone> answers at the first interface address that is not loopback: \
             berth listens on every address; set --ns-address to choose"
        );
    }

    let first_reading = match zone_dir {
        Some(dir) => {
            let zone_files = ZoneDir::new(dir.clone(), zones.clone(), ttl, zone_limits)
                .with_context(|| format!("reading --zones {}", dir.display()))?
                .reporting_to(status.clone());
            let (reload_files, reloads) = std::sync::mpsc::channel();
            let reload = signals.reload.clone();
            tokio::spawn(async move {
                loop {
                    reload.notified().await;
                    if reload_files.send(()).is_err() {
                        break;
                    }
                }
            });
            Some(
                zone_files
                    .spawn(registry.clone(), reloads)
                    .context("starting the zone file reader")?,
            )
        }
        None => {
            tracing::info!("no zone files: --zones not given and ./zones does not exist");
            None
        }
    };
    let stop_sources = CancellationToken::new();
    // The etcd source publishes what the Docker source serves: it follows
    // a copy of the Docker source's changes.
    let (docker_registry, published) = match &etcd {
        Some(settings) => {
            let (tap, changes) = tokio::sync::mpsc::unbounded_channel();
            let published = etcd_source::spawn_local(
                changes,
                settings.prefix.clone(),
                settings.instance.clone(),
            );
            (registry.tapped(tap), Some(published))
        }
        None => (registry.clone(), None),
    };
    match docker {
        None => tracing::info!("docker source off"),
        Some(settings) => {
            tracing::info!(url = %settings.endpoint, "docker source on");
            let source = DockerSource::new(settings, status.clone());
            tokio::spawn(source.run(docker_registry, stop_sources.clone()));
        }
    }
    if let (Some(settings), Some(published)) = (etcd, published) {
        tracing::info!(endpoints = ?settings.endpoints, prefix = %settings.prefix, instance = %settings.instance, "etcd source on");
        let source = EtcdSource::new(settings, status.clone());
        tokio::spawn(source.run(registry.clone(), published, stop_sources.clone()));
    }

    if !transfers.notify.is_empty() {
        tokio::spawn(crate::dns::notify::run(
            snapshot.clone(),
            registry.published(),
            transfers.notify.clone(),
            stop_sources.clone(),
        ));
    }

    let forwarder = if upstreams.is_empty() {
        tracing::info!("forwarding off: names outside berth's zones are refused");
        None
    } else {
        tracing::info!(upstreams = ?upstreams, cache_size, "forwarding other names");
        Some(Arc::new(
            Forwarder::new(upstreams, upstream_timeout, cache_size).with_max_ttl(max_ttl),
        ))
    };
    let http_shutdown = CancellationToken::new();
    if let Some(listener) = http_listener {
        let address = listener.local_addr()?;
        let window = Window {
            snapshot: snapshot.clone(),
            status,
            forwarder: forwarder.clone(),
        };
        tokio::spawn(crate::http::serve(
            listener,
            Arc::new(window),
            http_limits,
            http_shutdown.clone(),
        ));
        tracing::info!(%address, "http listening");
    }

    // The zone files' first reading is published before the first answer,
    // so no name they hold is ever denied; a stop signal meanwhile is
    // obeyed at once, the reader thread dying with the process.
    let mut shutdown = std::pin::pin!(signals.shutdown);
    if let Some(first_reading) = first_reading {
        tokio::select! {
            _ = first_reading => {}
            _ = &mut shutdown => {
                tracing::info!("shutting down while reading the zone files");
                http_shutdown.cancel();
                stop_sources.cancel();
                return Ok(());
            }
        }
    }

    let handler = Arc::new(Handler {
        snapshot,
        forwarder,
        allow_recursion,
        transfers: Arc::new(transfers),
        rrl: rrl.map(crate::dns::rrl::Limiter::new),
    });
    match handler.rrl.as_ref().map(|limiter| limiter.settings()) {
        Some(rrl) => tracing::info!(
            rate = rrl.rate,
            slip = rrl.slip,
            "response rate limiting on"
        ),
        None => tracing::info!("response rate limiting off"),
    }
    // A query sent once this is logged is answered from the first reading.
    for address in &addresses {
        tracing::info!(%address, zones = ?zones.iter().map(|z| z.to_ascii()).collect::<Vec<_>>(), "dns listening");
    }
    let shutdown = async {
        shutdown.await;
        tracing::info!("shutting down");
        http_shutdown.cancel();
        stop_sources.cancel();
    };
    server::serve(bound, handler, tcp, shutdown).await?;
    stop_keeping.cancel();
    Ok(())
}

/// Raises the soft limit on open files to the hard one, and lowers the
/// connection limits if they would not leave [`budget::RESERVED`] handles
/// for zone files, Docker and upstreams.
fn budget_handles(tcp: &mut crate::dns::tcp::Limits, http: &mut crate::http::Limits) {
    let handles = match budget::raise_nofile() {
        Ok(handles) => handles,
        Err(error) => {
            tracing::warn!(%error, "could not read or raise the open file limit");
            return;
        }
    };
    tracing::info!(
        soft = handles.soft,
        hard = handles.hard,
        was = handles.soft_before,
        "open file limit"
    );
    let (dns_tcp, http_connections) = budget::fit(handles.soft, tcp.connections, http.connections);
    if (dns_tcp, http_connections) != (tcp.connections, http.connections) {
        tracing::warn!(
            limit = handles.soft,
            reserved = budget::RESERVED,
            tcp_connections = dns_tcp,
            http_connections,
            "open file limit too low for the connection limits; lowered them"
        );
        tcp.connections = dns_tcp;
        tcp.per_client = tcp.per_client.min(dns_tcp);
        http.connections = http_connections;
    }
}
