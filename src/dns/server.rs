//! Sockets, and nothing about what is in the packets: each query goes to
//! the [`Handler`], each reply back to where the query came from.
//!
//! UDP is served by plain threads, each with its own SO_REUSEPORT socket,
//! taking queries in batches (recvmmsg), answering them from one snapshot
//! load without ever awaiting, and sending the replies in one call
//! (sendmmsg); only queries that must wait for an upstream go to the async
//! runtime. TCP (RFC 7766) runs on the runtime, in [`tcp`]: pipelined
//! queries, answers as they are ready, and limits that keep it fair.
//!
//! [`bind`] then [`serve`]: the sockets are bound first, so that the caller
//! can log the addresses (a test: read back port 0) before serving.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::handler::{Action, Handler};
use super::message::{MAX_UDP_PAYLOAD, Transport};
use super::mmsg::{Batch, force_receive_buffer};
use super::tcp;

/// Receive buffer asked for on each UDP socket, NSD's figure. The kernel's
/// default (`net.core.rmem_default`, usually 208 KiB of accounting, about
/// 250 queries with their overhead) overflows under a burst at full rate;
/// the kernel doubles what is asked for, so this gives 2 MiB of accounting.
const UDP_RECEIVE_BUFFER: usize = 1 << 20;
/// How often an idle UDP worker checks whether to stop.
const UDP_STOP_POLL: Duration = Duration::from_millis(200);
/// How long open TCP connections get to finish after the stop signal.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Sockets bound for one listen address.
pub struct Bound {
    pub address: SocketAddr,
    udp: Vec<UdpSocket>,
    tcp: std::net::TcpListener,
}

/// Binds UDP and TCP on each address. Port 0 picks one free port for both.
/// `udp_sockets` sockets share each UDP port through SO_REUSEPORT, so the
/// kernel spreads queries across the worker threads.
pub fn bind(addresses: &[SocketAddr], udp_sockets: usize) -> io::Result<Vec<Bound>> {
    addresses
        .iter()
        .map(|addr| bind_one(*addr, udp_sockets.max(1)))
        .collect()
}

