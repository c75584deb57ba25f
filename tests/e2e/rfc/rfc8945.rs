//! RFC 8945, Secret Key Transaction Authentication for DNS (TSIG).

use std::process::Command;

use super::{ZONE_FILE, start};
use crate::support::named::Named;
use crate::support::secondary::{KEY_NAME, KEY_SECRET};
use crate::support::{Berth, require, write_file};

/// dig's whole output for `args` sent to `server`.
fn dig_text(server: std::net::SocketAddr, args: &[&str]) -> String {
    let output = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+nocookie", "+tries=1"])
        .args(args)
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn key_flag() -> String {
    format!("{KEY_NAME}:hmac-sha256:{KEY_SECRET}")
}

fn dig_key(name: &str, secret: &str) -> String {
    format!("hmac-sha256:{name}:{secret}")
}

/// The TSIG error dig shows for an answer, from its TSIG pseudo-section.
fn tsig_error(text: &str) -> Option<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with(";; TSIG PSEUDOSECTION"));
    let record = lines.nth(1)?;
    // "… MAC-SIZE [MAC] ORIGINAL-ID ERROR OTHER-LEN [OTHER]": the error is
    // the one word of capitals.
    record
        .split_whitespace()
        .skip(4)
        .find(|word| word.starts_with("BAD") || *word == "NOERROR")
        .map(str::to_string)
}

fn status(text: &str) -> String {
    let at = text.find("status: ").map_or(text.len(), |at| at + 8);
    text[at..].split(',').next().unwrap_or_default().to_string()
}

/// §5.2.1: a query signed with a key the server does not know gets NOTAUTH
/// and an unsigned TSIG record with error BADKEY; BIND's answer to the same
/// query, side by side, is the oracle.
#[test]
fn rfc8945_5_2_1_an_unknown_key_is_notauth_badkey_as_bind_says() {
    if !require("dig") || !require("named") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let zone = format!(
        "$ORIGIN apps.local.\n$TTL 60\n@ IN SOA ns hostmaster 1 14400 3600 604800 5\n\
         @ IN NS ns\nns IN A 127.0.0.1\n{}",
        ZONE_FILE.split_once('\n').map_or("", |(_, rest)| rest)
    );
    let file = write_file(dir.path(), "apps.local.db", &zone);
    let named = Named::start(&[("apps.local", &file)]);
    let (berth, _dir) = start(&["--tsig-key", &key_flag()]);
    for server in [named.addr, berth.addr] {
        let unknown = dig_text(
            server,
            &["-y", &dig_key("nobody", KEY_SECRET), "gateway.apps.local"],
        );
        assert_eq!(status(&unknown), "NOTAUTH", "{server}: {unknown}");
        assert_eq!(tsig_error(&unknown).as_deref(), Some("BADKEY"), "{unknown}");
    }
}

/// §5.2.2: a known key with a MAC that does not check out is BADSIG; the
/// right key gets its answer, signed, and dig verifies the signature.
#[test]
fn rfc8945_5_2_2_a_bad_mac_is_badsig_and_a_good_one_is_answered_signed() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--tsig-key", &key_flag()]);
    let bad = dig_text(
        berth.addr,
        &["-y", &dig_key(KEY_NAME, "b3RoZXI="), "gateway.apps.local"],
    );
    assert_eq!(status(&bad), "NOTAUTH", "{bad}");
    assert_eq!(tsig_error(&bad).as_deref(), Some("BADSIG"), "{bad}");

    let good = dig_text(
        berth.addr,
        &["-y", &dig_key(KEY_NAME, KEY_SECRET), "gateway.apps.local"],
    );
    assert_eq!(status(&good), "NOERROR", "{good}");
    assert_eq!(tsig_error(&good).as_deref(), Some("NOERROR"), "{good}");
    assert!(!good.contains("Couldn't verify"), "{good}");
    assert!(good.contains("192.0.2.1"), "{good}");
}

/// §5.3 with `--allow-transfer key NAME`: a transfer needs the key; signed
/// with it, every message of the answer is signed and dig verifies them
/// all; unsigned it is REFUSED; signed with another key, NOTAUTH.
#[test]
fn rfc8945_5_3_transfers_signed_with_the_key_only() {
    if !require("dig") {
        return;
    }
    let mut zone = String::from("$TTL 60\n");
    for i in 0..3000 {
        zone.push_str(&format!("host-{i} IN A 10.3.{}.{}\n", i / 250, i % 250));
    }
    let allow = format!("key {KEY_NAME}");
    let (berth, _dir) = Berth::with_zone_file(
        &zone,
        &["--tsig-key", &key_flag(), "--allow-transfer", &allow],
    );
    let signed = dig_text(
        berth.addr,
        &["-y", &dig_key(KEY_NAME, KEY_SECRET), "apps.local", "AXFR"],
    );
    assert!(signed.contains("XFR size: 3004 records"), "{signed}");
    assert!(!signed.contains("Couldn't verify"), "{signed}");
    assert!(!signed.contains("could not be validated"), "{signed}");

    let unsigned = dig_text(berth.addr, &["apps.local", "AXFR"]);
    assert!(unsigned.contains("Transfer failed"), "{unsigned}");
    let other = dig_text(
        berth.addr,
        &["-y", &dig_key("nobody", KEY_SECRET), "apps.local", "AXFR"],
    );
    assert!(!other.contains("XFR size"), "{other}");
}
