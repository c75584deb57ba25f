//! What this berth publishes: the Docker source's records, followed through
//! the copies of its registry changes, made into SkyDNS keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::{Published, schema};
use crate::registry::{Change, Entity};

/// Follows `changes` (the Docker source's, as the registry got them) and
/// keeps the returned receiver holding the keys they make under `prefix`
/// for `instance`. A burst of changes is one new value.
pub fn spawn(
    mut changes: mpsc::UnboundedReceiver<Change>,
    prefix: String,
    instance: String,
) -> Published {
    let (keys, published) = watch::channel(Arc::new(BTreeMap::new()));
    tokio::spawn(async move {
        let mut entities: HashMap<String, Entity> = HashMap::new();
        while let Some(change) = changes.recv().await {
            let mut next = Some(change);
            while let Some(change) = next {
                apply(&mut entities, change);
                next = changes.try_recv().ok();
            }
            let records = entities.values().flat_map(|e| e.records.iter());
            let made = schema::publish(&prefix, &instance, records);
            keys.send_if_modified(|current| {
                let differs = **current != made;
                if differs {
                    *current = Arc::new(made);
                }
                differs
            });
        }
    });
    published
}

fn apply(entities: &mut HashMap<String, Entity>, change: Change) {
    match change {
        Change::Replace { entities: all, .. } => {
            entities.clear();
            entities.extend(all.into_iter().map(|e| (e.id.clone(), e)));
        }
        Change::Upsert { entity, .. } => {
            entities.insert(entity.id.clone(), entity);
        }
        Change::Remove { id, .. } => {
            entities.remove(&id);
        }
    }
}
