//! Amazon MSK IAM authentication over SASL OAUTHBEARER.
//!
//! MSK accepts, as the OAUTHBEARER token, an AWS Signature Version 4 *presigned* URL for the
//! `kafka-cluster:Connect` action, base64url-encoded without padding:
//!
//! ```text
//! https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect
//!     &X-Amz-Algorithm=AWS4-HMAC-SHA256
//!     &X-Amz-Credential=<access key id>%2F<yyyymmdd>%2F<region>%2Fkafka-cluster%2Faws4_request
//!     &X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-Expires=900
//!     [&X-Amz-Security-Token=<session token>]
//!     &X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>
//!     &User-Agent=<agent>
//! ```
//!
//! The request signed is `GET /` with `host` as the only signed header and the SHA-256 of the
//! empty string as the payload hash, under the service name `kafka-cluster`. `User-Agent` is
//! appended after signing and is not covered by the signature.
//!
//! Everything is computed here (HMAC-SHA256 included, over `sha2`); no network access, no
//! clock: the caller passes the signing time, as a [`SystemTime`] or anything that converts
//! into one (`time::OffsetDateTime` does). Secrets live in [`Secret`]s and appear in no `Debug`
//! output and no error.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::api::Secret;

/// How long an MSK token is valid: the 900 seconds AWS's own MSK signers use.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The longest lifetime SigV4 allows for a presigned URL: seven days.
const MAX_PRESIGN_SECS: u64 = 7 * 24 * 60 * 60;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const MSK_SERVICE: &str = "kafka-cluster";
const MSK_ACTION: &str = "kafka-cluster:Connect";
const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// AWS credentials used to sign. `Debug` shows the access key id (an identifier, not a
/// secret) and `[redacted]` for the secret access key and the session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Present for temporary credentials (STS, an assumed role, SSO); signed into the URL as
    /// `X-Amz-Security-Token`.
    pub session_token: Option<Secret>,
}

/// A token ready to hand to librdkafka's OAUTHBEARER token refresh.
///
/// `Debug` shows `[redacted]` for the token: the token is a bearer credential until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MskToken {
    /// The base64url (no padding) encoding of the presigned URL.
    pub token: Secret,
    /// When the token stops being accepted: the signing time (whole seconds) plus 900 s, in
    /// milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// The principal name librdkafka reports for the token: the access key id.
    pub principal: String,
}

/// Why no token or presigned URL could be made. Never contains a secret access key, a session
/// token or a signature; at most the name of an environment variable or a field, and the region
/// as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MskIamError {
    #[error("environment variable {0} is not set or is empty")]
    MissingEnv(&'static str),
    #[error("AWS credentials are incomplete: {0} is empty")]
    EmptyCredential(&'static str),
    #[error("AWS region is required (for example `us-east-1`)")]
    MissingRegion,
    #[error("{region:?} is not an AWS region: expected lowercase letters, digits and dashes")]
    InvalidRegion { region: String },
    #[error("a presigned URL must be valid for 1 second to 7 days, not {seconds} s")]
    InvalidExpiry { seconds: u64 },
    #[error("signing time is outside the years 1970 to 9999")]
    InvalidTime,
}

impl AwsCredentials {
    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, optionally, `AWS_SESSION_TOKEN`
    /// through `env` (pass `|name| std::env::var(name).ok()` for the process environment).
    ///
    /// A variable set to the empty string counts as unset. The first two are required: the
    /// error names the one missing, never a value. An unset or empty session token gives
    /// `session_token: None`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, MskIamError> {
        let read = |name: &str| env(name).filter(|value| !value.is_empty());
        let access_key_id = read(ENV_ACCESS_KEY_ID).ok_or(MskIamError::MissingEnv(ENV_ACCESS_KEY_ID))?;
        let secret_access_key =
            read(ENV_SECRET_ACCESS_KEY).map(Secret::new).ok_or(MskIamError::MissingEnv(ENV_SECRET_ACCESS_KEY))?;
        let session_token = read(ENV_SESSION_TOKEN).map(Secret::new);
        Ok(Self { access_key_id, secret_access_key, session_token })
    }

    fn check(&self) -> Result<(), MskIamError> {
        if self.access_key_id.trim().is_empty() {
            return Err(MskIamError::EmptyCredential("access_key_id"));
        }
        if self.secret_access_key.is_empty() {
            return Err(MskIamError::EmptyCredential("secret_access_key"));
        }
        Ok(())
    }
}

