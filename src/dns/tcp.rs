//! DNS over TCP (RFC 7766), fair to every client (§6.2.3): a client address
//! (an IPv6 /64) holds at most a share of the connections; a connection is
//! closed once it has had no complete query and no write progress for the
//! idle timeout, so one whose client never reads goes too; the replies
//! queued on one connection are bounded in bytes; and when every slot is
//! taken the connection idle the longest is closed to let a new client in.
//!
//! The [`Table`] of open connections is locked only when a connection opens
//! or closes; a connection marks its own activity in atomics.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::handler::{Action, Handler};
use super::message::Transport;
use crate::budget::AcceptErrors;
use crate::metrics;

/// Open connections at most, unless `--tcp-connections` says otherwise.
pub const DEFAULT_CONNECTIONS: usize = 512;
/// A client's share of the connections unless `--tcp-per-client` says
/// otherwise: one eighth, so that it takes eight addresses (or /64s) to
/// fill the table, and a stub resolver's few connections always fit.
pub const DEFAULT_SHARE: usize = 8;
/// RFC 7766 §6.2.3: "a few seconds"; BIND and Knot use 10 s as well.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Two full-size messages (a zone transfer's) may wait on one connection;
/// 512 connections then hold 64 MiB at worst.
pub const DEFAULT_QUEUED_BYTES: usize = 128 << 10;
/// The least `--tcp-queued-bytes` accepts: one message of the largest size.
pub const MIN_QUEUED_BYTES: usize = 2 + u16::MAX as usize;

/// `--tcp-connections`, `--tcp-per-client`, `--tcp-idle-timeout`,
/// `--tcp-queued-bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub connections: usize,
    pub per_client: usize,
    pub idle_timeout: Duration,
    pub queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: DEFAULT_CONNECTIONS,
            per_client: DEFAULT_CONNECTIONS / DEFAULT_SHARE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            queued_bytes: DEFAULT_QUEUED_BYTES,
        }
    }
}

/// One open connection, as the table and its own tasks see it.
struct Connection {
    client: u128,
    /// When a query last arrived complete or a write last made progress,
    /// in milliseconds since the table's epoch.
    active: AtomicU64,
    /// Replies owed: read but not yet written. Zero means idle.
    owed: AtomicUsize,
    /// Cancelled to close the connection: evicted, or its writes stalled.
    close: CancellationToken,
}

/// Every open connection, for the limits.
pub struct Table {
    limits: Limits,
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    connections: HashMap<u64, Arc<Connection>>,
    per_client: HashMap<u128, usize>,
}

impl Open {
    fn remove(&mut self, id: u64) -> Option<Arc<Connection>> {
        let connection = self.connections.remove(&id)?;
        if let Some(count) = self.per_client.get_mut(&connection.client) {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&connection.client);
            }
        }
        Some(connection)
    }
}

/// Why a new connection was closed at once.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its address already holds its share.
    ClientShare,
    /// Every slot is taken and none is idle.
    Full,
}

/// A place in the table, given back when dropped.
pub struct Slot {
    table: Arc<Table>,
    id: u64,
    connection: Arc<Connection>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.table.open.lock() {
            open.remove(self.id);
        }
    }
}

