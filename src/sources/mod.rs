//! Sources of records. Each turns something outside berth — master files,
//! the Docker Engine — into registry [`Change`](crate::registry::Change)s,
//! and never touches DNS wire format.

pub mod docker;
pub mod zonefile;
