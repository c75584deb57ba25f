//! An upstream that answers as a test tells it to, for what no real server
//! will send: cut packets, looping compression pointers, TTLs near 2³², a
//! question in another case. It keeps every query it was sent.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Reply = dyn Fn(&[u8]) -> Vec<u8> + Send + Sync;

pub struct FakeUpstream {
    pub addr: SocketAddr,
    queries: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl FakeUpstream {
    /// Answers each UDP query with `reply(query)`.
    pub fn start(reply: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static) -> FakeUpstream {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind fake upstream");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let upstream = FakeUpstream {
            addr: socket.local_addr().expect("address"),
            queries: Arc::default(),
            stop: Arc::default(),
        };
        let (queries, stop) = (upstream.queries.clone(), upstream.stop.clone());
        let reply: Box<Reply> = Box::new(reply);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while !stop.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let query = buf[..len].to_vec();
                let answer = reply(&query);
                // Kept before answering, so a test that has its answer sees it.
                queries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(query);
                let _ = socket.send_to(&answer, from);
            }
        });
        upstream
    }

    /// Every query received so far.
    pub fn queries(&self) -> Vec<Vec<u8>> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the question of `query` ends (its name has no pointers).
pub fn question_end(query: &[u8]) -> usize {
    let mut at = 12;
    while query[at] != 0 {
        at += 1 + query[at] as usize;
    }
    at + 5
}

/// An answer to `query`: its header and question, QR and RA set, then
/// `records` (already in wire format, `count` of them) in the answer
/// section. The question's name is at offset 12 for pointers.
pub fn answer(query: &[u8], count: u16, records: &[u8]) -> Vec<u8> {
    let end = question_end(query);
    let mut packet = query[..end].to_vec();
    packet[2] = 0x81;
    packet[3] = 0x80;
    packet[6..8].copy_from_slice(&count.to_be_bytes());
    packet[8..12].fill(0);
    packet.extend_from_slice(records);
    packet
}

/// One record owned by the question's name (a pointer to offset 12).
pub fn record(rtype: berth::iana::Rtype, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut record = vec![0xc0, 0x0c];
    record.extend_from_slice(&rtype.0.to_be_bytes());
    record.extend_from_slice(&[0, 1]);
    record.extend_from_slice(&ttl.to_be_bytes());
    record.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    record.extend_from_slice(rdata);
    record
}