/// The SigV4-presigned MSK connect URL for `region`, signed at `now` and valid for `expires`
/// (whole seconds; fractions are dropped), without the `User-Agent` parameter.
///
/// `now` is taken in UTC, truncated to whole seconds. Fails when the credentials have an empty
/// access key id or secret, the region is empty or not of the form `us-east-1` (lowercase
/// letters, digits, dashes), `expires` is under 1 second or over 7 days, or `now` is outside the
/// years 1970 to 9999.
///
/// The URL is itself a credential until it expires: do not log it.
pub fn presign(
    credentials: &AwsCredentials,
    region: &str,
    now: impl Into<SystemTime>,
    expires: Duration,
) -> Result<String, MskIamError> {
    credentials.check()?;
    check_region(region)?;
    let expires_secs = expires.as_secs();
    if !(1..=MAX_PRESIGN_SECS).contains(&expires_secs) {
        return Err(MskIamError::InvalidExpiry { seconds: expires_secs });
    }
    let time = SigningTime::new(now.into())?;
    let host = msk_host(region);
    let empty_payload = sha256_hex(b"");
    let request = Presign {
        service: MSK_SERVICE,
        host: &host,
        path: "/",
        payload_hash: &empty_payload,
        params: &[("Action", MSK_ACTION)],
        expires_secs,
    };
    Ok(presign_url(credentials, region, &time, &request))
}

/// An MSK OAUTHBEARER token for `region`, signed at `now`, valid for [`TOKEN_LIFETIME`].
///
/// The token is the [`presign`]ed URL with `&User-Agent=<user_agent>` appended (the agent
/// URI-encoded like any query value; it is not signed), then base64url-encoded without padding.
/// Fails for the same reasons as [`presign`].
pub fn token(
    credentials: &AwsCredentials,
    region: &str,
    now: impl Into<SystemTime>,
    user_agent: &str,
) -> Result<MskToken, MskIamError> {
    let now = now.into();
    let url = presign(credentials, region, now, TOKEN_LIFETIME)?;
    let url = format!("{url}&User-Agent={}", uri_encode(user_agent));
    let signed_at = SigningTime::new(now)?.unix_seconds;
    // A lifetime of whole seconds and a year below 10000 keep this far from overflowing.
    let lifetime_ms = TOKEN_LIFETIME.as_secs() as i64 * 1000;
    Ok(MskToken {
        token: Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)),
        expires_at_ms: signed_at * 1000 + lifetime_ms,
        principal: credentials.access_key_id.clone(),
    })
}

fn msk_host(region: &str) -> String {
    format!("kafka.{region}.amazonaws.com")
}

/// A region goes into a host name and the credential scope: only `[a-z0-9-]`, not starting or
/// ending with a dash, at most 64 characters.
fn check_region(region: &str) -> Result<(), MskIamError> {
    if region.is_empty() {
        return Err(MskIamError::MissingRegion);
    }
    let well_formed = region.len() <= 64
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if well_formed { Ok(()) } else { Err(MskIamError::InvalidRegion { region: region.chars().take(64).collect() }) }
}

/// The signing time in the two forms SigV4 uses, from a UTC instant truncated to seconds.
struct SigningTime {
    /// `yyyymmdd`, for the credential scope.
    date: String,
    /// `yyyymmddThhmmssZ`, for `X-Amz-Date` and the string to sign.
    stamp: String,
    unix_seconds: i64,
}

/// 9999-12-31T23:59:59Z: a SigV4 date has four digits of year.
const LAST_SECOND: u64 = 253_402_300_799;

