//! Running the real `dig` and `kdig` and reading what they print.

use std::net::SocketAddr;
use std::process::Command;

/// One resource record as dig prints it, names lower-cased for comparison.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub class: String,
    pub rtype: String,
    pub rdata: String,
}

/// A parsed response.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: String,
    pub flags: Vec<String>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    /// EDNS as the server sent it: (version, UDP payload size).
    pub edns: Option<(u8, u16)>,
    pub raw: String,
}

impl Answer {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The RDATA of every answer record of `rtype`, sorted.
    pub fn rdata(&self, rtype: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .answer
            .iter()
            .filter(|rr| rr.rtype == rtype)
            .map(|rr| rr.rdata.clone())
            .collect();
        found.sort();
        found
    }
}

/// `dig @addr -p port` with `args`, one try, no cookie (BIND's and berth's
/// cookies would differ and are not what is compared).
pub fn dig(server: SocketAddr, args: &[&str]) -> Answer {
    let output = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([
            "+noall",
            "+comments",
            "+answer",
            "+authority",
            "+additional",
        ])
        .args(["+nocookie", "+tries=1", "+time=5"])
        .args(args)
        .output()
        .expect("run dig");
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// `kdig @addr -p port` with `args`.
pub fn kdig(server: SocketAddr, args: &[&str]) -> Answer {
    let output = Command::new("kdig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args(["+retry=0", "+time=5", "+nocookie"])
        .args(args)
        .output()
        .expect("run kdig");
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// Reads dig's and kdig's presentation output.
pub fn parse(text: &str) -> Answer {
    let mut answer = Answer {
        raw: text.to_string(),
        ..Answer::default()
    };
    let mut section: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(at) = trimmed.find("status: ") {
            answer.status = trimmed[at + 8..]
                .split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
        }
        let lower = trimmed.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix(";; flags:") {
            let flags = rest.split(';').next().unwrap_or("");
            answer.flags = flags.split_whitespace().map(str::to_string).collect();
        }
        if lower.starts_with("; edns: version:") || lower.starts_with(";; version:") {
            answer.edns = parse_edns(&lower);
        }
        if lower.starts_with(";; answer section") {
            section = Some("answer");
            continue;
        }
        if lower.starts_with(";; authority section") {
            section = Some("authority");
            continue;
        }
        if lower.starts_with(";; additional section") {
            section = Some("additional");
            continue;
        }
        if trimmed.starts_with(';') {
            if trimmed.starts_with(";;") && trimmed.contains("SECTION") {
                section = None;
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let Some(rr) = parse_rr(trimmed) else {
            continue;
        };
        match section {
            Some("answer") => answer.answer.push(rr),
            Some("authority") => answer.authority.push(rr),
            Some("additional") => answer.additional.push(rr),
            _ => {}
        }
    }
    answer
}

fn parse_edns(line: &str) -> Option<(u8, u16)> {
    let version = line.split("version:").nth(1)?.trim_start();
    let version: u8 = version.split([',', ';', ' ']).next()?.parse().ok()?;
    let udp = line.split("udp:").nth(1)?.trim_start();
    let udp: u16 = udp.split([',', ';', ' ']).next()?.parse().ok()?;
    Some((version, udp))
}

pub fn parse_rr(line: &str) -> Option<Rr> {
    let mut fields = line.split_whitespace();
    let name = fields.next()?.to_ascii_lowercase();
    let ttl = fields.next()?.parse().ok()?;
    let class = fields.next()?.to_string();
    let rtype = fields.next()?.to_string();
    let rdata = fields.collect::<Vec<_>>().join(" ");
    Some(Rr {
        name,
        ttl,
        class,
        rtype,
        rdata,
    })
}

#[test]
fn parses_dig_output() {
    let text = ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n\
;; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1\n\
\n;; OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232\n\
;; AUTHORITY SECTION:\nApps.local.\t\t5\tIN\tSOA\tns.apps.local. hostmaster.apps.local. 1 2 3 4 5\n";
    let answer = parse(text);
    assert_eq!(answer.status, "NXDOMAIN");
    assert!(answer.has_flag("aa"));
    assert_eq!(answer.edns, Some((0, 1232)));
    assert_eq!(answer.authority.len(), 1);
    assert_eq!(answer.authority[0].name, "apps.local.");
}
