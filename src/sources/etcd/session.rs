//! One session with the etcd cluster, from connecting to the first failure.
//!
//! 1. Connect; keep the lease from the last session if etcd still has it,
//!    else grant a new one (everything is then published again).
//! 2. Read the prefix whole, at one revision, and replace the source's
//!    records with what other writers have there. Keys on this berth's
//!    lease are its own: they are served from Docker, not from etcd.
//! 3. Publish: put what is missing or different under the lease, delete
//!    what should no longer be there. Keys this berth writes that hang on
//!    another lease were written by its previous run: that lease is
//!    revoked, which takes whatever else it still holds with it.
//! 4. Watch from the revision after the reading; keep the lease alive;
//!    publish again whenever the Docker records change.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime};

use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, KeyValue, PutOptions,
    TlsOptions, Txn, TxnOp, WatchOptions,
};

use super::{EtcdSource, Published, Settings, schema};
use crate::registry::{Change, Entity, RegistryClosed, RegistryHandle, SourceId};
use crate::status::EtcdKey as Served;

/// Operations in one transaction; etcd refuses more than 128 by default.
const TXN_OPS: usize = 100;
/// How long a connection attempt or a request may take before the member
/// counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 pings find a member that went silent without closing the socket.
const PING_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot reach etcd at {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: etcd_client::Error,
    },
    #[error("etcd at {0} did not answer in time")]
    Silent(String),
    #[error("etcd {during} failed: {source}")]
    Api {
        during: &'static str,
        source: etcd_client::Error,
    },
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the etcd watch was compacted past revision {0}")]
    Compacted(i64),
    #[error("the etcd watch was cancelled: {0}")]
    Cancelled(String),
    #[error("the etcd {0} stream ended")]
    StreamEnded(&'static str),
    #[error("the lease {0:x} expired")]
    LeaseLost(i64),
    #[error(transparent)]
    Registry(#[from] RegistryClosed),
}

impl SessionError {
    fn api(during: &'static str) -> impl FnOnce(etcd_client::Error) -> SessionError {
        move |source| SessionError::Api { during, source }
    }

    /// Endings that are part of following etcd, not a fault: read again at
    /// once.
    pub fn is_routine(&self) -> bool {
        matches!(
            self,
            SessionError::Compacted(_) | SessionError::LeaseLost(_)
        )
    }
}

/// Runs one session; it only ever ends with the reason it ended.
/// `lease` and the `endpoint` that answered last are kept across
/// sessions; `live_since` is set once the session follows the watch.
pub async fn run(
    source: &EtcdSource,
    registry: &RegistryHandle,
    published: &mut Published,
    lease: &mut Option<i64>,
    endpoint: &mut usize,
    live_since: &mut Option<Instant>,
) -> Result<Infallible, SessionError> {
    let settings = &source.settings;
    let mut client = connect(settings, endpoint).await?;
    let lease_id = match *lease {
        Some(id) if still_alive(&mut client, id).await? => id,
        _ => {
            let granted = client
                .lease_grant(settings.lease_ttl, None)
                .await
                .map_err(SessionError::api("lease grant"))?;
            *lease = Some(granted.id());
            granted.id()
        }
    };
    let (mut keeper, mut keep_alive) = client
        .lease_keep_alive(lease_id)
        .await
        .map_err(SessionError::api("lease keep-alive"))?;

    let dir = format!("{}/", settings.prefix);
    let reading = client
        .get(dir.as_str(), Some(GetOptions::new().with_prefix()))
        .await
        .map_err(SessionError::api("range read"))?;
    let mut revision = reading.header().map_or(0, |h| h.revision());
    let mut own: BTreeMap<String, String> = BTreeMap::new();
    let mut earlier_leases: BTreeSet<i64> = BTreeSet::new();
    let mut entities = Vec::new();
    let desired = published.borrow_and_update().clone();
    for kv in reading.kvs() {
        let Ok(key) = kv.key_str() else { continue };
        if kv.lease() == lease_id {
            own.insert(key.to_string(), String::from_utf8_lossy(kv.value()).into());
            continue;
        }
        if desired.contains_key(key) && kv.lease() != 0 {
            earlier_leases.insert(kv.lease());
        }
        if let Some(entity) = entity(settings, kv) {
            entities.push(entity);
        }
    }
    let read = entities.len();
    let keys: BTreeMap<String, Served> = entities.iter().map(served).collect();
    registry
        .send(Change::Replace {
            source: SourceId::Etcd,
            entities,
        })
        .await?;

    sync(&mut client, lease_id, &desired, &mut own).await?;
    for earlier in earlier_leases {
        // Best effort: an earlier lease gone already is the same outcome.
        if let Err(error) = client.lease_revoke(earlier).await {
            tracing::debug!(%error, lease = earlier, "etcd: revoking an earlier lease");
        }
    }

    let mut watch = client
        .watch(
            dir.as_str(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        )
        .await
        .map_err(SessionError::api("watch"))?;

    *live_since = Some(Instant::now());
    let now = SystemTime::now();
    source.report(|etcd| {
        etcd.connected = true;
        etcd.unreachable = None;
        etcd.revision = revision;
        etcd.last_sync = Some(now);
        etcd.lease = Some(lease_id);
        etcd.published = own.len();
        etcd.keys = keys;
    });
    tracing::info!(
        revision,
        records = read,
        published = own.len(),
        lease = format!("{lease_id:x}"),
        endpoint = %settings.endpoints[*endpoint],
        "etcd: following the prefix"
    );

    let mut local_open = true;
    let mut keep_alive_tick =
        tokio::time::interval(Duration::from_secs((settings.lease_ttl / 3).max(1) as u64));
    loop {
        tokio::select! {
            message = watch.message() => {
                let response = message
                    .map_err(SessionError::api("watch"))?
                    .ok_or(SessionError::StreamEnded("watch"))?;
                if response.compact_revision() > 0 {
                    return Err(SessionError::Compacted(response.compact_revision()));
                }
                if response.canceled() {
                    return Err(SessionError::Cancelled(response.cancel_reason().to_string()));
                }
                if let Some(header) = response.header() {
                    revision = revision.max(header.revision());
                }
                for event in response.events() {
                    let Some(kv) = event.kv() else { continue };
                    let Ok(key) = kv.key_str() else { continue };
                    let id = key.to_string();
                    let change = match event.event_type() {
                        EventType::Put if kv.lease() != lease_id => match entity(settings, kv) {
                            Some(entity) => Change::Upsert { source: SourceId::Etcd, entity },
                            None => Change::Remove { source: SourceId::Etcd, id },
                        },
                        // Its own keys, and deleted ones, are served from
                        // elsewhere or not at all.
                        _ => Change::Remove { source: SourceId::Etcd, id },
                    };
                    let entry = match &change {
                        Change::Upsert { entity, .. } => Some(served(entity)),
                        _ => None,
                    };
                    registry.send(change).await?;
                    source.report(|etcd| match entry {
                        Some((key, what)) => {
                            etcd.keys.insert(key, what);
                        }
                        None => {
                            etcd.keys.remove(key);
                        }
                    });
                }
                source.report(|etcd| etcd.revision = revision);
            }
            _ = keep_alive_tick.tick() => {
                keeper.keep_alive().await.map_err(SessionError::api("lease keep-alive"))?;
            }
            message = keep_alive.message() => {
                let response = message
                    .map_err(SessionError::api("lease keep-alive"))?
                    .ok_or(SessionError::StreamEnded("lease keep-alive"))?;
                if response.ttl() <= 0 {
                    *lease = None;
                    return Err(SessionError::LeaseLost(lease_id));
                }
            }
            changed = published.changed(), if local_open => {
                if changed.is_err() {
                    // No Docker source (or it is gone): nothing more to publish.
                    local_open = false;
                    continue;
                }
                let desired = published.borrow_and_update().clone();
                sync(&mut client, lease_id, &desired, &mut own).await?;
                source.report(|etcd| etcd.published = own.len());
            }
        }
    }
}

/// A client of one member that answers, trying each endpoint in turn from
/// `preferred`, which becomes the one that answered. One member at a time,
/// as etcd's own clients pin one: a client balancing over every endpoint
/// sends some requests to a dead member for as long as it stays dead.
async fn connect(settings: &Settings, preferred: &mut usize) -> Result<Client, SessionError> {
    let count = settings.endpoints.len();
    let mut last = None;
    for step in 0..count {
        let index = (*preferred + step) % count;
        let endpoint = &settings.endpoints[index];
        let fail = |source| SessionError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
        let attempt = async {
            let mut client = Client::connect([endpoint], Some(options(settings)?))
                .await
                .map_err(fail)?;
            client.status().await.map_err(fail)?;
            Ok::<_, SessionError>(client)
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, attempt).await {
            Ok(Ok(client)) => {
                *preferred = index;
                return Ok(client);
            }
            Ok(Err(error)) => last = Some(error),
            Err(_) => last = Some(SessionError::Silent(endpoint.clone())),
        }
    }
    Err(last.unwrap_or(SessionError::Silent(String::new())))
}

fn options(settings: &Settings) -> Result<ConnectOptions, SessionError> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(PING_INTERVAL, REQUEST_TIMEOUT)
        .with_keep_alive_while_idle(true)
        // A member cut off from the others cancels the watch rather than
        // keeping it open with nothing to say.
        .with_require_leader(true);
    if let Some(user) = &settings.user {
        let password = read(&user.password_file)?;
        options = options.with_user(user.name.clone(), password.trim_end().to_string());
    }
    if let Some(tls) = &settings.tls {
        let mut config = TlsOptions::new();
        if let Some(ca) = &tls.ca {
            config = config.ca_certificate(Certificate::from_pem(read(ca)?));
        }
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        options = options.with_tls(config);
    }
    Ok(options)
}

fn read(path: &std::path::Path) -> Result<String, SessionError> {
    std::fs::read_to_string(path).map_err(|source| SessionError::File {
        path: path.display().to_string(),
        source,
    })
}

/// Whether etcd still holds `lease` (and with it this berth's keys).
async fn still_alive(client: &mut Client, lease: i64) -> Result<bool, SessionError> {
    let response = client
        .lease_time_to_live(lease, None)
        .await
        .map_err(SessionError::api("lease time-to-live"))?;
    Ok(response.ttl() > 0)
}

/// Makes the keys under `lease` equal `desired`; `own` is what they are and
/// becomes what they now are.
async fn sync(
    client: &mut Client,
    lease: i64,
    desired: &BTreeMap<String, String>,
    own: &mut BTreeMap<String, String>,
) -> Result<(), SessionError> {
    let mut operations = Vec::new();
    for (key, value) in desired {
        if own.get(key) != Some(value) {
            let put = PutOptions::new().with_lease(lease);
            operations.push(TxnOp::put(key.as_str(), value.as_str(), Some(put)));
        }
    }
    for key in own.keys().filter(|k| !desired.contains_key(*k)) {
        operations.push(TxnOp::delete(key.as_str(), None));
    }
    let changed = operations.len();
    let mut operations = operations.into_iter().peekable();
    while operations.peek().is_some() {
        let batch: Vec<TxnOp> = operations.by_ref().take(TXN_OPS).collect();
        client
            .txn(Txn::new().and_then(batch))
            .await
            .map_err(SessionError::api("publishing"))?;
    }
    if changed > 0 {
        tracing::debug!(changed, keys = desired.len(), "etcd: published");
    }
    *own = desired.clone();
    Ok(())
}

/// A key and value from another writer, as an entity; `None` (logged) when
/// it is not something berth serves.
fn entity(settings: &Settings, kv: &KeyValue) -> Option<Entity> {
    let key = kv.key_str().ok()?;
    let apex_of = |name: &hickory_proto::rr::Name| {
        settings
            .zones
            .iter()
            .filter(|zone| zone.zone_of(name))
            .max_by_key(|zone| zone.num_labels())
            .cloned()
    };
    match schema::records(&settings.prefix, key, kv.value(), settings.ttl, apex_of) {
        Ok(records) => Some(Entity::new(key, records)),
        Err(error) => {
            tracing::debug!(key, %error, "etcd: key not served");
            None
        }
    }
}

/// Who wrote a key: its last segment, less the `-N` berth adds when one
/// host has several records at a name.
fn instance_of(key: &str) -> &str {
    let last = key.rsplit('/').next().unwrap_or(key);
    match last.rsplit_once('-') {
        Some((instance, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => instance,
        _ => last,
    }
}

/// What the status keeps of a key served from etcd.
fn served(entity: &Entity) -> (String, Served) {
    let mut names: Vec<String> = entity
        .records
        .iter()
        .map(|r| r.name.to_ascii().trim_end_matches('.').to_string())
        .collect();
    names.sort();
    names.dedup();
    let instance = instance_of(&entity.id).to_string();
    (entity.id.clone(), Served { instance, names })
}

#[cfg(test)]
mod tests {
    use super::instance_of;

    #[test]
    fn instances_are_the_last_segment_less_its_index() {
        assert_eq!(instance_of("/skydns/local/apps/web/host-a"), "host-a");
        assert_eq!(instance_of("/skydns/local/apps/web/host-a-2"), "host-a");
        assert_eq!(instance_of("/skydns/local/apps/web/h1:web:80"), "h1:web:80");
    }
}
