//! Dates as Elasticsearch reads and writes them: parsing Auth0's `date`,
//! the time embedded in a `log_id`, epoch milliseconds, and the
//! millisecond-precision UTC text of every date field we write.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::coerce::to_long;
use super::json::Value;

/// Epoch milliseconds as an Elasticsearch date.
pub fn unix_ms(millis: i64) -> Option<String> {
    from_unix_ms(millis).map(format_timestamp)
}

/// Epoch milliseconds as a time in years 1–9999 (what ES dates and our
/// formatting take).
pub fn from_unix_ms(millis: i64) -> Option<OffsetDateTime> {
    let nanos = i128::from(millis).checked_mul(1_000_000)?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .filter(|time| (1..=9999).contains(&time.year()))
}

/// `YYYY-MM-DDThh:mm:ss[.f…](Z|±hh:mm)` with an upper-case `T` and `Z`,
/// which `strict_date_optional_time` parses (callers have parsed it): no
/// surrounding white space, seconds up to 59, at most 9 fraction digits,
/// an offset of at most 18 hours (Java's limits).
pub fn is_strict_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape = bytes.len() >= 20
        && text.trim() == text
        && bytes.get(10) == Some(&b'T')
        && !bytes.iter().any(|&b| b == b't' || b == b'z' || b == b' ');
    if !shape
        || bytes
            .get(17..19)
            .is_none_or(|seconds| seconds > b"59".as_slice())
    {
        return false;
    }
    let fraction = match bytes.get(19) {
        Some(b'.') => bytes[20..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count(),
        _ => 0,
    };
    if fraction > 9 {
        return false;
    }
    match bytes.last() {
        Some(b'Z') => true,
        _ => {
            let offset = &bytes[bytes.len().saturating_sub(6)..];
            matches!(offset.first(), Some(b'+' | b'-'))
                && offset
                    .get(1..3)
                    .is_some_and(|hours| hours < b"18".as_slice())
                || offset.get(1..6) == Some(b"18:00".as_slice())
        }
    }
}

/// `date` as Elasticsearch's ISO-8601 parser reads it: RFC 3339, or a local
/// date-time or date taken as UTC; a number is epoch milliseconds.
pub fn parse_date(value: &Value<'_>) -> Result<OffsetDateTime, String> {
    let date = parse_any_date(value)?;
    // `checked_`: a year-9999 date with a negative offset is year 10000 in
    // UTC, which `to_offset` panics on.
    match date.checked_to_offset(UtcOffset::UTC) {
        Some(utc) if (1..=9999).contains(&utc.year()) => Ok(utc),
        _ => Err(format!("`date` `{value}` is out of range")),
    }
}

fn parse_any_date(value: &Value<'_>) -> Result<OffsetDateTime, String> {
    match value {
        Value::String(text) => {
            let text = text.trim();
            if let Ok(date) = OffsetDateTime::parse(text, &Rfc3339) {
                return Ok(date);
            }
            let local = format_description!(
                version = 2,
                "[year]-[month]-[day][first [T] [ ]][hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
            );
            if let Ok(date) = PrimitiveDateTime::parse(text, &local) {
                return Ok(date.assume_utc());
            }
            let day = format_description!("[year]-[month]-[day]");
            if let Ok(date) = Date::parse(text, &day) {
                return Ok(date.midnight().assume_utc());
            }
            Err(format!("`date` `{text}` is not an ISO-8601 date"))
        }
        Value::Number(_) => to_long(value)
            .and_then(from_unix_ms)
            .ok_or_else(|| format!("`date` `{value}` is not a time in milliseconds")),
        other => Err(format!("`date` `{other}` is not a date")),
    }
}

/// The time a `log_id` embeds: `900` + `YYYYMMDDhhmmss` + digits (UTC).
pub fn log_id_time(log_id: &str) -> Option<OffsetDateTime> {
    let digits = log_id.strip_prefix("900")?.get(..14)?;
    let number = |range: std::ops::Range<usize>| digits.get(range)?.parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(number(4..6)?).ok()?).ok()?;
    let date = Date::from_calendar_date(
        i32::try_from(number(0..4)?).ok()?,
        month,
        u8::try_from(number(6..8)?).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms(
        u8::try_from(number(8..10)?).ok()?,
        u8::try_from(number(10..12)?).ok()?,
        u8::try_from(number(12..14)?).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// `2026-11-21T10:00:00.123Z`: millisecond precision, UTC, as Elasticsearch
/// writes dates.
pub fn format_timestamp(timestamp: OffsetDateTime) -> String {
    let mut out = String::with_capacity(24);
    push_timestamp(&mut out, timestamp);
    out
}

/// Appends [`format_timestamp`]'s text as a JSON string (quoted).
pub fn push_quoted_timestamp(out: &mut String, timestamp: OffsetDateTime) {
    out.push('"');
    push_timestamp(out, timestamp);
    out.push('"');
}

fn push_timestamp(out: &mut String, timestamp: OffsetDateTime) {
    // Callers pass dates checked to be in range in UTC; should one not be,
    // its own offset's fields are written rather than panicking.
    let utc = timestamp
        .checked_to_offset(UtcOffset::UTC)
        .unwrap_or(timestamp);
    let Ok(year) = u32::try_from(utc.year()) else {
        out.push_str(&format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.millisecond()
        ));
        return;
    };
    push_padded(out, year, 4);
    out.push('-');
    push_padded(out, u32::from(u8::from(utc.month())), 2);
    out.push('-');
    push_padded(out, u32::from(utc.day()), 2);
    out.push('T');
    push_padded(out, u32::from(utc.hour()), 2);
    out.push(':');
    push_padded(out, u32::from(utc.minute()), 2);
    out.push(':');
    push_padded(out, u32::from(utc.second()), 2);
    out.push('.');
    push_padded(out, u32::from(utc.millisecond()), 3);
    out.push('Z');
}

fn push_padded(out: &mut String, value: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let text = buffer.format(value);
    for _ in text.len()..width {
        out.push('0');
    }
    out.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_id_times() {
        let time = |id: &str| log_id_time(id).map(format_timestamp);
        assert_eq!(
            time("90020211104001515271334544008635532534914988032684720226").as_deref(),
            Some("2021-11-04T00:15:15.000Z")
        );
        for bad in [
            "",
            "900",
            "9002021110400151",
            "80020211104001515271",
            "90020211304001515271",
            "900202111040015x5271",
        ] {
            assert_eq!(time(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_milliseconds_in_utc() {
        let time = OffsetDateTime::from_unix_timestamp_nanos(1_635_909_928_007_000_000).unwrap();
        assert_eq!(format_timestamp(time), "2021-11-03T03:25:28.007Z");
        assert_eq!(unix_ms(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(unix_ms(-62_135_596_800_001), None); // before year 1
        assert!(is_strict_date("2021-11-03T03:25:28Z"));
        assert!(!is_strict_date("2021-11-03 03:25:28Z"));
        assert!(is_strict_date("2021-11-03T03:25:28.123456789+18:00"));
        assert!(is_strict_date("2021-11-03T03:25:28-05:30"));
        for rejected in [
            "2021-11-03T03:25:28Z\n",
            "2021-11-03T03:25:28+19:00",
            "2021-11-03T03:25:28+18:01",
            "2021-11-03T03:25:28.1234567890Z",
            "2021-11-03T23:59:60Z",
        ] {
            assert!(!is_strict_date(rejected), "{rejected:?}");
        }
    }
}