impl Table {
    pub fn new(limits: Limits) -> Arc<Table> {
        Arc::new(Table {
            limits,
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A slot for a connection from `client`: refused past the client's
    /// share; when the table is full, the connection idle the longest is
    /// closed for it (RFC 7766 §6.2.3), or it is refused if none is idle.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Slot, Refused> {
        let key = client_key(client);
        let Ok(mut open) = self.open.lock() else {
            return Err(Refused::Full);
        };
        if open.per_client.get(&key).copied().unwrap_or(0) >= self.limits.per_client {
            return Err(Refused::ClientShare);
        }
        if open.connections.len() >= self.limits.connections {
            let oldest_idle = open
                .connections
                .iter()
                .filter(|(_, c)| c.owed.load(Ordering::Relaxed) == 0)
                .min_by_key(|(_, c)| c.active.load(Ordering::Relaxed))
                .map(|(id, _)| *id);
            let victim = oldest_idle.and_then(|id| open.remove(id));
            match victim {
                Some(victim) => {
                    metrics::live().tcp_evicted.inc();
                    victim.close.cancel();
                }
                None => return Err(Refused::Full),
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let connection = Arc::new(Connection {
            client: key,
            active: AtomicU64::new(self.now()),
            owed: AtomicUsize::new(0),
            close: CancellationToken::new(),
        });
        open.connections.insert(id, connection.clone());
        *open.per_client.entry(key).or_insert(0) += 1;
        Ok(Slot {
            table: self.clone(),
            id,
            connection,
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.lock().map_or(0, |open| open.connections.len())
    }
}

impl Slot {
    fn touch(&self) {
        self.connection
            .active
            .store(self.table.now(), Ordering::Relaxed);
    }

    /// How long the connection has had no query and no write progress.
    fn quiet_for(&self) -> Duration {
        let active = self.connection.active.load(Ordering::Relaxed);
        Duration::from_millis(self.table.now().saturating_sub(active))
    }
}

/// An IPv4 address, or an IPv6 /64 (what one host is usually given).
fn client_key(client: IpAddr) -> u128 {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    match client {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => (u128::from(v6) & !((1u128 << 64) - 1)) | 1,
    }
}

/// A reply waiting to be written, holding its bytes of the connection's
/// budget until it is.
struct Queued {
    reply: Vec<u8>,
    _budget: OwnedSemaphorePermit,
}

/// What a connection's reader hands its writer through.
#[derive(Clone)]
struct Outbox {
    queue: mpsc::UnboundedSender<Queued>,
    budget: Arc<Semaphore>,
    budget_size: usize,
    close: CancellationToken,
}

impl Outbox {
    /// Queues `reply` once the connection's budget has room for it; false
    /// when the connection is closing.
    async fn send(&self, reply: Vec<u8>) -> bool {
        // A message larger than the whole budget waits for all of it.
        let cost = (reply.len() + 2).min(self.budget_size) as u32;
        let permit = tokio::select! {
            permit = self.budget.clone().acquire_many_owned(cost) => permit,
            _ = self.close.cancelled() => return false,
        };
        let Ok(permit) = permit else {
            return false;
        };
        self.queue
            .send(Queued {
                reply,
                _budget: permit,
            })
            .is_ok()
    }
}

/// Accepts connections on `listener` until `shutdown`, each served as a
/// task of `tasks` if the table has a slot for it, else closed at once.
pub async fn accept(
    listener: TcpListener,
    handler: Arc<Handler>,
    table: Arc<Table>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let mut errors = AcceptErrors::new("dns tcp");
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                errors.failed(&error).await;
                continue;
            }
        };
        errors.succeeded();
        let slot = match table.admit(client.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                tracing::debug!(%client, ?refused, "tcp connection refused");
                metrics::live().tcp_refused.inc();
                continue;
            }
        };
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        let open = metrics::OpenConnection::new();
        tasks.spawn(async move {
            serve(stream, client, handler, shutdown, slot).await;
            drop(open);
        });
    }
}

/// One TCP connection: reads length-prefixed queries until idle, closed, or
/// shut down; answers local ones at once and forwarded ones when they return,
/// so a slow upstream does not hold up the queries pipelined behind it.
async fn serve(
    stream: TcpStream,
    client: SocketAddr,
    handler: Arc<Handler>,
    shutdown: CancellationToken,
    slot: Slot,
) {
    let slot = Arc::new(slot);
    let limits = slot.table.limits;
    let close = slot.connection.close.clone();
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let (queue, outgoing) = mpsc::unbounded_channel();
    let outbox = Outbox {
        queue,
        budget: Arc::new(Semaphore::new(limits.queued_bytes)),
        budget_size: limits.queued_bytes,
        close: close.clone(),
    };
    let write_task = tokio::spawn(write_replies(writer, outgoing, slot.clone()));
    let mut buf = Vec::new();
    loop {
        let read = async {
            let len = reader.read_u16().await? as usize;
            let mut query = vec![0u8; len];
            reader.read_exact(&mut query).await?;
            Ok::<_, io::Error>(query)
        };
        let query = tokio::select! {
            read = until_idle(read, &slot, limits.idle_timeout) => match read {
                Some(Ok(query)) => query,
                _ => break,
            },
            _ = shutdown.cancelled() => break,
            _ = close.cancelled() => break,
        };
        slot.touch();
        let snapshot = handler.snapshot.load();
        let action = handler.respond(
            &snapshot,
            &query,
            || Some(client.ip()),
            Transport::Tcp,
            &mut buf,
        );
        // A snapshot guard is not Send: it must not live across an await.
        drop(snapshot);
        let owed = &slot.connection.owed;
        match action {
            Action::Reply(len) => {
                owed.fetch_add(1, Ordering::Relaxed);
                if !outbox.send(buf[..len].to_vec()).await {
                    break;
                }
            }
            // One consistent version of the zone, sent message by message
            // through the same budget as every other reply.
            Action::Transfer(messages) => {
                owed.fetch_add(messages.len(), Ordering::Relaxed);
                let mut sent = true;
                for message in messages {
                    sent = sent && outbox.send(message).await;
                }
                if !sent {
                    break;
                }
            }
            Action::Forward(pending) => {
                owed.fetch_add(1, Ordering::Relaxed);
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    outbox.send(pending.finish().await).await;
                });
            }
            // Nothing worth answering: RFC 7766 lets the server close.
            Action::Drop => break,
        }
    }
    drop(outbox);
    let _ = write_task.await;
}