fn bind_one(requested: SocketAddr, udp_sockets: usize) -> io::Result<Bound> {
    // With port 0 the TCP port is chosen first; UDP may find it taken, so try
    // a few times.
    let attempts = if requested.port() == 0 { 20 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let tcp = tcp_listener(requested)?;
        let address = tcp.local_addr()?;
        match (0..udp_sockets)
            .map(|_| udp_socket(address))
            .collect::<io::Result<Vec<_>>>()
        {
            Ok(udp) => {
                log_receive_buffer(address, &udp);
                return Ok(Bound { address, udp, tcp });
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}

fn new_socket(address: SocketAddr, kind: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(address), kind, Some(protocol))?;
    if address.is_ipv6() {
        // [::]:53 and 0.0.0.0:53 can then both be listened on.
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

fn udp_socket(address: SocketAddr) -> io::Result<UdpSocket> {
    let socket = new_socket(address, Type::DGRAM, Protocol::UDP)?;
    socket.set_reuse_port(true)?;
    enlarge_receive_buffer(&socket);
    socket.bind(&address.into())?;
    socket.set_read_timeout(Some(UDP_STOP_POLL))?;
    Ok(socket.into())
}

/// Asks for [`UDP_RECEIVE_BUFFER`] as NSD does: forced when berth may (root
/// in a container usually may), else as much as `net.core.rmem_max` allows,
/// which the kernel applies without saying. A refusal leaves the default,
/// which still serves.
fn enlarge_receive_buffer(socket: &Socket) {
    if force_receive_buffer(socket, UDP_RECEIVE_BUFFER).is_err() {
        let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    }
}

/// Says once per address what the kernel granted (all its sockets were
/// asked the same), since a capped buffer is otherwise invisible.
fn log_receive_buffer(address: SocketAddr, udp: &[UdpSocket]) {
    let Some(first) = udp.first() else {
        return;
    };
    match socket2::SockRef::from(first).recv_buffer_size() {
        Ok(bytes) => tracing::info!(
            %address,
            bytes,
            asked = UDP_RECEIVE_BUFFER,
            "udp receive buffer (the kernel counts double what is asked)"
        ),
        Err(error) => tracing::debug!(%address, %error, "udp receive buffer unknown"),
    }
}

fn tcp_listener(address: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = new_socket(address, Type::STREAM, Protocol::TCP)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Serves `bound` with `handler` until `shutdown` completes, then stops
/// accepting and gives open TCP connections [`DRAIN_GRACE`] to finish.
pub async fn serve(
    bound: Vec<Bound>,
    handler: Arc<Handler>,
    tcp_limits: tcp::Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let running = start(bound, handler, tcp_limits)?;
    shutdown.await;
    running.stop(DRAIN_GRACE).await;
    Ok(())
}

/// The running servers; dropping it does not stop them, [`Running::stop`] does.
struct Running {
    stop_udp: Arc<AtomicBool>,
    udp_threads: Vec<JoinHandle<()>>,
    tcp_shutdown: CancellationToken,
    tcp_tasks: TaskTracker,
}

impl Running {
    /// Stops accepting, lets open TCP connections finish within `grace`.
    async fn stop(self, grace: Duration) {
        self.stop_udp.store(true, Ordering::Relaxed);
        self.tcp_shutdown.cancel();
        self.tcp_tasks.close();
        let _ = tokio::time::timeout(grace, self.tcp_tasks.wait()).await;
        let threads = self.udp_threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// Starts a UDP worker thread per socket and a TCP accept task per address.
fn start(bound: Vec<Bound>, handler: Arc<Handler>, tcp_limits: tcp::Limits) -> io::Result<Running> {
    let runtime = Handle::current();
    let stop_udp = Arc::new(AtomicBool::new(false));
    let tcp_shutdown = CancellationToken::new();
    let tcp_tasks = TaskTracker::new();
    let connections = tcp::Table::new(tcp_limits);
    let mut udp_threads = Vec::new();
    for Bound { address, udp, tcp } in bound {
        for (i, socket) in udp.into_iter().enumerate() {
            let worker = UdpWorker {
                socket: Arc::new(socket),
                handler: handler.clone(),
                runtime: runtime.clone(),
                stop: stop_udp.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("udp-{address}-{i}"))
                .spawn(move || worker.run())?;
            udp_threads.push(thread);
        }
        let listener = tokio::net::TcpListener::from_std(tcp)?;
        tcp_tasks.spawn(tcp::accept(
            listener,
            handler.clone(),
            connections.clone(),
            tcp_shutdown.clone(),
            tcp_tasks.clone(),
        ));
    }
    Ok(Running {
        stop_udp,
        udp_threads,
        tcp_shutdown,
        tcp_tasks,
    })
}

struct UdpWorker {
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    runtime: Handle,
    stop: Arc<AtomicBool>,
}

impl UdpWorker {
    // Never inlined: bench/run counts instructions per query under this
    // symbol with callgrind.
    #[inline(never)]
    fn run(self) {
        let mut batch = Batch::new(MAX_UDP_PAYLOAD as usize);
        while !self.stop.load(Ordering::Relaxed) {
            match batch.recv(&self.socket) {
                Ok(_) => self.answer_batch(&mut batch),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => tracing::warn!(%error, "udp receive failed"),
            }
        }
    }

    /// Answers one batch from one snapshot load: a publish that lands
    /// meanwhile is seen by the next batch, microseconds later.
    fn answer_batch(&self, batch: &mut Batch) {
        let snapshot = self.handler.snapshot.load();
        for i in 0..batch.len() {
            let (query, reply, peer) = batch.slot(i);
            let client = || peer.addr().map(|addr| addr.ip());
            match self
                .handler
                .respond(&snapshot, query, client, Transport::Udp, reply)
            {
                Action::Reply(len) => batch.set_reply(i, len),
                Action::Forward(pending) => {
                    let Some(client) = peer.addr() else {
                        continue;
                    };
                    let socket = self.socket.clone();
                    self.runtime.spawn(async move {
                        let answer = pending.finish().await;
                        // A failed send is the client's loss; it retries.
                        let _ = socket.send_to(&answer, client);
                    });
                }
                // Transfers are answered over TCP only.
                Action::Drop | Action::Transfer(_) => {}
            }
        }
        // Replies to the whole batch in one call; a failed send is the
        // client's loss, as above.
        batch.send(&self.socket);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, TcpStream as StdTcpStream};

    use hickory_proto::op::Message;
    use hickory_proto::rr::Name;

    use super::*;
    use crate::dns::message::testing::{query, rcode};
    use crate::iana::{Rcode, Rtype};
    use crate::registry::{self, Change, Entity, Record, SourceId, ZoneSettings};

    /// How long a reply may take before the test fails; not a measurement.
    const PATIENCE: Duration = Duration::from_secs(5);

    fn udp_ask(server: SocketAddr, packet: &[u8]) -> Message {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        socket.send_to(packet, server).unwrap();
        let mut buf = [0u8; 1232];
        let len = socket.recv(&mut buf).expect("a reply over UDP");
        Message::from_vec(&buf[..len]).unwrap()
    }

    fn tcp_ask(server: SocketAddr, packet: &[u8]) -> Message {
        use std::io::{Read, Write};
        let mut stream = StdTcpStream::connect(server).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let len = u16::try_from(packet.len()).unwrap().to_be_bytes();
        stream.write_all(&[&len[..], packet].concat()).unwrap();
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).expect("a reply over TCP");
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).unwrap();
        Message::from_vec(&reply).unwrap()
    }

    /// berth in-process: the real registry writer and sockets on port 0, and
    /// a shutdown of the test's own. The e2e tests run the real binary.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_on_port_0_until_told_to_stop() {
        let name = |text: &str| Name::from_ascii(text).unwrap();
        let settings = ZoneSettings {
            ixfr_journal: 0,
            zones: vec![name("apps.test.")],
            ttl: 60,
            soa_minimum: 60,
            name_servers: crate::registry::NameServer::usual(None),
            wildcard_target: None,
        };
        let web = Record::address(name("web.apps.test."), 60, "192.0.2.7".parse().unwrap());
        let change = Change::Upsert {
            source: SourceId::Docker,
            entity: Entity::new("web", vec![web]),
        };
        let (registry, snapshot) = registry::spawn(settings).unwrap();
        registry.send(change).await.unwrap();
        registry.flush().await.unwrap();
        let handler = Arc::new(Handler {
            transfers: Default::default(),
            snapshot,
            forwarder: None,
            allow_recursion: Vec::new(),
            rrl: None,
        });
        let bound = bind(&[(Ipv4Addr::LOCALHOST, 0).into()], 1).unwrap();
        let address = bound[0].address;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(bound, handler, tcp::Limits::default(), async {
            let _ = stopped.await;
        }));

        let ours = query("web.apps.test.", Rtype::A);
        let not_ours = query("example.org.", Rtype::A);
        let replies = tokio::task::spawn_blocking(move || {
            [
                udp_ask(address, &ours),
                tcp_ask(address, &ours),
                udp_ask(address, &not_ours),
            ]
        })
        .await
        .unwrap();
        let [udp, tcp, refused] = replies;
        for reply in [&udp, &tcp] {
            assert_eq!(rcode(reply), Rcode::NOERROR);
            assert_eq!(reply.answers[0].data.to_string(), "192.0.2.7");
        }
        // Forwarding is off: a name outside the zones is refused.
        assert_eq!(rcode(&refused), Rcode::REFUSED);

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
