//! `--filter`: which containers berth looks at, in `docker ps --filter`
//! syntax, so that berth on a shared host never follows, let alone
//! inspects, other people's containers.
//!
//! Docker's list and event endpoints take filters with different meanings,
//! so each key goes where it means what `docker ps` means:
//!
//! | key | listing | event stream |
//! |---|---|---|
//! | `label=K`, `label=K=V` | the daemon | the daemon (container events carry the labels) |
//! | `name=REGEX` | the daemon | berth, on the event's `name` attribute, before inspecting |
//! | `network=NAME\|ID` | the daemon | berth, after inspecting (events carry no networks) |
//!
//! Docker's own event filters would not do for the last two: its
//! `container` filter matches a name's prefix, not the listing's regular
//! expression, and its `network` filter matches network events, dropping
//! every container event. As in Docker, all `label` filters must match,
//! any one `name` or `network` filter is enough, and each key present must
//! be satisfied.

use std::collections::HashMap;

use bollard::models::EventMessage;
use regex::Regex;

use super::container::Container;

/// The keys berth passes on; `docker ps` has more (`status`, `health`,
/// `ancestor`, …), each of which berth either decides itself or cannot
/// follow through events.
const KEYS: &str = "label, name or network";

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{0:?} is not KEY=VALUE (label=com.example.team=web, name=^web, network=front)")]
    Syntax(String),
    #[error("{given:?}: berth filters by {KEYS}, not {key:?}")]
    UnknownKey { given: String, key: String },
    #[error("{given:?}: {reason}")]
    Value { given: String, reason: String },
}

/// The validated `--filter`s; empty: every container.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// As given, for `--check` and equality.
    given: Vec<String>,
    /// `KEY` or `KEY=VALUE`, each as Docker's `label` filter takes it.
    labels: Vec<String>,
    /// Docker matches these against the name with and without its `/`.
    names: Vec<Regex>,
    /// A network's name, or a prefix of its ID.
    networks: Vec<String>,
}

impl PartialEq for Filters {
    fn eq(&self, other: &Self) -> bool {
        self.given == other.given
    }
}

impl Eq for Filters {}

impl Filters {
    pub fn parse(given: &[String]) -> Result<Filters, FilterError> {
        let mut filters = Filters {
            given: given.to_vec(),
            ..Filters::default()
        };
        for text in given {
            let bad = |reason: &str| FilterError::Value {
                given: text.clone(),
                reason: reason.to_string(),
            };
            let (key, value) = text
                .split_once('=')
                .ok_or_else(|| FilterError::Syntax(text.clone()))?;
            if value.is_empty() {
                return Err(bad("the value is empty"));
            }
            match key {
                "label" if value.starts_with('=') => return Err(bad("the label's key is empty")),
                "label" => filters.labels.push(value.to_string()),
                "name" => {
                    let pattern = Regex::new(value).map_err(|e| bad(&e.to_string()))?;
                    filters.names.push(pattern);
                }
                "network" => filters.networks.push(value.to_string()),
                _ => {
                    return Err(FilterError::UnknownKey {
                        given: text.clone(),
                        key: key.to_string(),
                    });
                }
            }
        }
        Ok(filters)
    }

    /// The filters as given.
    pub fn given(&self) -> &[String] {
        &self.given
    }

    /// Docker's `filters` for listing containers: every key.
    pub fn list(&self) -> Option<HashMap<String, Vec<String>>> {
        let mut filters = HashMap::new();
        let mut put = |key: &str, values: Vec<String>| {
            if !values.is_empty() {
                filters.insert(key.to_string(), values);
            }
        };
        put("label", self.labels.clone());
        put(
            "name",
            self.names.iter().map(|r| r.as_str().to_string()).collect(),
        );
        put("network", self.networks.clone());
        (!filters.is_empty()).then_some(filters)
    }

    /// The listing filters for one container, `id`: whether it passes.
    pub fn list_one(&self, id: &str) -> HashMap<String, Vec<String>> {
        let mut filters = self.list().unwrap_or_default();
        filters.insert("id".to_string(), vec![id.to_string()]);
        filters
    }

    /// True when the daemon filters container events by label: network
    /// events carry no labels, so they come on a stream of their own,
    /// every container's, and must be checked with [`Filters::list_one`].
    pub fn by_label(&self) -> bool {
        !self.labels.is_empty()
    }

    /// The event streams to open, each as Docker's `filters`: one for
    /// container and network events; with label filters, container events
    /// filtered by them and network attachments apart.
    pub fn event_streams(&self) -> Vec<HashMap<String, Vec<String>>> {
        let one = |pairs: &[(&str, Vec<String>)]| {
            pairs
                .iter()
                .map(|(key, values)| (key.to_string(), values.clone()))
                .collect::<HashMap<_, _>>()
        };
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        if !self.by_label() {
            return vec![one(&[("type", strings(&["container", "network"]))])];
        }
        vec![
            one(&[
                ("type", strings(&["container"])),
                ("label", self.labels.clone()),
            ]),
            one(&[
                ("type", strings(&["network"])),
                ("event", strings(&["connect", "disconnect"])),
            ]),
        ]
    }

