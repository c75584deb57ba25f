//! NOTIFY out (RFC 1996): tells each `--notify` secondary that a zone's
//! serial moved, so it transfers at once instead of at its next refresh.
//!
//! Publishes are coalesced: the first one after a quiet spell starts a
//! short wait, and whatever was published by its end goes out as one
//! NOTIFY per zone and secondary — a burst of 200 container starts is a
//! handful of messages. Each NOTIFY is retried on silence (RFC 1996 §3.6)
//! with a doubling interval, and given up when a newer serial supersedes it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::registry::snapshot::Zone;
use crate::registry::{SnapshotCell, name};

use super::message::{FLAG_AA, FLAG_QR, HEADER_LEN, OPCODE_MASK};
use super::tsig::{self, Key, Signer};
use super::wire::be16;
use crate::iana::{Class, Rtype};

const OPCODE_NOTIFY: u16 = 4 << 11;
/// How long a burst of publishes is gathered before NOTIFYs go out: short
/// enough that secondaries follow within a couple of seconds, long enough
/// that a burst of container starts is a few NOTIFYs (BIND waits 5 s,
/// its notify-delay).
const COALESCE: Duration = Duration::from_secs(1);
/// First wait for an answer; doubled after each silence. RFC 1996 §3.6
/// suggests 60 s for the open Internet; secondaries of berth sit on the
/// same host or LAN, where a lost datagram is better retried at once.
const FIRST_TIMEOUT: Duration = Duration::from_secs(1);
/// Retransmissions after the first NOTIFY (the RFC's suggested 5).
const RETRIES: u32 = 5;

/// One `--notify` secondary.
#[derive(Clone, Debug)]
pub struct Target {
    pub address: SocketAddr,
    /// Sign each NOTIFY with this key (RFC 8945).
    pub key: Option<Arc<Key>>,
}

/// Runs until `shutdown`: waits for publishes and notifies the secondaries
/// of every authoritative zone whose SOA serial changed.
pub async fn run(
    snapshot: SnapshotCell,
    mut published: watch::Receiver<()>,
    targets: Vec<Target>,
    shutdown: CancellationToken,
) {
    // The serials the secondaries were last told about. At start every
    // zone counts as changed: a restarted berth has a newer serial.
    let mut told: HashMap<Arc<[u8]>, u32> = HashMap::new();
    let mut sending: HashMap<(Arc<[u8]>, SocketAddr), JoinHandle<()>> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(COALESCE) => {}
            _ = shutdown.cancelled() => break,
        }
        let current = snapshot.load_full();
        for zone in current.zones.iter().filter(|z| z.is_authoritative()) {
            let Some(serial) = zone.soa_serial() else {
                continue;
            };
            if told.get(&zone.apex) == Some(&serial) {
                continue;
            }
            told.insert(zone.apex.clone(), serial);
            let Some(message) = notify_message(zone) else {
                continue;
            };
            for target in &targets {
                let task = tokio::spawn(send(message.clone(), target.clone()));
                // A newer serial supersedes whatever is still being retried.
                if let Some(old) = sending.insert((zone.apex.clone(), target.address), task) {
                    old.abort();
                }
            }
        }
        sending.retain(|_, task| !task.is_finished());
        tokio::select! {
            changed = published.changed() => if changed.is_err() { break },
            _ = shutdown.cancelled() => break,
        }
    }
    for task in sending.into_values() {
        task.abort();
    }
}

/// A NOTIFY for `zone` with its current SOA in the answer section, as
/// BIND sends it (RFC 1996 §3.7: a hint of the new serial). The ID is
/// filled in per send.
fn notify_message(zone: &Zone) -> Option<Vec<u8>> {
    let apex = zone.node(&zone.apex)?;
    let soa = apex.get(Rtype::SOA)?.records().next()?;
    let mut message = Vec::with_capacity(64 + apex.owner.len() + soa.len());
    message.extend_from_slice(&[0, 0]);
    message.extend_from_slice(&(OPCODE_NOTIFY | FLAG_AA).to_be_bytes());
    message.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    message.extend_from_slice(&apex.owner);
    message.extend_from_slice(&Rtype::SOA.0.to_be_bytes());
    message.extend_from_slice(&Class::IN.0.to_be_bytes());
    message.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
    message.extend_from_slice(soa);
    Some(message)
}

