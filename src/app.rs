//! Wiring: build the registry from the sources' first reading, bind, log
//! where berth listens, serve until told to stop, then drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::dns::forward::Forwarder;
use crate::dns::handler::Handler;
use crate::dns::server;
use crate::registry::{self, ZoneSettings};
use crate::sources::docker::DockerSource;
use crate::sources::zonefile::ZoneDir;

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
        ttl,
        ns_address,
        wildcard_target,
        docker,
        upstreams,
        upstream_timeout,
        cache_size,
        max_ttl,
        allow_recursion,
        http,
        log_format: _,
    } = config;

    let settings = ZoneSettings {
        zones: zones.clone(),
        ttl,
        ns_address,
        wildcard_target,
    };
    let mut zone_files = zone_dir.map(|dir| ZoneDir::new(dir, zones.clone(), ttl));
    // The first reading of the zone files is in place before the first query.
    let initial = zone_files
        .as_mut()
        .map(|z| z.scan(true))
        .unwrap_or_default();
    let (registry, snapshot, writer_task) = registry::spawn(settings, initial);

    if let Some(zone_files) = zone_files {
        tokio::spawn(zone_files.watch(registry.clone(), signals.reload.clone()));
    }
    let stop_sources = CancellationToken::new();
    match docker {
        None => tracing::info!("docker source off"),
        Some(settings) => {
            tracing::info!(url = %settings.endpoint, "docker source on");
            let source = DockerSource::new(settings);
            tokio::spawn(source.run(registry.clone(), stop_sources.clone()));
        }
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
    if let Some(address) = http {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("binding --http {address}"))?;
        let address = listener.local_addr()?;
        tokio::spawn(crate::http::serve(
            listener,
            snapshot.clone(),
            http_shutdown.clone(),
        ));
        tracing::info!(%address, "http listening");
    }

    let handler = Arc::new(Handler {
        snapshot,
        forwarder,
        allow_recursion,
    });

    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bound = server::bind(&listen, workers).with_context(|| format!("binding {listen:?}"))?;
    let addresses: Vec<SocketAddr> = bound.iter().map(|b| b.address).collect();
    // Bound already: a query sent once this is logged waits in the socket.
    for address in &addresses {
        tracing::info!(%address, zones = ?zones.iter().map(|z| z.to_ascii()).collect::<Vec<_>>(), "dns listening");
    }
    let shutdown = async {
        signals.shutdown.await;
        tracing::info!("shutting down");
        http_shutdown.cancel();
        stop_sources.cancel();
    };
    server::serve(bound, handler, shutdown).await?;
    writer_task.abort();
    Ok(())
}