    /// Whether a container event may concern a container berth serves: its
    /// `name` attribute against the name filters. Other events pass.
    pub fn admits_event(&self, event: &EventMessage) -> bool {
        let name = event
            .actor
            .as_ref()
            .and_then(|actor| actor.attributes.as_ref())
            .and_then(|attributes| attributes.get("name"));
        match (event.typ, name) {
            (Some(bollard::models::EventMessageTypeEnum::CONTAINER), Some(name)) => {
                self.admits_name(name)
            }
            _ => true,
        }
    }

    /// Whether an inspected container passes every filter.
    pub fn admits(&self, container: &Container) -> bool {
        let labels = self
            .labels
            .iter()
            .all(|filter| match filter.split_once('=') {
                Some((key, value)) => container.labels.get(key).is_some_and(|v| v == value),
                None => container.labels.contains_key(filter),
            });
        let networks = self.networks.is_empty()
            || self.networks.iter().any(|wanted| {
                container
                    .networks
                    .iter()
                    .any(|n| &n.name == wanted || n.id.starts_with(wanted.as_str()))
            });
        labels && networks && self.admits_name(&container.name)
    }

    /// Docker tries each pattern on `/name` and on `name`.
    fn admits_name(&self, name: &str) -> bool {
        let bare = name.trim_start_matches('/');
        let slashed = format!("/{bare}");
        self.names.is_empty()
            || self
                .names
                .iter()
                .any(|r| r.is_match(bare) || r.is_match(&slashed))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bollard::models::{EventActor, EventMessageTypeEnum};

    use super::*;
    use crate::sources::docker::container::{Health, Network, Status};

    fn parse(given: &[&str]) -> Result<Filters, FilterError> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        Filters::parse(&given)
    }

    fn container(name: &str, labels: &[(&str, &str)], networks: &[(&str, &str)]) -> Container {
        Container {
            id: "0123456789ab".into(),
            name: name.into(),
            hostname: None,
            status: Status::Running,
            health: Health::None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            service_env: BTreeMap::new(),
            exposed: Vec::new(),
            published: BTreeMap::new(),
            networks: networks
                .iter()
                .map(|(name, id)| Network {
                    name: name.to_string(),
                    id: id.to_string(),
                    ..Network::default()
                })
                .collect(),
        }
    }

    #[test]
    fn only_keys_berth_can_follow_are_taken() {
        let error = |given: &str| parse(&[given]).unwrap_err().to_string();
        assert!(error("status=running").contains("not \"status\""));
        assert!(error("label").contains("KEY=VALUE"));
        assert!(error("label=").contains("empty"));
        assert!(error("label==x").contains("empty"));
        assert!(error("name=(").contains("name=("));
        let filters = parse(&["label=a=b=c", "name=^web", "network=front"]).unwrap();
        assert_eq!(filters.given().len(), 3);
        let list = filters.list().unwrap();
        assert_eq!(list["label"], ["a=b=c"]);
        assert_eq!(list["name"], ["^web"]);
        assert_eq!(list["network"], ["front"]);
        assert_eq!(parse(&[]).unwrap().list(), None);
    }

    #[test]
    fn labels_must_all_match_names_and_networks_any() {
        let filters = parse(&[
            "label=team=web",
            "label=tier",
            "network=front",
            "network=9f",
        ])
        .unwrap();
        let both = [("team", "web"), ("tier", "1")];
        assert!(filters.admits(&container("a", &both, &[("front", "aa")])));
        assert!(filters.admits(&container("a", &both, &[("other", "9f0e")])));
        assert!(!filters.admits(&container("a", &both, &[("other", "aa")])));
        let one = [("team", "web")];
        assert!(!filters.admits(&container("a", &one, &[("front", "aa")])));
        let wrong = [("team", "db"), ("tier", "1")];
        assert!(!filters.admits(&container("a", &wrong, &[("front", "aa")])));

        let names = parse(&["name=^web", "name=^/api$"]).unwrap();
        assert!(names.admits(&container("web-1", &[], &[])));
        assert!(names.admits(&container("api", &[], &[])));
        assert!(!names.admits(&container("my-web", &[], &[])));
        assert!(parse(&[]).unwrap().admits(&container("x", &[], &[])));
    }

    #[test]
    fn label_filters_move_network_events_to_a_stream_of_their_own() {
        let plain = parse(&["network=front"]).unwrap();
        assert_eq!(plain.event_streams().len(), 1);
        assert!(!plain.by_label());
        let labelled = parse(&["label=team=web"]).unwrap();
        let streams = labelled.event_streams();
        assert_eq!(streams[0]["type"], ["container"]);
        assert_eq!(streams[0]["label"], ["team=web"]);
        assert_eq!(streams[1]["type"], ["network"]);
        assert!(!streams[1].contains_key("label"));
        assert_eq!(labelled.list_one("abc")["id"], ["abc"]);
    }

    #[test]
    fn container_events_are_checked_by_name_before_inspecting() {
        let event = |typ, name: &str| EventMessage {
            typ: Some(typ),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(HashMap::from([("name".to_string(), name.to_string())])),
            }),
            ..Default::default()
        };
        let filters = parse(&["name=^web"]).unwrap();
        assert!(filters.admits_event(&event(EventMessageTypeEnum::CONTAINER, "web-1")));
        assert!(!filters.admits_event(&event(EventMessageTypeEnum::CONTAINER, "db-1")));
        // A network event's name is the network's.
        assert!(filters.admits_event(&event(EventMessageTypeEnum::NETWORK, "front")));
    }
}
