//! Sources of records. Each turns something outside berth — master files,
//! the Docker Engine — into registry [`Change`](crate::registry::Change)s,
//! and never touches DNS wire format.
//!
//! A source owns the type of its settings (`docker::Settings`) or takes them
//! as arguments (`zonefile::ZoneDir::new`); `config.rs` builds them from the
//! flags. No source names the configuration or the command line.

pub mod docker;
pub mod etcd;
mod reconnect;
pub mod zonefile;
