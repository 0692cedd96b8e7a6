//! The ISO-8601 forms Genesys uses, to and from epoch milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// `2025-01-01T10:00:00.000Z` (UTC, milliseconds). Out-of-range values are clamped to the years
/// 0000–9999 rather than failing, since they can only come from a bug upstream.
pub fn iso_ms(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    let ms = ms.clamp(-62_167_219_200_000, 253_402_300_799_999);
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

/// An ISO-8601 interval `start/end` as the analytics queries take it.
pub fn interval(from_ms: i64, to_ms: i64) -> String {
    format!("{}/{}", iso_ms(from_ms), iso_ms(to_ms))
}

/// Parses an RFC 3339 date-time (`2020-08-12T12:41:54.707Z`) into epoch milliseconds.
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(iso_ms(1_735_725_600_000), "2025-01-01T10:00:00.000Z");
        assert_eq!(interval(0, 1_500), "1970-01-01T00:00:00.000Z/1970-01-01T00:00:01.500Z");
        assert_eq!(parse_iso_ms("2020-08-12T12:41:54.707Z"), Some(1_597_236_114_707));
        assert_eq!(parse_iso_ms("2020-08-12T14:41:54.707+02:00"), Some(1_597_236_114_707));
        assert_eq!(parse_iso_ms("yesterday"), None);
    }
}
