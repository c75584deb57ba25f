//! One zone's names and their nodes, as readers look them up and the
//! writer changes them.
//!
//! A plain hash map holds the bulk: it costs a third of what a persistent
//! map does per name (a million-name zone file is millions of entries with
//! its empty non-terminals) and is built fastest. But a published map
//! cannot change under its readers, and copying it for each container
//! that starts would cost O(zone) per change. So, once a version is
//! published, changes go to a small persistent overlay that shares all it
//! can with the previous version; when the overlay has grown to a fraction
//! of the base, the two are folded into a new base, which costs O(zone)
//! once per that many changes.

use std::sync::Arc;

use super::snapshot::Node;

/// Hashed with foldhash, not SipHash: a lookup hashes the query name once
/// per label tried, and SipHash was a tenth of a query's instructions. The
/// keys are names from zone files and containers, never chosen by the
/// clients whose queries are hashed, and the seed is random per process.
type Hasher = foldhash::fast::RandomState;

type Base = std::collections::HashMap<Arc<[u8]>, Arc<Node>, Hasher>;

/// A name changed since the base was built: its node, or `None` where the
/// name is gone.
type Overlay =
    imbl::GenericHashMap<Arc<[u8]>, Option<Arc<Node>>, Hasher, imbl::shared_ptr::DefaultSharedPtr>;

/// Changes the overlay may hold before it is folded into the base, at
/// least: below this, folding would cost more than it saves.
const OVERLAY_MIN: usize = 1024;

/// Name → node, for one zone.
#[derive(Clone, Default)]
pub struct Nodes {
    base: Arc<Base>,
    overlay: Overlay,
}

impl Nodes {
    pub fn get(&self, key: &[u8]) -> Option<&Arc<Node>> {
        // Most zones have no overlay: spare the query path its hashing.
        if self.overlay.is_empty() {
            return self.base.get(key);
        }
        match self.overlay.get(key) {
            Some(changed) => changed.as_ref(),
            None => self.base.get(key),
        }
    }

    /// The node at `key` and the key as the map holds it.
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&Arc<[u8]>, &Arc<Node>)> {
        if self.overlay.is_empty() {
            return self.base.get_key_value(key);
        }
        match self.overlay.get_key_value(key) {
            Some((held, Some(node))) => Some((held, node)),
            Some((_, None)) => None,
            None => self.base.get_key_value(key),
        }
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Every name and its node, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<[u8]>, &Arc<Node>)> {
        let overlay = &self.overlay;
        let unchanged = self
            .base
            .iter()
            .filter(move |(key, _)| !overlay.contains_key(&key[..]));
        let changed = overlay
            .iter()
            .filter_map(|(key, node)| node.as_ref().map(|node| (key, node)));
        unchanged.chain(changed)
    }

    pub fn values(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.iter().map(|(_, node)| node)
    }

    /// How many names: a pass over the overlay, which is small.
    pub fn len(&self) -> usize {
        let mut len = self.base.len();
        for (key, node) in self.overlay.iter() {
            match (self.base.contains_key(&key[..]), node.is_some()) {
                (false, true) => len += 1,
                (true, false) => len -= 1,
                _ => {}
            }
        }
        len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `node` at `key`. Until a version is published the base is this
    /// map's alone and changes in place.
    pub(super) fn insert(&mut self, key: Arc<[u8]>, node: Arc<Node>) {
        match Arc::get_mut(&mut self.base) {
            Some(base) => {
                if !self.overlay.is_empty() {
                    self.overlay.remove(&key[..]);
                }
                base.insert(key, node);
            }
            None => {
                self.overlay.insert(key, Some(node));
            }
        }
    }

    pub(super) fn remove(&mut self, key: &[u8]) {
        match Arc::get_mut(&mut self.base) {
            Some(base) => {
                base.remove(key);
                if !self.overlay.is_empty() {
                    self.overlay.remove(key);
                }
            }
            None => match self.base.get_key_value(key) {
                Some((held, _)) => {
                    self.overlay.insert(held.clone(), None);
                }
                None => {
                    self.overlay.remove(key);
                }
            },
        }
    }

    /// Folds the overlay into a new base once it has grown to an eighth of
    /// the base: called before publishing, so readers get the folded map.
    pub(super) fn settle(&mut self) {
        if self.overlay.len() < OVERLAY_MIN.max(self.base.len() / 8) {
            return;
        }
        let mut base: Base = Base::clone(&self.base);
        for (key, node) in std::mem::take(&mut self.overlay) {
            match node {
                Some(node) => {
                    base.insert(key, node);
                }
                None => {
                    base.remove(&key[..]);
                }
            }
        }
        base.shrink_to_fit();
        self.base = Arc::new(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &[u8]) -> Arc<[u8]> {
        text.into()
    }

    #[test]
    fn a_published_version_never_changes() {
        let mut nodes = Nodes::default();
        let node = Node::empty_non_terminal();
        nodes.insert(key(b"\x01a\x00"), node.clone());
        nodes.insert(key(b"\x01b\x00"), node.clone());
        let published = nodes.clone();
        nodes.remove(b"\x01a\x00");
        nodes.insert(key(b"\x01c\x00"), node.clone());
        assert!(published.contains_key(b"\x01a\x00"));
        assert!(!published.contains_key(b"\x01c\x00"));
        assert!(!nodes.contains_key(b"\x01a\x00"));
        assert!(nodes.contains_key(b"\x01c\x00"));
        assert_eq!((published.len(), nodes.len()), (2, 2));
        assert_eq!(nodes.iter().count(), 2);
    }

    #[test]
    fn folding_keeps_every_name() {
        let mut nodes = Nodes::default();
        let node = Node::empty_non_terminal();
        for i in 0..3000u16 {
            nodes.insert(key(&i.to_be_bytes()), node.clone());
        }
        let published = nodes.clone();
        for i in 0..1500u16 {
            nodes.remove(&i.to_be_bytes());
        }
        nodes.settle();
        assert!(nodes.overlay.is_empty(), "folded");
        assert_eq!(nodes.len(), 1500);
        assert!(!nodes.contains_key(&7u16.to_be_bytes()));
        assert!(nodes.contains_key(&2999u16.to_be_bytes()));
        assert_eq!(published.len(), 3000);
    }
}
