//! Batched UDP: up to [`BATCH`] datagrams per system call with recvmmsg(2)
//! and sendmmsg(2). On loopback the kernel's per-call cost is most of what a
//! query costs; batching is how NSD and Knot pay it once per burst.
//!
//! This is the one module that uses `unsafe`: the two calls take arrays of
//! raw pointers into buffers the kernel fills or reads. The argument for
//! each call is next to it; in short, every pointer handed to the kernel
//! points into a buffer owned by the [`Batch`], which is borrowed mutably for
//! the whole call, and every length handed over is that buffer's length.
//! [`force_receive_buffer`] is here for the same reason: SO_RCVBUFFORCE has
//! no safe wrapper.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};

use libc::{c_int, c_uint, iovec, mmsghdr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};

/// Sets the socket's receive buffer to `bytes` with SO_RCVBUFFORCE, which
/// ignores `net.core.rmem_max` but needs CAP_NET_ADMIN: without it the
/// error is EPERM, and the caller falls back to SO_RCVBUF.
pub fn force_receive_buffer(socket: impl AsFd, bytes: usize) -> io::Result<()> {
    let value = c_int::try_from(bytes).unwrap_or(c_int::MAX);
    // SAFETY: the option value is one c_int that lives across the call, and
    // the length handed over is its size; the kernel only reads it.
    let result = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const c_int).cast(),
            size_of::<c_int>() as socklen_t,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Datagrams per system call. NSD's figure; more buys nothing measurable
/// at the rates two cores reach.
pub const BATCH: usize = 32;

/// Receive buffers, peer addresses and reply buffers for one worker thread,
/// allocated once and reused for every batch.
pub struct Batch {
    /// Slot `i` holds a query of `query_lens[i]` bytes.
    queries: Box<[[u8; QUERY_BUF]; BATCH]>,
    query_lens: [usize; BATCH],
    /// Where each query came from, exactly as the kernel wrote it; a reply
    /// is sent back to these bytes, so the hot path never converts them.
    peers: Box<[sockaddr_storage; BATCH]>,
    peer_lens: [socklen_t; BATCH],
    /// Reply buffers; `reply_lens[i] == 0` means slot `i` sends nothing.
    replies: Vec<Vec<u8>>,
    reply_lens: [usize; BATCH],
    /// The system calls' argument arrays, kept so that a call does not
    /// clear 4 KiB of them first; their pointers are set again before each
    /// call, from the buffers as they are then.
    iovecs: Box<[iovec; BATCH]>,
    headers: Box<[mmsghdr; BATCH]>,
    /// Slots filled by the last receive.
    received: usize,
}

/// A query's source address as the kernel wrote it, converted only when
/// asked: the hot path needs it only to forward.
#[derive(Clone, Copy)]
pub struct Peer<'b> {
    storage: &'b sockaddr_storage,
    len: socklen_t,
}