/// Sends one NOTIFY to `target` until it is answered or the retries run out.
async fn send(
    mut message: Vec<u8>,
    Target {
        address: target,
        key,
    }: Target,
) {
    let zone = name::to_text(question_name(&message));
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = match UdpSocket::bind(local).await {
        Ok(socket) => socket,
        Err(error) => {
            tracing::warn!(%error, %target, zone, "notify: no socket");
            return;
        }
    };
    let id: u16 = rand::random();
    message[..2].copy_from_slice(&id.to_be_bytes());
    let mut signer = key.map(Signer::for_request);
    if let Some(signer) = &mut signer {
        signer.sign(&mut message, 0, &[]);
    }
    let mut wait = FIRST_TIMEOUT;
    let mut buf = vec![0u8; 4096];
    for attempt in 0..=RETRIES {
        if let Err(error) = socket.send_to(&message, target).await {
            tracing::debug!(%error, %target, zone, "notify send failed");
        }
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok((len, from))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            let reply = &buf[..len];
            if from != target || !answers(&message, reply) {
                continue;
            }
            match reply_outcome(reply, signer.as_ref()) {
                Ok(()) => tracing::info!(%target, zone, attempt, "notify answered"),
                Err(reason) => tracing::warn!(%target, zone, reason, "notify refused"),
            }
            return;
        }
        wait *= 2;
    }
    tracing::warn!(%target, zone, "notify unanswered after {} tries", RETRIES + 1);
}

/// Whether `reply` is the response to `request`: same ID, a response,
/// opcode NOTIFY, the same question (RFC 1996 §4.7).
fn answers(request: &[u8], reply: &[u8]) -> bool {
    let (Some(flags), Some(qd)) = (be16(reply, 2), be16(reply, 4)) else {
        return false;
    };
    let question = question_name(request);
    reply.get(..2) == request.get(..2)
        && flags & FLAG_QR != 0
        && flags & OPCODE_MASK == OPCODE_NOTIFY
        && qd == 1
        && reply
            .get(HEADER_LEN..HEADER_LEN + question.len())
            .is_some_and(|q| q.eq_ignore_ascii_case(question))
}

fn reply_outcome(reply: &[u8], signer: Option<&Signer>) -> Result<(), String> {
    let rcode = reply.get(3).map_or(0, |f| f & 0x0f);
    if rcode != 0 {
        return Err(format!("rcode {rcode}"));
    }
    let Some(signer) = signer else {
        return Ok(());
    };
    let tsig = last_record(reply).and_then(|at| tsig::read(reply, at));
    match tsig {
        Some(tsig) if signer.verify_reply(reply, &tsig) => Ok(()),
        _ => Err("the answer is not signed with the key".into()),
    }
}

/// Where the last record of a message starts.
fn last_record(message: &[u8]) -> Option<usize> {
    let mut at = super::wire::skip_name(message, HEADER_LEN)? + 4;
    let records: u16 = [6, 8, 10]
        .iter()
        .map(|&i| be16(message, i).unwrap_or(0))
        .sum();
    let mut last = None;
    for _ in 0..records {
        last = Some(at);
        at = super::wire::read_record(message, at)?.end;
    }
    last
}

/// The question name of a message berth built (uncompressed).
fn question_name(message: &[u8]) -> &[u8] {
    let end = super::wire::skip_name(message, HEADER_LEN).unwrap_or(HEADER_LEN);
    &message[HEADER_LEN..end]
}
