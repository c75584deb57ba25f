//! One exchange with one upstream: UDP from a fresh socket (a random source
//! port) under a fresh random ID, then TCP when the answer is truncated
//! (RFC 7766 §5). Only a packet that answers our question is accepted; any
//! other is ignored, as a resolver must (RFC 5452 §9.1).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::dns::message::{FLAG_QR, FLAG_TC, HEADER_LEN};
use crate::dns::wire::be16;
use crate::iana::Rcode;

/// Largest answer berth takes over UDP; one that fills the buffer may have
/// been cut by the kernel, so it is asked for again over TCP.
const MAX_UDP_ANSWER: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connection closed before an answer")]
    Closed,
    #[error("answer over TCP does not match the query")]
    Mismatch,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Sends `query` (ID and question as they should go out) to `upstream`.
/// Each transport gets `timeout` of its own.
pub async fn exchange(
    upstream: SocketAddr,
    query: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ExchangeError> {
    let answer = within(timeout, udp(upstream, query)).await?;
    let truncated =
        answer.len() > MAX_UDP_ANSWER || be16(&answer, 2).is_some_and(|flags| flags & FLAG_TC != 0);
    if !truncated {
        return Ok(answer);
    }
    tracing::debug!(%upstream, "truncated answer; asking again over TCP");
    within(timeout, tcp(upstream, query)).await
}

async fn within<T>(
    timeout: Duration,
    exchange: impl Future<Output = Result<T, ExchangeError>>,
) -> Result<T, ExchangeError> {
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(ExchangeError::Timeout(timeout)))
}

async fn udp(upstream: SocketAddr, query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
    let local: IpAddr = match upstream {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; MAX_UDP_ANSWER + 1];
    loop {
        let len = socket.recv(&mut buf).await?;
        if answers(&buf[..len], query) {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

async fn tcp(upstream: SocketAddr, query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
    let len = u16::try_from(query.len()).map_err(|_| ExchangeError::Mismatch)?;
    let mut stream = TcpStream::connect(upstream).await?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let len = match stream.read_u16().await {
        Ok(len) => len,
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(ExchangeError::Closed);
        }
        Err(error) => return Err(error.into()),
    };
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await?;
    // One query per connection: anything else on it is not our answer.
    if answers(&answer, query) {
        Ok(answer)
    } else {
        Err(ExchangeError::Mismatch)
    }
}

/// Whether `packet` is the answer to `query`: same ID, a response, and the
/// same question in exactly the same case — berth's random case is part of
/// what a spoofed answer must guess (0x20). A server may leave the question
/// out of an error it could not read the query for.
pub fn answers(packet: &[u8], query: &[u8]) -> bool {
    if packet.len() < HEADER_LEN || packet.get(..2) != query.get(..2) {
        return false;
    }
    let flags = be16(packet, 2).unwrap_or(0);
    if flags & FLAG_QR == 0 {
        return false;
    }
    match be16(packet, 4) {
        Some(0) => Rcode::of_header(flags) != Rcode::NOERROR,
        Some(1) => {
            let question = question_of(query);
            packet
                .get(HEADER_LEN..HEADER_LEN + question.len())
                .is_some_and(|theirs| theirs == question)
        }
        _ => false,
    }
}

/// The question section of one of our own queries (parsed already, so it
/// is well-formed: one uncompressed name, then type and class).
pub fn question_of(query: &[u8]) -> &[u8] {
    let end = crate::dns::wire::skip_name(query, HEADER_LEN)
        .map_or(query.len(), |at| (at + 4).min(query.len()));
    &query[HEADER_LEN.min(end)..end]
}
