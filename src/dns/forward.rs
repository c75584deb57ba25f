//! Forwarding queries berth does not own to upstream resolvers. The
//! upstream's answer is relayed byte for byte under the client's ID, so its
//! RCODE, flags and sections reach the client exactly as they were sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// Largest response berth accepts from an upstream over UDP.
const MAX_UPSTREAM_UDP: usize = 4096;

pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    /// How long to wait for one upstream before trying the next.
    timeout: Duration,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Self {
        Forwarder { upstreams, timeout }
    }

    /// Sends `query` to each upstream in turn until one answers. Returns the
    /// answer with the client's ID, or None when every upstream failed.
    pub async fn forward(&self, query: &[u8]) -> Option<Vec<u8>> {
        if query.len() < 2 {
            return None;
        }
        for upstream in &self.upstreams {
            match tokio::time::timeout(self.timeout, exchange_udp(*upstream, query)).await {
                Ok(Ok(mut answer)) => {
                    answer[..2].copy_from_slice(&query[..2]);
                    return Some(answer);
                }
                Ok(Err(error)) => tracing::debug!(%upstream, %error, "upstream failed"),
                Err(_) => tracing::debug!(%upstream, "upstream timed out"),
            }
        }
        None
    }
}

/// One UDP exchange from a fresh socket (a random source port) with a fresh
/// random ID; anything that is not the answer to it is ignored.
async fn exchange_udp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: IpAddr = match upstream {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    socket.connect(upstream).await?;
    let id: u16 = rand::random();
    let mut outgoing = query.to_vec();
    outgoing[..2].copy_from_slice(&id.to_be_bytes());
    socket.send(&outgoing).await?;
    let mut buf = vec![0u8; MAX_UPSTREAM_UDP];
    loop {
        let len = socket.recv(&mut buf).await?;
        let answer = &buf[..len];
        if len >= 12 && answer[..2] == id.to_be_bytes() && answer[2] & 0x80 != 0 {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}
