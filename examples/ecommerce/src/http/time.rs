//! Timestamps on the wire: RFC 3339 in UTC (`2026-11-26T18:56:26.123456Z`), converted from and
//! to the read models' microseconds since the epoch without a calendar crate.

use std::time::{SystemTime, UNIX_EPOCH};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01 (`days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A day number (days since the epoch) as `YYYY-MM-DD`.
pub fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Microseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339_micros(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rest = micros.rem_euclid(MICROS_PER_DAY);
    let secs = rest / 1_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!(
        "{}T{h:02}:{m:02}:{s:02}.{:06}Z",
        date(days),
        rest % 1_000_000
    )
}

/// A system time as RFC 3339 UTC.
pub fn rfc3339(at: SystemTime) -> String {
    let micros = match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    };
    rfc3339_micros(micros)
}

fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SS[.frac]Z` into microseconds since
/// the epoch; `None` for anything else.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = number(parts.next()?, 4)?;
    let month: u32 = number(parts.next()?, 2)?;
    let day: u32 = number(parts.next()?, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        return None; // 2026-02-30 and the like
    }
    let mut micros = days * MICROS_PER_DAY;
    if let Some(time) = time {
        let time = time.strip_suffix(['Z', 'z'])?;
        let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
        let mut fields = clock.split(':');
        let h: i64 = number(fields.next()?, 2)?;
        let m: i64 = number(fields.next()?, 2)?;
        let s: i64 = number(fields.next()?, 2)?;
        if fields.next().is_some() || h > 23 || m > 59 || s > 60 {
            return None;
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
            return None;
        }
        let padded = format!("{fraction:0<6}");
        let sub: i64 = padded.get(..6)?.parse().ok()?;
        micros += ((h * 60 + m) * 60 + s) * 1_000_000 + sub;
    }
    Some(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        let at = parse("2026-11-26T18:56:26.5Z").unwrap();
        assert_eq!(rfc3339_micros(at), "2026-11-26T18:56:26.500000Z");
        assert_eq!(
            parse("2024-02-29"),
            Some(days_from_civil(2024, 2, 29) * MICROS_PER_DAY)
        );
        assert_eq!(date(days_from_civil(2000, 3, 1)), "2000-03-01");
    }

    #[test]
    fn rejects_what_is_not_a_date() {
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "26-1-1",
            "2026-01-01T25:00:00Z",
            "now",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
