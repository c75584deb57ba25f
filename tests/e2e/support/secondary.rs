//! BIND and Knot as secondaries of berth, each configured from the very
//! snippet in `deploy/`, with the key the snippet names.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::peers::{Daemon, deploy_file};
use berth::iana::Rtype;

use super::{dig, raw, write_file};

/// The key every test here signs with, as `tsig-keygen` would write it.
pub const KEY_NAME: &str = "berth-xfr";
pub const KEY_SECRET: &str = "c2VjcmV0LWtleS1mb3ItYmVydGgtdGVzdHM=";

/// Writes the key in BIND's format (what deploy/bind includes, and what
/// berth reads with --tsig-key-file) and returns its path.
pub fn key_file(dir: &Path) -> String {
    let text = format!(
        "key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{KEY_SECRET}\";\n}};\n"
    );
    write_file(dir, "berth-xfr.key", &text)
}

/// berth's flags for a secondary listening on `secondary_port`: transfers
/// and NOTIFY signed with the key in `key_path`, the reverse zone of the
/// deploy snippets served too.
pub fn berth_flags(key_path: &str, secondary_port: u16) -> Vec<String> {
    [
        "--zone",
        "apps.local",
        "--zone",
        "17.172.in-addr.arpa",
        "--tsig-key-file",
        key_path,
        "--allow-transfer",
        &format!("127.0.0.1 key {KEY_NAME}"),
        "--notify",
        &format!("127.0.0.1:{secondary_port} key {KEY_NAME}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// named on `port` with deploy/bind/berth-secondary.conf, its primary the
/// berth on `berth_port`.
pub fn named(port: u16, berth_port: u16, key_path: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display();
    let snippet = deploy_file("bind/berth-secondary.conf", berth_port)
        .replace("/etc/bind/berth-xfr.key", key_path);
    let snippet_path = write_file(dir.path(), "berth-secondary.conf", &snippet);
    let conf = format!(
        "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  \
         session-keyfile \"{d}/session.key\";\n  managed-keys-directory \"{d}\";\n  \
         listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  \
         recursion no;\n  dnssec-validation no;\n  answer-cookie no;\n}};\n\
         controls {{ }};\n\
         include \"{snippet_path}\";\n"
    );
    let conf_path = write_file(dir.path(), "named.conf", &conf);
    let mut command = Command::new("named");
    // Debug level 3 makes named say which transfer it asked for (IXFR).
    command.args(["-g", "-d", "3", "-n", "1", "-c", &conf_path]);
    let probe = raw::query(1, ".", Rtype::SOA);
    Daemon::launch("named", command, port, dir, &probe, |_| true)
        .unwrap_or_else(|log| panic!("named did not start; log:\n{log}"))
}

/// knotd on `port` with deploy/knot/berth-secondary.conf.
pub fn knot(port: u16, berth_port: u16) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display();
    let snippet = deploy_file("knot/berth-secondary.conf", berth_port)
        .replace("REPLACE-WITH-THE-BASE64-SECRET", KEY_SECRET);
    let snippet_path = write_file(dir.path(), "berth-secondary.conf", &snippet);
    let conf = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{d}\"\n\
         log:\n  - target: stderr\n    any: info\n\
         database:\n    storage: \"{d}/db\"\n\
         template:\n  - id: default\n    storage: \"{d}\"\n\
         include: \"{snippet_path}\"\n"
    );
    std::fs::create_dir_all(dir.path().join("db")).expect("knot's database directory");
    let conf_path = write_file(dir.path(), "knot.conf", &conf);
    let mut command = Command::new("knotd");
    command.args(["-c", &conf_path]);
    let probe = raw::query(1, ".", Rtype::SOA);
    Daemon::launch("knotd", command, port, dir, &probe, |_| true)
        .unwrap_or_else(|log| panic!("knotd did not start; log:\n{log}"))
}

/// The SOA serial `server` gives for `zone`, if it answers with one.
pub fn serial(server: SocketAddr, zone: &str) -> Option<u32> {
    let answer = dig::dig(server, &[zone, "SOA"]);
    let soa = answer.answer.iter().find(|rr| rr.rtype == "SOA")?;
    soa.rdata.split_whitespace().nth(2)?.parse().ok()
}

/// The A records `server` gives for `name`, sorted.
pub fn addresses(server: SocketAddr, name: &str) -> Vec<String> {
    dig::dig(server, &[name, "A"]).rdata("A")
}

/// Sends `query` over TCP and reads the messages of the transfer: until
/// the SOA that opened it comes again, or the server closes or stops.
pub fn transfer(server: SocketAddr, query: &[u8]) -> Vec<hickory_proto::op::Message> {
    use hickory_proto::rr::RecordType;
    let mut stream = std::net::TcpStream::connect(server).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    raw::tcp_send_all(&mut stream, &[query.to_vec()]);
    let mut messages = Vec::new();
    let mut soas = 0;
    while let Some(bytes) = raw::tcp_read(&mut stream) {
        let message = hickory_proto::op::Message::from_vec(&bytes).expect("a DNS message");
        soas += message
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        let rcode = message.response_code;
        let first_serial_only = messages.is_empty() && message.answers.len() == 1;
        messages.push(message);
        if soas >= 2 || rcode != hickory_proto::op::ResponseCode::NoError || first_serial_only {
            break;
        }
    }
    messages
}

/// Replaces apps.local.zone in `dir` at once (written aside, then renamed),
/// so berth's poller never reads half a file.
pub fn rewrite(dir: &Path, text: &str) {
    let aside = dir.join("apps.local.zone.new");
    std::fs::write(&aside, text).expect("write zone file");
    std::fs::rename(&aside, dir.join("apps.local.zone")).expect("rename zone file");
}