impl SigningTime {
    fn new(now: SystemTime) -> Result<Self, MskIamError> {
        let seconds = now.duration_since(SystemTime::UNIX_EPOCH).map_err(|_| MskIamError::InvalidTime)?.as_secs();
        if seconds > LAST_SECOND {
            return Err(MskIamError::InvalidTime);
        }
        let (year, month, day) = civil_date(seconds / 86_400);
        let of_day = seconds % 86_400;
        let date = format!("{year:04}{month:02}{day:02}");
        let stamp = format!("{date}T{:02}{:02}{:02}Z", of_day / 3600, of_day / 60 % 60, of_day % 60);
        let unix_seconds = i64::try_from(seconds).map_err(|_| MskIamError::InvalidTime)?;
        Ok(Self { date, stamp, unix_seconds })
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01, counting in
/// 400-year eras that start on a 1 March so that the leap day falls at the end of a year.
fn civil_date(days_since_epoch: u64) -> (u64, u64, u64) {
    // 1970-01-01 is day 719_468 counted from 0000-03-01.
    let days = days_since_epoch + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097; // 0..=146_096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365, from 1 March
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// A GET request to presign with SigV4 query parameters, `host` being the only signed header.
struct Presign<'a> {
    service: &'a str,
    host: &'a str,
    /// The canonical URI: absolute and already URI-encoded (`/` for MSK).
    path: &'a str,
    /// Hex SHA-256 of the payload, or `UNSIGNED-PAYLOAD` where the service allows it (S3).
    payload_hash: &'a str,
    /// The request's own query parameters, unencoded; the `X-Amz-*` ones are added.
    params: &'a [(&'a str, &'a str)],
    expires_secs: u64,
}

/// `https://<host><path>?<canonical query>&X-Amz-Signature=<hex>`. The inputs are trusted to
/// have been checked: this cannot fail.
fn presign_url(credentials: &AwsCredentials, region: &str, time: &SigningTime, request: &Presign<'_>) -> String {
    let scope = credential_scope(&time.date, region, request.service);
    let credential = format!("{}/{scope}", credentials.access_key_id);
    let expires = request.expires_secs.to_string();
    let mut params: Vec<(&str, &str)> = request.params.to_vec();
    params.extend([
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", time.stamp.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", "host"),
    ]);
    if let Some(token) = &credentials.session_token {
        params.push(("X-Amz-Security-Token", token.expose()));
    }
    let query = canonical_query(&params);
    let canonical = canonical_request("GET", request.path, &query, &[("host", request.host)], request.payload_hash);
    let to_sign = string_to_sign(&time.stamp, &scope, &canonical);
    let key = signing_key(credentials.secret_access_key.expose(), &time.date, region, request.service);
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    format!("https://{}{}?{query}&X-Amz-Signature={signature}", request.host, request.path)
}

/// SigV4's UriEncode: every byte but the unreserved `A-Z a-z 0-9 - _ . ~` becomes `%XX` with
/// uppercase hex digits; `/` is encoded too (as it is in query names and values).
fn uri_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// The canonical query string: names and values URI-encoded, pairs sorted by encoded name then
/// encoded value (byte order), joined as `name=value&…`.
fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(name, value)| (uri_encode(name), uri_encode(value))).collect();
    encoded.sort();
    let pairs: Vec<String> = encoded.into_iter().map(|(name, value)| format!("{name}={value}")).collect();
    pairs.join("&")
}

