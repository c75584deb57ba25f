//! The DNS side: parsing queries, answering from a snapshot, forwarding the
//! rest, and the sockets. Only this module knows DNS wire format; it never
//! talks to Docker.

pub mod answer;
pub mod forward;
// recvmmsg/sendmmsg take raw pointers; the safety argument is in the module.
#[allow(unsafe_code)]
mod mmsg;
pub(crate) mod response;
pub mod server;
pub mod wire;
