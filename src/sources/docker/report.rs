//! What the Docker source tells the operator: one INFO line per name set a
//! container adds, changes or drops (`docker: serving web.shop.apps.local
//! A 172.18.0.2 (shop-web-1)`), and each container's entry on the status
//! page: the names it is served under, or why it is hidden.

use std::collections::BTreeMap;

use super::container::Container;
use super::mapping::Mapped;
use crate::registry::Entity;
use crate::status::Seen;

/// A container's records by owner name: `web.shop.apps.local` →
/// `A 172.18.0.2, A 172.18.0.3`. Sorted, so equal sets print equal.
fn name_sets(entity: Option<&Entity>) -> BTreeMap<String, String> {
    let mut sets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in entity.map_or(&[][..], |e| &e.records) {
        let name = record.name.to_ascii();
        let name = name.strip_suffix('.').unwrap_or(&name).to_string();
        sets.entry(name)
            .or_default()
            .push(format!("{} {}", record.record_type(), record.data));
    }
    sets.into_iter()
        .map(|(name, mut records)| {
            records.sort();
            (name, records.join(", "))
        })
        .collect()
}

/// Logs the name sets that differ between what `container` was served
/// under and what it is served under now.
pub fn log_changes(container: &str, before: Option<&Entity>, after: Option<&Entity>) {
    let before = name_sets(before);
    let after = name_sets(after);
    for (name, records) in &after {
        if before.get(name) != Some(records) {
            tracing::info!("docker: serving {name} {records} ({container})");
        }
    }
    for name in before.keys().filter(|name| !after.contains_key(*name)) {
        tracing::info!("docker: dropped {name} ({container})");
    }
}

/// The name sets that differ, one item each: `added web.apps.local A
/// 172.18.0.2`, `changed web.apps.local A 172.18.0.3`, `removed
/// old.apps.local`. For the one line that says what a reconciliation
/// repaired.
pub fn differences(before: Option<&Entity>, after: Option<&Entity>) -> Vec<String> {
    let before = name_sets(before);
    let after = name_sets(after);
    let mut out = Vec::new();
    for (name, records) in &after {
        match before.get(name) {
            None => out.push(format!("added {name} {records}")),
            Some(old) if old != records => out.push(format!("changed {name} {records}")),
            Some(_) => {}
        }
    }
    for name in before.keys().filter(|name| !after.contains_key(*name)) {
        out.push(format!("removed {name}"));
    }
    out
}

/// The status page's entry for a container just mapped.
pub fn seen(container: &Container, mapped: &Mapped) -> Seen {
    Seen {
        name: container.name.clone(),
        names: name_sets(mapped.entity.as_ref()).into_keys().collect(),
        hidden: mapped.hidden.map(str::to_string),
        skipped: mapped
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.what, s.why))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Record;
    use hickory_proto::rr::Name;

    #[test]
    fn name_sets_group_and_sort() {
        let name = |text: &str| Name::from_ascii(text).unwrap();
        let entity = Entity::new(
            "id",
            vec![
                Record::address(name("web.apps.local."), 5, "172.18.0.3".parse().unwrap()),
                Record::address(name("web.apps.local."), 5, "172.18.0.2".parse().unwrap()),
                Record::srv(
                    name("_http._tcp.web.apps.local."),
                    5,
                    80,
                    name("w.apps.local."),
                ),
            ],
        );
        let sets = name_sets(Some(&entity));
        assert_eq!(sets["web.apps.local"], "A 172.18.0.2, A 172.18.0.3");
        assert_eq!(
            sets["_http._tcp.web.apps.local"],
            "SRV 0 10 80 w.apps.local."
        );
        assert!(name_sets(None).is_empty());
        assert_eq!(
            differences(None, Some(&entity))[0],
            "added _http._tcp.web.apps.local SRV 0 10 80 w.apps.local."
        );
        assert_eq!(
            differences(Some(&entity), None)[1],
            "removed web.apps.local"
        );
        assert!(differences(Some(&entity), Some(&entity)).is_empty());
    }
}
