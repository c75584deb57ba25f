//! `/`: what berth serves and why, on one server-rendered page. Every
//! value is escaped by maud's `html!` (a container name or label is
//! hostile input); no script, one small stylesheet.

use std::time::SystemTime;

use maud::{DOCTYPE, Markup, html};

use super::{kind_name, records};
use crate::dns::forward::UpstreamReport;
use crate::registry::Snapshot;
use crate::registry::name::to_text;
use crate::status::{Docker, Etcd, Kept, State, rfc3339};

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}\
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
th{background:#eee}.bad{color:#a00}.ok{color:#070}code{font-size:90%}";

fn etcd_state(etcd: &Etcd) -> Markup {
    let instances = etcd.by_instance();
    html! {
        @match &etcd.unreachable {
            Some((since, reason)) => span.bad { "unreachable since " (rfc3339(*since)) ": " (reason) },
            None if etcd.connected => span.ok { "following " code { (etcd.endpoints.join(", ")) } },
            None => span.bad { "connecting to " code { (etcd.endpoints.join(", ")) } },
        }
        ", instance " code { (etcd.instance) } ", revision " (etcd.revision)
        @if let Some(at) = etcd.last_sync { ", last read whole " (rfc3339(at)) }
        ", " (etcd.published) " keys published; served from etcd: "
        @if instances.is_empty() { "none" }
        @for (instance, count) in &instances { code { (instance) } " " (count) " keys " }
    }
}

fn docker_state(docker: &Docker) -> Markup {
    match docker {
        Docker::Off => html! { "off (" code { "--docker off" } ")" },
        Docker::Connecting { endpoint } => {
            html! { span.bad { "connecting to " code { (endpoint) } "; first listing not done" } }
        }
        Docker::Following {
            endpoint,
            since,
            last_sync,
        } => html! {
            span.ok { "following " code { (endpoint) } " since " (rfc3339(*since)) }
            ", last listing " (rfc3339(*last_sync))
        },
        Docker::Unreachable {
            endpoint,
            since,
            reason,
            last_sync,
            kept,
        } => html! {
            span.bad { code { (endpoint) } " unreachable since " (rfc3339(*since)) ": " (reason) }
            @match (kept, last_sync) {
                (Kept::Stale { until }, Some(at)) => {
                    "; serving the listing of " (rfc3339(*at)) " with TTL 1"
                    @if let Some(until) = until { " until " (rfc3339(*until)) }
                }
                (Kept::Withdrawn { at }, _) => { "; its records withdrawn at " (rfc3339(*at)) }
                _ => {}
            }
        },
    }
}

pub fn render(snapshot: &Snapshot, state: &State, upstreams: Vec<UpstreamReport>) -> String {
    let zones = records(snapshot, state);
    let hidden: Vec<_> = state
        .containers
        .iter()
        .filter(|(_, seen)| seen.hidden.is_some() || !seen.skipped.is_empty())
        .collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "berth" }
                style { (STYLE) }
            }
            body {
                h1 { "berth " (env!("CARGO_PKG_VERSION")) }
                p { "As of " (rfc3339(SystemTime::now())) "." }

                h2 { "Sources" }
                table {
                    tr { th { "Docker" } td { (docker_state(&state.docker)) } }
                    @if let Some(etcd) = &state.etcd {
                        tr { th { "etcd" } td { (etcd_state(etcd)) } }
                    }
                    @for (path, file) in &state.zone_files {
                        tr {
                            th { "zone file " code { (path.display()) } }
                            td {
                                @if let Some(reason) = &file.rejected {
                                    span.bad { "rejected: " (reason) }
                                    " (its last good records, if any, are served)"
                                } @else {
                                    span.ok { "loaded" } ", " (file.names.len()) " names"
                                }
                            }
                        }
                    }
                }

                h2 { "Upstreams" }
                @if upstreams.is_empty() {
                    p { "Forwarding is off: names outside the zones are refused." }
                } @else {
                    table.upstreams {
                        tr { th { "upstream" } th { "state" } th { "queries" } th { "failures" } th { "timeouts" } th { "last error" } }
                        @for upstream in &upstreams {
                            tr {
                                td { code { (upstream.address) } }
                                td {
                                    @if upstream.failing { span.bad { "failing" } } @else { span.ok { "answering" } }
                                }
                                td { (upstream.queries) }
                                td { (upstream.failures) }
                                td { (upstream.timeouts) }
                                td {
                                    @if let Some((at, error)) = &upstream.last_error {
                                        (rfc3339(*at)) ": " (error)
                                    }
                                }
                            }
                        }
                    }
                }

                h2 { "Containers seen but not (fully) served" }
                @if hidden.is_empty() {
                    p { "None." }
                } @else {
                    table.hidden {
                        tr { th { "container" } th { "why" } }
                        @for (id, seen) in &hidden {
                            tr {
                                td { (seen.name) " " code { (id.get(..12).unwrap_or(id)) } }
                                td {
                                    @if let Some(why) = &seen.hidden { (why) }
                                    @for skipped in &seen.skipped { div { "skipped " (skipped) } }
                                }
                            }
                        }
                    }
                }

                h2 { "Zones" }
                table {
                    tr { th { "zone" } th { "kind" } th { "SOA serial" } th { "names" } }
                    @for zone in &snapshot.zones {
                        tr {
                            td { code { (to_text(&zone.apex)) } }
                            td { (kind_name(zone.kind)) }
                            td { (zone.soa_serial().unwrap_or(zone.serial)) }
                            td { (zone.nodes.len()) }
                        }
                    }
                }
                @for zone in &zones {
                    @if !zone.shadowed.is_empty() {
                        h3 { "Names in " code { (zone.zone) } " containers claim and do not get" }
                        table.shadowed {
                            tr { th { "name" } th { "owned by" } th { "claimed by" } }
                            @for claim in &zone.shadowed {
                                tr {
                                    td { code { (claim.name) } }
                                    td { (claim.owner) }
                                    td { (claim.claimed_by) }
                                }
                            }
                        }
                    }
                    h3 { "Records in " code { (zone.zone) } }
                    table.records {
                        tr { th { "name" } th { "type" } th { "TTL" } th { "data" } th { "from" } }
                        @for record in &zone.records {
                            tr {
                                td { code { (record.name) } }
                                td { (record.rtype) }
                                td { (record.ttl) }
                                td { code { (record.data) } }
                                td {
                                    @if record.from.is_empty() {
                                        "berth (flags and zone apex)"
                                    }
                                    @for origin in &record.from { div { (origin) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}
