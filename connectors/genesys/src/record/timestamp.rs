//! ISO-8601 date-times as Genesys writes them, to epoch milliseconds.

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

/// Parses an ISO-8601 date-time into milliseconds since the Unix epoch.
///
/// Accepts what Genesys sends (`2020-06-12T13:22:13.335Z`), with or without fractional seconds,
/// with `Z` or a numeric offset (`+02:00`). A date-time without any offset is read as UTC, the
/// convention of Genesys intervals. Sub-millisecond digits are truncated toward the past.
/// Returns `None` for anything else.
pub fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let nanos = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .map(OffsetDateTime::unix_timestamp_nanos)
        .or_else(|_| PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).map(|t| t.assume_utc().unix_timestamp_nanos()))
        .ok()?;
    i64::try_from(nanos.div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp_ms;

    #[test]
    fn genesys_forms_parse_to_epoch_ms() {
        let ms = 1_591_968_133_335;
        assert_eq!(parse_timestamp_ms("2020-06-12T13:22:13.335Z"), Some(ms));
        assert_eq!(parse_timestamp_ms("2020-06-12T13:22:13Z"), Some(ms - 335));
        assert_eq!(parse_timestamp_ms("2020-06-12T15:22:13.335+02:00"), Some(ms));
        assert_eq!(parse_timestamp_ms("2020-06-12T13:22:13.3356789Z"), Some(ms));
        assert_eq!(parse_timestamp_ms("2020-06-12T13:22:13.335"), Some(ms));
        assert_eq!(parse_timestamp_ms(" 2020-06-12T13:22:13.335Z "), Some(ms));
    }

    #[test]
    fn before_the_epoch_truncates_toward_the_past() {
        assert_eq!(parse_timestamp_ms("1969-12-31T23:59:59.9995Z"), Some(-1));
    }

    #[test]
    fn garbage_is_none() {
        for text in ["", "yesterday", "2020-13-01T00:00:00Z", "2020-06-12", "13:22:13Z", "1591968133335"] {
            assert_eq!(parse_timestamp_ms(text), None, "{text}");
        }
    }
}