impl Peer<'_> {
    /// None for an address family berth does not listen on.
    pub fn addr(&self) -> Option<SocketAddr> {
        let storage = self.storage;
        let len = self.len as usize;
        match i32::from(storage.ss_family) {
            libc::AF_INET if len >= size_of::<sockaddr_in>() => {
                // SAFETY: the kernel wrote a sockaddr_in here (family and
                // length say so); sockaddr_storage is at least as large and
                // as aligned as every sockaddr type.
                let sin = unsafe { &*(storage as *const sockaddr_storage).cast::<sockaddr_in>() };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= size_of::<sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &*(storage as *const sockaddr_storage).cast::<sockaddr_in6>() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Largest query read; a longer datagram is cut short and then malformed.
pub const QUERY_BUF: usize = 4096;

impl Batch {
    /// A batch whose reply buffers start with `reply_capacity` bytes.
    pub fn new(reply_capacity: usize) -> Self {
        Batch {
            queries: Box::new([[0; QUERY_BUF]; BATCH]),
            query_lens: [0; BATCH],
            // SAFETY: sockaddr_storage is plain old data; all zeros is a
            // valid (AF_UNSPEC) value.
            peers: Box::new(unsafe { zeroed() }),
            peer_lens: [0; BATCH],
            replies: (0..BATCH)
                .map(|_| Vec::with_capacity(reply_capacity))
                .collect(),
            reply_lens: [0; BATCH],
            // SAFETY: iovec and mmsghdr are plain old data (pointers, lengths
            // and flags); all zeros is a valid value of each.
            iovecs: Box::new(unsafe { zeroed() }),
            headers: Box::new(unsafe { zeroed() }),
            received: 0,
        }
    }

    /// Number of queries the last [`Batch::recv`] filled.
    pub fn len(&self) -> usize {
        self.received
    }

    /// Query `i`, the buffer to write its reply into, and where it came
    /// from. The reply is sent only if [`Batch::set_reply`] is called for `i`.
    pub fn slot(&mut self, i: usize) -> (&[u8], &mut Vec<u8>, Peer<'_>) {
        let peer = Peer {
            storage: &self.peers[i],
            len: self.peer_lens[i],
        };
        (
            &self.queries[i][..self.query_lens[i]],
            &mut self.replies[i],
            peer,
        )
    }

    /// Marks the first `len` bytes of reply buffer `i` for sending.
    pub fn set_reply(&mut self, i: usize, len: usize) {
        self.reply_lens[i] = len.min(self.replies[i].len());
    }

    /// Receives up to [`BATCH`] datagrams: waits for the first as the
    /// socket's read timeout allows, then takes only what is already queued
    /// (MSG_WAITFORONE), so a lone query is never held back for company.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received = 0;
        let iov_base = self.iovecs.as_mut_ptr();
        let peer_base = self.peers.as_mut_ptr();
        for (i, (iov, query)) in self
            .iovecs
            .iter_mut()
            .zip(self.queries.iter_mut())
            .enumerate()
        {
            iov.iov_base = query.as_mut_ptr().cast();
            iov.iov_len = QUERY_BUF;
            let header = &mut self.headers[i].msg_hdr;
            header.msg_name = peer_base.wrapping_add(i).cast();
            header.msg_namelen = size_of::<sockaddr_storage>() as socklen_t;
            header.msg_iov = iov_base.wrapping_add(i);
            header.msg_iovlen = 1;
        }
        // SAFETY: each header points at one iovec and one peer slot; each
        // iovec at one query buffer with its true length, all set just now
        // from buffers the Batch owns. They live until the call returns, and
        // `&mut self` keeps anything else from touching them meanwhile. The kernel writes at
        // most iov_len bytes per buffer and msg_namelen bytes per address.
        let received = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                BATCH as c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        let received = (received as usize).min(BATCH);
        for (i, header) in self.headers.iter().enumerate().take(received) {
            self.query_lens[i] = (header.msg_len as usize).min(QUERY_BUF);
            self.peer_lens[i] = header.msg_hdr.msg_namelen;
            self.reply_lens[i] = 0;
        }
        self.received = received;
        Ok(received)
    }

    /// Sends every reply marked with [`Batch::set_reply`], as few calls as
    /// the kernel allows. A datagram the kernel refuses is dropped: a UDP
    /// client retries, and one bad peer must not stall the others.
    pub fn send(&mut self, socket: &UdpSocket) {
        let mut count = 0;
        let iov_base = self.iovecs.as_mut_ptr();
        let peer_base = self.peers.as_mut_ptr();
        for i in 0..self.received {
            if self.reply_lens[i] == 0 {
                continue;
            }
            self.iovecs[count].iov_base = self.replies[i].as_mut_ptr().cast();
            self.iovecs[count].iov_len = self.reply_lens[i];
            let header = &mut self.headers[count].msg_hdr;
            header.msg_name = peer_base.wrapping_add(i).cast();
            header.msg_namelen = self.peer_lens[i];
            header.msg_iov = iov_base.wrapping_add(count);
            header.msg_iovlen = 1;
            count += 1;
        }
        let mut sent = 0;
        // Each round sends at least one datagram or drops one: bounded.
        while sent < count {
            // SAFETY: as in `recv`; the kernel only reads here: reply_lens[i]
            // bytes of replies[i] (never more than its length, see
            // `set_reply`) and the peer address the kernel itself wrote.
            let result = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.headers[sent..].as_mut_ptr(),
                    (count - sent) as c_uint,
                    0,
                )
            };
            // On an error the first datagram is the one that failed.
            sent += usize::try_from(result).unwrap_or(0).max(1);
        }
    }
}
