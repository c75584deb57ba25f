//! berth: authoritative DNS for the containers on a Docker host.
//!
//! ```text
//! sources ──────────Change──▶ registry writer ──publish──▶ Arc<Snapshot>
//!  zonefile (thread), docker   (one thread)                    │ load, no locks
//!                                                              ▼
//!  dns::server ──packet──▶ dns::handler ── in a zone ──▶ dns::answer ──▶ reply
//!  UDP threads, TCP tasks   parse once,  └─ elsewhere ─▶ dns::forward (if the
//!                           route, count               client may recurse)
//!                                                      or REFUSED
//! ```
//!
//! - [`sources`] turn master files and Docker events into registry changes;
//!   they never touch DNS wire format.
//! - [`registry`] owns every source's records and publishes immutable
//!   snapshots with pre-encoded RRsets; readers never wait for it.
//! - [`dns`] owns the sockets, parses each query once in its handler,
//!   answers from the snapshot by the RFCs and forwards the rest; it never
//!   talks to Docker.
//! - [`iana`] is the one table of record types, classes and RCODEs that the
//!   registry, the DNS layer and the tests share.
//! - [`http`] shows the snapshot, the [`status`] of each source and the
//!   [`metrics`] to operators.
//! - [`cli`], [`config`] and [`app`] turn flags into a validated
//!   [`config::Config`] and run everything.
//! - [`state`] keeps each zone's last serial across restarts (`--state-dir`).

// Two places need `unsafe` (dns::mmsg: batched UDP system calls; the
// registry's one call to malloc_trim) and allow it there, with their
// safety argument; everywhere else it is an error.
#![deny(unsafe_code)]

pub mod app;
pub mod budget;
pub mod cli;
pub mod config;
pub mod dns;
// Entry points for fuzz/ only; hidden from the docs, not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod iana;
pub mod metrics;
pub mod registry;
pub mod sources;
pub mod state;
pub mod status;
