//! The `since` of an event subscription, on the daemon's clock.
//!
//! `/info` reports the daemon's time as RFC 3339 (`2026-01-02T03:04:05.123Z`)
//! but `/events?since=` takes unix `seconds.nanoseconds` (the docker CLI
//! converts before sending). Using the daemon's clock, not berth's, keeps a
//! remote daemon with a skewed clock from losing or replaying events.

/// Converts an RFC 3339 timestamp to `seconds.nanoseconds` since the epoch.
pub fn unix_from_rfc3339(text: &str) -> Option<String> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: u32 = ymd.next()?.parse().ok()?;
    let day: u32 = ymd.next()?.parse().ok()?;

    // The zone starts at `Z` or at a sign after the seconds.
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second: i64 = hms.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Nanoseconds from up to nine fraction digits; finer ones are dropped.
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = fraction.chars().take(9).collect();
    let nanos: u32 = format!("{digits:0<9}").parse().ok()?;

    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone.get(1..)?.split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(format!("{seconds}.{nanos:09}"))
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_docker_system_time() {
        assert_eq!(
            unix_from_rfc3339("1970-01-01T00:00:00Z").as_deref(),
            Some("0.000000000")
        );
        // `date -u -d 2026-11-30T23:54:22Z +%s` is 1796082862.
        assert_eq!(
            unix_from_rfc3339("2026-11-30T23:54:22.036876123Z").as_deref(),
            Some("1796082862.036876123")
        );
        assert_eq!(
            unix_from_rfc3339("2026-12-01T01:54:22.5+02:00").as_deref(),
            Some("1796082862.500000000")
        );
        assert_eq!(
            unix_from_rfc3339("2000-02-29T12:00:00-00:30").as_deref(),
            Some("951827400.000000000")
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "now",
            "2026-13-01T00:00:00Z",
            "2026-11-30",
            "2026-11-30T1:2Z",
        ] {
            assert_eq!(unix_from_rfc3339(bad), None, "{bad}");
        }
    }
}