/// Awaits `read`, or `None` once the connection has been idle for
/// `timeout`: no reply owed, and no complete query or write progress since.
async fn until_idle<T>(read: impl Future<Output = T>, slot: &Slot, timeout: Duration) -> Option<T> {
    let mut read = std::pin::pin!(read);
    let mut wait = timeout;
    loop {
        match tokio::time::timeout(wait, &mut read).await {
            Ok(done) => return Some(done),
            Err(_) => {
                let quiet = slot.quiet_for();
                if slot.connection.owed.load(Ordering::Relaxed) == 0 && quiet >= timeout {
                    return None;
                }
                // Busy writing, or active meanwhile: wait out the rest.
                wait = timeout.saturating_sub(quiet).max(Duration::from_millis(10));
            }
        }
    }
}

/// Writes queued replies in order. A write that makes no progress for the
/// idle timeout (a client that does not read) closes the connection.
async fn write_replies(
    mut writer: OwnedWriteHalf,
    mut outgoing: mpsc::UnboundedReceiver<Queued>,
    slot: Arc<Slot>,
) {
    let idle = slot.table.limits.idle_timeout;
    let close = slot.connection.close.clone();
    let mut framed = Vec::new();
    while let Some(queued) = outgoing.recv().await {
        let Ok(len) = u16::try_from(queued.reply.len()) else {
            slot.connection.owed.fetch_sub(1, Ordering::Relaxed);
            continue;
        };
        framed.clear();
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&queued.reply);
        let mut rest = &framed[..];
        while !rest.is_empty() {
            let written = tokio::select! {
                written = tokio::time::timeout(idle, writer.write(rest)) => written,
                _ = close.cancelled() => return,
            };
            match written {
                Ok(Ok(n)) if n > 0 => {
                    rest = &rest[n..];
                    slot.touch();
                }
                // Closed, failed, or stalled: the reader stops too.
                _ => {
                    metrics::live().tcp_stalled.inc();
                    close.cancel();
                    return;
                }
            }
        }
        slot.connection.owed.fetch_sub(1, Ordering::Relaxed);
    }
    let _ = writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(connections: usize, per_client: usize) -> Arc<Table> {
        Table::new(Limits {
            connections,
            per_client,
            ..Limits::default()
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_share_and_an_ipv6_64_is_one_client() {
        let table = table(10, 2);
        let _a = table.admit(ip("192.0.2.1")).unwrap();
        let b = table.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            table.admit(ip("192.0.2.1")).err(),
            Some(Refused::ClientShare)
        );
        assert!(table.admit(ip("192.0.2.2")).is_ok());
        drop(b);
        assert!(table.admit(ip("::ffff:192.0.2.1")).is_ok());
        let _c = table.admit(ip("2001:db8::1")).unwrap();
        let _d = table.admit(ip("2001:db8::ffff:2")).unwrap();
        assert!(table.admit(ip("2001:db8:0:0:1::3")).is_err());
        assert!(table.admit(ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn when_full_the_oldest_idle_connection_makes_room() {
        let table = table(3, 3);
        let first = table.admit(ip("192.0.2.1")).unwrap();
        let busy = table.admit(ip("192.0.2.2")).unwrap();
        let last = table.admit(ip("192.0.2.3")).unwrap();
        // The oldest is busy (a reply owed): not it.
        busy.connection.active.store(0, Ordering::Relaxed);
        busy.connection.owed.store(1, Ordering::Relaxed);
        first.connection.active.store(1, Ordering::Relaxed);
        last.connection.active.store(2, Ordering::Relaxed);
        let _new = table.admit(ip("192.0.2.4")).unwrap();
        assert!(first.connection.close.is_cancelled());
        assert!(!busy.connection.close.is_cancelled());
        assert_eq!(table.len(), 3);
        // Dropping the evicted slot later does not free a second place.
        drop(first);
        assert_eq!(table.len(), 3);
        last.connection.owed.store(1, Ordering::Relaxed);
        let newer = table.admit(ip("192.0.2.5")).unwrap();
        newer.connection.owed.store(1, Ordering::Relaxed);
        // Only busy ones left: a newcomer is refused.
        assert_eq!(table.admit(ip("192.0.2.6")).err(), Some(Refused::Full));
    }
}