/// The canonical request: method, canonical URI, canonical query, one `name:value` line per
/// header (names lowercased, sorted; values trimmed, inner runs of spaces collapsed), a blank
/// line, the signed header names joined by `;`, and the payload hash.
fn canonical_request(method: &str, path: &str, query: &str, headers: &[(&str, &str)], payload_hash: &str) -> String {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let mut canonical_headers = String::new();
    for (name, value) in &headers {
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    let signed_headers: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    format!("{method}\n{path}\n{query}\n{canonical_headers}\n{}\n{payload_hash}", signed_headers.join(";"))
}

fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// `AWS4-HMAC-SHA256`, the timestamp, the credential scope and the hex SHA-256 of the canonical
/// request, one per line.
fn string_to_sign(stamp: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{stamp}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The SigV4 signing key: HMAC chained over the date, region, service and `aws4_request`,
/// starting from the key `AWS4<secret>`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104 with SHA-256: 64-byte blocks, keys longer than a block hashed first).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block_key.map(|b| b ^ 0x36));
    inner.update(message);
    let inner_hash = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block_key.map(|b| b ^ 0x5c));
    outer.update(inner_hash);
    outer.finalize().into()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the Unix epoch as a `SystemTime`.
    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    /// 2024-01-02T03:04:05Z.
    const MSK_NOW: u64 = 1_704_164_645;

    #[test]
    fn signing_time_formats() {
        let stamp = |seconds| SigningTime::new(at(seconds)).map(|t| (t.date, t.stamp));
        let expect = |date: &str, stamp: &str| Ok((date.to_owned(), stamp.to_owned()));
        assert_eq!(stamp(0), expect("19700101", "19700101T000000Z"));
        assert_eq!(stamp(951_782_400), expect("20000229", "20000229T000000Z"));
        assert_eq!(stamp(1_369_353_600), expect("20130524", "20130524T000000Z"));
        assert_eq!(stamp(1_440_938_160), expect("20150830", "20150830T123600Z"));
        assert_eq!(stamp(MSK_NOW), expect("20240102", "20240102T030405Z"));
        assert_eq!(stamp(1_709_251_199), expect("20240229", "20240229T235959Z"));
        assert_eq!(stamp(4_107_542_400), expect("21000301", "21000301T000000Z"));
        assert_eq!(stamp(LAST_SECOND), expect("99991231", "99991231T235959Z"));
        assert!(matches!(SigningTime::new(at(LAST_SECOND + 1)), Err(MskIamError::InvalidTime)));
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(SigningTime::new(before_epoch), Err(MskIamError::InvalidTime)));
    }

    fn hmac_hex(key: &[u8], message: &[u8]) -> String {
        hex(&hmac_sha256(key, message))
    }

    // RFC 4231 "Identifiers and Test Vectors for HMAC-SHA-224, HMAC-SHA-256, HMAC-SHA-384, and
    // HMAC-SHA-512", section 4, HMAC-SHA-256 results.
    #[test]
    fn hmac_rfc4231_case_1() {
        assert_eq!(
            hmac_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_rfc4231_case_6_key_longer_than_a_block() {
        assert_eq!(
            hmac_hex(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn hmac_key_of_exactly_a_block_is_used_as_is() {
        // A 64-byte key is not hashed; hashing it would give a different MAC.
        let key = [0x42u8; 64];
        let hashed: [u8; 32] = Sha256::digest(key).into();
        assert_ne!(hmac_sha256(&key, b"m"), hmac_sha256(&hashed, b"m"));
        // A 65-byte key is, so it equals the MAC under its own hash.
        let long = [0x42u8; 65];
        let long_hashed: [u8; 32] = Sha256::digest(long).into();
        assert_eq!(hmac_sha256(&long, b"m"), hmac_sha256(&long_hashed, b"m"));
    }

    #[test]
    fn empty_payload_hash() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        assert_eq!(uri_encode(unreserved), unreserved);
        assert_eq!(uri_encode("a/b c+d=e:f%"), "a%2Fb%20c%2Bd%3De%3Af%25");
        assert_eq!(uri_encode("é"), "%C3%A9");
        assert_eq!(uri_encode("kafka-cluster:Connect"), "kafka-cluster%3AConnect");
    }

    #[test]
    fn canonical_query_sorts_by_encoded_name_then_value() {
        assert_eq!(canonical_query(&[("b", "2"), ("a", "y"), ("A", "0"), ("a", "x")]), "A=0&a=x&a=y&b=2");
        assert_eq!(canonical_query(&[]), "");
    }

    // The signing-key example of the AWS SigV4 documentation (secret
    // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam).
    #[test]
    fn signing_key_matches_the_documented_example() {
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
        assert_eq!(hex(&key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }

    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn suite_credentials(session_token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new(SUITE_SECRET),
            session_token: session_token.map(Secret::new),
        }
    }

    fn suite_time() -> SigningTime {
        SigningTime::new(at(1_440_938_160)).expect("a valid time")
    }

    // AWS SigV4 test suite, `get-vanilla`, header variant (GET / on example.amazonaws.com,
    // signed headers host and x-amz-date).
    #[test]
    fn sigv4_suite_get_vanilla_header_signature() {
        let time = suite_time();
        let canonical = canonical_request(
            "GET",
            "/",
            "",
            &[("Host", "example.amazonaws.com"), ("X-Amz-Date", &time.stamp)],
            &sha256_hex(b""),
        );
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let scope = credential_scope(&time.date, "us-east-1", "service");
        let to_sign = string_to_sign(&time.stamp, &scope, &canonical);
        assert_eq!(
            to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let key = signing_key(SUITE_SECRET, &time.date, "us-east-1", "service");
        assert_eq!(
            hex(&hmac_sha256(&key, to_sign.as_bytes())),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// Presigns GET / on example.amazonaws.com as the test suite's query variants do (service
    /// `service`, empty payload hashed, 3600 s) and returns the URL's `X-Amz-Signature`.
    fn suite_presigned(session_token: Option<&str>, params: &[(&str, &str)]) -> String {
        let empty_payload = sha256_hex(b"");
        let request = Presign {
            service: "service",
            host: "example.amazonaws.com",
            path: "/",
            payload_hash: &empty_payload,
            params,
            expires_secs: 3600,
        };
        presign_url(&suite_credentials(session_token), "us-east-1", &suite_time(), &request)
    }

    fn signature_of(url: &str) -> &str {
        url.split("&X-Amz-Signature=").nth(1).unwrap_or_default()
    }

    // AWS SigV4 test suite, `get-vanilla`, query (presigned) variant: same shape as the MSK
    // request (GET /, host the only signed header, empty payload hashed).
    #[test]
    fn sigv4_suite_get_vanilla_presigned() {
        let url = suite_presigned(None, &[]);
        assert_eq!(
            url,
            "https://example.amazonaws.com/?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
             &X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d"
        );
        // The intermediate steps the suite publishes for it.
        let query = url.trim_start_matches("https://example.amazonaws.com/?");
        let query = query.split("&X-Amz-Signature=").next().unwrap_or_default();
        let canonical = canonical_request("GET", "/", query, &[("host", "example.amazonaws.com")], &sha256_hex(b""));
        assert_eq!(
            canonical,
            "GET\n/\nX-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
             &X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\n\
             host:example.amazonaws.com\n\nhost\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5"
        );
    }

    // AWS SigV4 test suite, `get-vanilla-with-session-token`, query variant: the session token
    // is a signed query parameter.
    #[test]
    fn sigv4_suite_get_vanilla_with_session_token_presigned() {
        let url = suite_presigned(Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"), &[]);
        assert!(url.contains(
            "&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\
             &X-Amz-SignedHeaders=host&"
        ));
        assert_eq!(signature_of(&url), "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c");
    }

    // AWS SigV4 test suite, `get-vanilla-query-order-key-case`, query variant.
    #[test]
    fn sigv4_suite_query_order_presigned() {
        let url = suite_presigned(None, &[("Param2", "value2"), ("Param1", "value1")]);
        assert!(url.starts_with("https://example.amazonaws.com/?Param1=value1&Param2=value2&X-Amz-Algorithm="));
        assert_eq!(signature_of(&url), "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5");
    }

    // AWS SigV4 test suite, `get-vanilla-query-unreserved`, query variant.
    #[test]
    fn sigv4_suite_query_unreserved_presigned() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let url = suite_presigned(None, &[(unreserved, unreserved)]);
        assert_eq!(signature_of(&url), "8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf");
    }

    // The presigned-URL example of "Authenticating Requests: Using Query Parameters (AWS
    // Signature Version 4)" in the Amazon S3 API reference: GET /test.txt on examplebucket,
    // signed 20130524T000000Z in us-east-1, valid 86400 s, S3's UNSIGNED-PAYLOAD.
    #[test]
    fn s3_documented_presigned_url() {
        let credentials = AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            session_token: None,
        };
        let time = SigningTime::new(at(1_369_353_600)).expect("a valid time");
        let request = Presign {
            service: "s3",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            payload_hash: "UNSIGNED-PAYLOAD",
            params: &[],
            expires_secs: 86400,
        };
        let url = presign_url(&credentials, "us-east-1", &time, &request);
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
        let canonical = canonical_request(
            "GET",
            "/test.txt",
            query,
            &[("host", "examplebucket.s3.amazonaws.com")],
            "UNSIGNED-PAYLOAD",
        );
        assert_eq!(
            string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &canonical),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
        );
    }

    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2Vj/EXAMPLE+session=token";

    fn msk_credentials(session_token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: Secret::new(SECRET_KEY),
            session_token: session_token.map(Secret::new),
        }
    }

    fn decode(token: &MskToken) -> String {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.token.expose()).expect("base64url");
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn msk_token_is_the_presigned_connect_url() {
        let now = at(MSK_NOW);
        let token = token(&msk_credentials(Some(SESSION_TOKEN)), "us-east-1", now, "tributary/1.2").expect("token");
        let raw = token.token.expose();
        assert!(!raw.contains(['+', '/', '=']), "base64url without padding");

        let url = decode(&token);
        let prefix = "https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect\
             &X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240102%2Fus-east-1%2Fkafka-cluster%2Faws4_request\
             &X-Amz-Date=20240102T030405Z&X-Amz-Expires=900\
             &X-Amz-Security-Token=IQoJb3JpZ2luX2Vj%2FEXAMPLE%2Bsession%3Dtoken\
             &X-Amz-SignedHeaders=host&X-Amz-Signature=";
        assert!(url.starts_with(prefix), "{url}");
        let rest = &url[prefix.len()..];
        let (signature, user_agent) = rest.split_once('&').expect("a parameter after the signature");
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(user_agent, "User-Agent=tributary%2F1.2");

        // The token wraps exactly what `presign` signs.
        let presigned = presign(&msk_credentials(Some(SESSION_TOKEN)), "us-east-1", now, TOKEN_LIFETIME).expect("url");
        assert_eq!(format!("{presigned}&User-Agent=tributary%2F1.2"), url);

        assert_eq!(token.expires_at_ms, (MSK_NOW as i64 + 900) * 1000);
        assert_eq!(token.principal, "AKIAIOSFODNN7EXAMPLE");
    }

    #[test]
    fn msk_token_without_session_token() {
        let now = at(MSK_NOW);
        let url = decode(&token(&msk_credentials(None), "eu-west-1", now, "t").expect("token"));
        assert!(url.starts_with("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&"));
        assert!(url.contains("%2Feu-west-1%2Fkafka-cluster%2Faws4_request&"));
        assert!(!url.contains("X-Amz-Security-Token"));
        assert!(url.contains("&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature="));
        assert!(url.ends_with("&User-Agent=t"));
    }

    #[test]
    fn msk_signature_is_fixed_for_fixed_inputs_and_covers_the_session_token() {
        let now = at(MSK_NOW);
        let sign = |session_token| {
            let url = presign(&msk_credentials(session_token), "us-east-1", now, TOKEN_LIFETIME).expect("url");
            signature_of(&url).to_owned()
        };
        // The same request signed by botocore's SigV4QueryAuth (service kafka-cluster,
        // us-east-1, 900 s, Action=kafka-cluster:Connect), the signer AWS's Python MSK library
        // builds on.
        assert_eq!(sign(None), "e0def5448d3460b79e92013f427f446329f5b09c12883e2ac9fd2a4034e036ef");
        assert_eq!(sign(Some(SESSION_TOKEN)), "6f5d053d0552072fd4eb88996362b071c3e041aae8e0220068ffa7ec2e0b2e48");
        assert_ne!(sign(Some(SESSION_TOKEN)), sign(Some("another")));
    }

    #[test]
    fn sub_seconds_are_dropped() {
        // 2024-01-01T23:30:00Z, and 999 ms later.
        let whole = at(1_704_151_800);
        let later = whole + Duration::from_millis(999);
        let url = presign(&msk_credentials(None), "us-east-1", later, TOKEN_LIFETIME);
        assert_eq!(url, presign(&msk_credentials(None), "us-east-1", whole, TOKEN_LIFETIME));
        assert!(url.expect("url").contains("&X-Amz-Date=20240101T233000Z&"));
        let token = token(&msk_credentials(None), "us-east-1", later, "t").expect("token");
        assert_eq!(token.expires_at_ms, (1_704_151_800 + 900) * 1000);
    }

    #[test]
    fn presign_lifetime_must_be_one_second_to_seven_days() {
        let now = at(MSK_NOW);
        let presign_for = |secs| presign(&msk_credentials(None), "us-east-1", now, Duration::from_secs(secs));
        assert_eq!(presign_for(0), Err(MskIamError::InvalidExpiry { seconds: 0 }));
        assert_eq!(presign_for(604_801), Err(MskIamError::InvalidExpiry { seconds: 604_801 }));
        assert!(presign_for(604_800).expect("seven days").contains("&X-Amz-Expires=604800&"));
        assert!(presign_for(1).is_ok());
    }

    #[test]
    fn region_is_required_and_checked() {
        let now = at(MSK_NOW);
        let check = |region| token(&msk_credentials(None), region, now, "t").map(|_| ());
        assert_eq!(check(""), Err(MskIamError::MissingRegion));
        for bad in ["us east 1", "US-EAST-1", "us-east-1/x", "evil.com#", "-us-east-1", "us-east-1-", "ü"] {
            assert_eq!(check(bad), Err(MskIamError::InvalidRegion { region: bad.into() }), "{bad}");
        }
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "ap-southeast-5"] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn credentials_must_not_be_empty() {
        let now = at(MSK_NOW);
        let mut credentials = msk_credentials(None);
        credentials.access_key_id = " ".into();
        assert_eq!(token(&credentials, "us-east-1", now, "t"), Err(MskIamError::EmptyCredential("access_key_id")));
        let mut credentials = msk_credentials(None);
        credentials.secret_access_key = Secret::default();
        assert_eq!(
            presign(&credentials, "us-east-1", now, TOKEN_LIFETIME),
            Err(MskIamError::EmptyCredential("secret_access_key"))
        );
    }

    fn env_of(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let vars = vars.to_vec();
        move |name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn credentials_from_env() {
        let credentials = AwsCredentials::from_env(env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ]))
        .expect("credentials");
        assert_eq!(credentials, msk_credentials(Some(SESSION_TOKEN)));

        let without_token = AwsCredentials::from_env(env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", ""),
        ]))
        .expect("credentials");
        assert_eq!(without_token.session_token, None);
    }

    #[test]
    fn credentials_from_env_name_the_missing_variable_only() {
        let missing_secret = AwsCredentials::from_env(env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ]));
        assert_eq!(missing_secret, Err(MskIamError::MissingEnv("AWS_SECRET_ACCESS_KEY")));
        let message = missing_secret.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("AWS_SECRET_ACCESS_KEY"), "{message}");
        assert!(!message.contains(SESSION_TOKEN) && !message.contains("AKIAIOSFODNN7EXAMPLE"), "{message}");

        let missing_id =
            AwsCredentials::from_env(env_of(&[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)]));
        assert_eq!(missing_id, Err(MskIamError::MissingEnv("AWS_ACCESS_KEY_ID")));
        let message = missing_id.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!message.contains(SECRET_KEY), "{message}");
    }

    #[test]
    fn secrets_never_show_in_debug_or_errors() {
        let credentials = msk_credentials(Some(SESSION_TOKEN));
        let now = at(MSK_NOW);
        let token = token(&credentials, "us-east-1", now, "t").expect("token");
        let signature = signature_of(&decode(&token)).split('&').next().unwrap_or_default().to_owned();
        let secrets = [SECRET_KEY, SESSION_TOKEN, token.token.expose(), signature.as_str()];

        let mut shown = vec![format!("{credentials:?}"), format!("{credentials:#?}"), format!("{token:?}")];
        let mut bad_credentials = credentials.clone();
        bad_credentials.access_key_id = String::new();
        let errors = [
            presign(&credentials, "", now, TOKEN_LIFETIME),
            presign(&credentials, "not a region", now, TOKEN_LIFETIME),
            presign(&credentials, "us-east-1", now, Duration::ZERO),
            presign(&bad_credentials, "us-east-1", now, TOKEN_LIFETIME),
        ];
        for error in errors {
            let error = error.expect_err("an error");
            shown.push(error.to_string());
            shown.push(format!("{error:?}"));
        }
        for text in &shown {
            for secret in secrets {
                assert!(!text.contains(secret), "{text}");
            }
        }
        assert!(shown[0].contains("[redacted]") && shown[2].contains("[redacted]"));
        assert!(shown[0].contains("AKIAIOSFODNN7EXAMPLE"));
    }
}
