//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, a workspace of
//! its own), for the two paths whose parts are private: an upstream's reply
//! on its way to the client, and `docker inspect` JSON on its way to
//! records. Each runs berth's own functions, in the order production runs
//! them, minus the socket. berth itself never calls this module, and it is
//! not an API: it changes whenever the code under it does.
//!
//! The other targets need nothing from here: the query path runs through
//! the public [`crate::dns::handler::Handler`], and zone files through
//! [`crate::sources::zonefile::load_file`].

use crate::dns::forward::{outgoing_query, stored::Stored, upstream, write_servfail};
use crate::dns::message::{Transport, size_limit};
use crate::dns::wire::parse_query;
use crate::registry::Entity;
use crate::sources::docker::container::Container;
use crate::sources::docker::{Settings, mapping};

/// What a client is sent when an upstream replies with some bytes.
#[derive(Debug)]
pub enum Relayed {
    /// The bytes are not an answer to the question asked (wrong ID, not a
    /// response, another question): ignored, as a resolver must.
    Ignored,
    /// The upstream's answer as the client gets it.
    Answer(Vec<u8>),
    /// The answer did not read cleanly: with one upstream, SERVFAIL.
    Servfail(Vec<u8>),
}

/// Relays `reply` to the client that sent `client_query`, as
/// `Pending::finish` does after the exchange: berth's outgoing query for
/// it (under the reply's own ID, as if a spoofer had guessed the random
/// one, and with the client's case as the "random" case), the check that
/// the reply answers it, then reading, storing and serving it `age`
/// seconds later. `None` when berth would not have forwarded the query.
pub fn relay(
    client_query: &[u8],
    reply: &[u8],
    max_ttl: u32,
    age: u32,
    transport: Transport,
) -> Option<Relayed> {
    let query = parse_query(client_query).ok()?;
    let mut outgoing = outgoing_query(&query, query.question);
    if let Some(id) = reply.get(..2) {
        outgoing[..2].copy_from_slice(id);
    }
    if !upstream::answers(reply, &outgoing) {
        return Some(Relayed::Ignored);
    }
    let mut buf = Vec::new();
    Some(match Stored::parse_capped(reply, max_ttl) {
        Ok(stored) => {
            stored.reply(&query, age, size_limit(&query, transport), &mut buf);
            Relayed::Answer(buf)
        }
        Err(_) => {
            write_servfail(&query, &mut buf);
            Relayed::Servfail(buf)
        }
    })
}

/// The entity one `docker inspect` (the Engine API's JSON) maps to under
/// `settings`, as the Docker session builds it; `None` when the JSON is not
/// an inspect response, has no usable ID, or the container is not served.
pub fn docker_inspect(json: &[u8], settings: &Settings) -> Option<Entity> {
    let inspect = serde_json::from_slice(json).ok()?;
    let container = Container::from_inspect(inspect).ok()?;
    mapping::map(&container, settings).entity
}
