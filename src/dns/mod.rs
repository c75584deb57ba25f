//! The DNS side: the sockets, the handler that parses each query once and
//! routes it, answers from a snapshot, and forwarding for the rest. It reads
//! the registry's snapshots and never talks to Docker.
//!
//! It is not the only code that knows wire format: the registry encodes
//! RRsets when it publishes, so that answering is copying bytes, and
//! `http.rs` decodes them back for `/v1/records`. What is shared — record
//! types, classes, RCODEs — is one table, [`crate::iana`].
//!
//! ```text
//! server ──packet──▶ handler ──Query──▶ answer   (a zone berth serves)
//! (sockets)          (parse, route,  └─▶ forward  (elsewhere, if allowed)
//!                     count)
//! ```

pub mod answer;
pub mod forward;
pub mod handler;
pub mod message;
// recvmmsg/sendmmsg take raw pointers; the safety argument is in the module.
#[allow(unsafe_code)]
mod mmsg;
pub mod notify;
pub(crate) mod response;
pub mod rrl;
pub mod server;
pub mod tcp;
pub mod tsig;
pub mod wire;
pub mod xfr;
