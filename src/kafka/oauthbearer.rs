//! SASL OAUTHBEARER tokens that Tributary fetches for librdkafka: OAuth 2.0 client credentials
//! (`sasl.oauthbearer.method: oidc`, as Confluent Cloud and Azure Event Hubs issue them) and
//! Amazon MSK IAM (`sasl.oauthbearer.method: aws_msk_iam`).
//!
//! librdkafka's own OIDC fetcher needs libcurl, which this build does not carry, so the
//! properties that configure a fetch are taken off the client config ([`split`]) and the token is
//! handed to librdkafka by the client context whenever it asks for one (at start and at 80 % of a
//! token's lifetime). Every client made from such a config must be polled so that it sees
//! librdkafka's refresh request: producers and consumers are; an admin client is not (its
//! rust-rdkafka wrapper serves only its own results), so [`super::admin_client`] hands it a token
//! as it is made.

use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rdkafka::client::OAuthToken;
use rdkafka::config::ClientConfig;

use super::msk_iam::{AwsCredentials, token as msk_token};
use crate::api::Secret;
use crate::oauth::{ClientCredentials, fetch_blocking};

/// Bound on one token request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The properties Tributary reads and librdkafka must not see.
const OIDC_KEYS: [&str; 5] = [
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.scope",
];
const MSK_REGION_KEY: &str = "sasl.oauthbearer.aws.region";

/// Where a client's OAUTHBEARER tokens come from.
#[derive(Debug)]
pub enum TokenSource {
    /// OAuth 2.0 client credentials from a token endpoint.
    ClientCredentials(ClientCredentials),
    /// Amazon MSK IAM: a SigV4-signed token for `region`, with the AWS credentials of the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    MskIam { region: String },
}

impl TokenSource {
    /// A fresh token for librdkafka. Errors never contain a secret.
    pub fn token(&self) -> Result<OAuthToken, String> {
        match self {
            TokenSource::ClientCredentials(c) => {
                let (token, lifetime) = fetch_blocking(c, FETCH_TIMEOUT).map_err(|e| e.to_string())?;
                let principal = jwt_subject(token.expose()).unwrap_or_else(|| c.client_id.clone());
                Ok(OAuthToken {
                    token: token.expose().to_owned(),
                    principal_name: principal,
                    lifetime_ms: now_ms() + i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2),
                })
            }
            TokenSource::MskIam { region } => {
                let credentials =
                    AwsCredentials::from_env(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
                let agent = concat!("tributary/", env!("CARGO_PKG_VERSION"));
                let token = msk_token(&credentials, region, SystemTime::now(), agent).map_err(|e| e.to_string())?;
                Ok(OAuthToken {
                    token: token.token.expose().to_owned(),
                    principal_name: token.principal,
                    lifetime_ms: token.expires_at_ms,
                })
            }
        }
    }
}

/// The token of `tokens` for librdkafka, or why there is none.
pub(crate) fn oauth_token(tokens: Option<&Arc<TokenSource>>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
    match tokens {
        Some(source) => source.token().map_err(|e| {
            tracing::warn!(error = %e, "cannot get an OAUTHBEARER token");
            e.into()
        }),
        None => Err("sasl.mechanism=OAUTHBEARER needs sasl.oauthbearer.method: oidc or aws_msk_iam".into()),
    }
}

/// Gives librdkafka `token` for client `rk`.
pub(super) fn set_token(rk: *mut rdkafka::bindings::rd_kafka_t, token: &OAuthToken) -> Result<(), String> {
    let value = CString::new(token.token.as_str()).map_err(|_| "the token contains a NUL byte".to_owned())?;
    let principal =
        CString::new(token.principal_name.as_str()).map_err(|_| "the principal contains a NUL byte".to_owned())?;
    let mut error = [0 as c_char; 512];
    // SAFETY: `rk` is a live client (the caller holds it); the strings outlive the call, which
    // copies them; no extensions are passed; `error` is a writable buffer of the given length.
    let code = unsafe {
        rdkafka::bindings::rd_kafka_oauthbearer_set_token(
            rk,
            value.as_ptr(),
            token.lifetime_ms,
            principal.as_ptr(),
            std::ptr::null_mut(),
            0,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    if code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Ok(());
    }
    // SAFETY: librdkafka writes a NUL-terminated message into `error`, and it was zeroed first.
    let message = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
    Err(format!("librdkafka refused the OAUTHBEARER token: {}", message.to_string_lossy()))
}

/// Takes Tributary's OAUTHBEARER properties off `config`: the config librdkafka gets, and the
/// token source when the config names one. Errors name the missing or unknown property.
pub fn split(config: &ClientConfig) -> Result<(ClientConfig, Option<Arc<TokenSource>>), String> {
    let Some(method) = config.get("sasl.oauthbearer.method").map(str::to_ascii_lowercase) else {
        return Ok((config.clone(), None));
    };
    let mut rest = config.clone();
    let source = match method.as_str() {
        "default" => return Ok((config.clone(), None)),
        "oidc" => {
            let required = |key: &str| {
                config.get(key).map(str::to_owned).ok_or_else(|| format!("sasl.oauthbearer.method=oidc needs {key}"))
            };
            TokenSource::ClientCredentials(ClientCredentials {
                token_endpoint_url: required("sasl.oauthbearer.token.endpoint.url")?,
                client_id: required("sasl.oauthbearer.client.id")?,
                client_secret: Secret::new(required("sasl.oauthbearer.client.secret")?),
                scope: config.get("sasl.oauthbearer.scope").map(str::to_owned),
            })
        }
        "aws_msk_iam" => {
            let region = config
                .get(MSK_REGION_KEY)
                .map(str::to_owned)
                .ok_or_else(|| format!("sasl.oauthbearer.method=aws_msk_iam needs {MSK_REGION_KEY}"))?;
            TokenSource::MskIam { region }
        }
        other => {
            return Err(format!("sasl.oauthbearer.method: `{other}` is not one of default, oidc, aws_msk_iam"));
        }
    };
    for key in OIDC_KEYS.iter().chain([&MSK_REGION_KEY]) {
        rest.remove(key);
    }
    if rest.get("sasl.mechanism").or_else(|| rest.get("sasl.mechanisms")).is_none() {
        rest.set("sasl.mechanism", "OAUTHBEARER");
    }
    Ok((rest, Some(Arc::new(source))))
}

/// The `sub` claim of a JWT, when the token is one.
fn jwt_subject(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in pairs {
            c.set(*k, *v);
        }
        c
    }

    #[test]
    fn oidc_properties_are_taken_off_what_librdkafka_sees() {
        let c = config(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.method", "oidc"),
            ("sasl.oauthbearer.client.id", "svc"),
            ("sasl.oauthbearer.client.secret", "s3cret"),
            ("sasl.oauthbearer.token.endpoint.url", "https://idp.example/token"),
            ("sasl.oauthbearer.scope", "kafka"),
        ]);
        let (rest, source) = split(&c).expect("split");
        for key in OIDC_KEYS {
            assert_eq!(rest.get(key), None, "{key} is not for librdkafka");
        }
        assert_eq!(rest.get("sasl.mechanism"), Some("OAUTHBEARER"));
        let Some(TokenSource::ClientCredentials(c)) = source.as_deref() else { panic!("client credentials") };
        assert_eq!((c.client_id.as_str(), c.scope.as_deref()), ("svc", Some("kafka")));
        assert!(!format!("{source:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_property_is_named() {
        let c = config(&[("sasl.oauthbearer.method", "oidc"), ("sasl.oauthbearer.client.id", "svc")]);
        let error = split(&c).expect_err("incomplete");
        assert!(error.contains("sasl.oauthbearer.token.endpoint.url"), "{error}");
        let c = config(&[("sasl.oauthbearer.method", "aws_msk_iam")]);
        assert!(split(&c).expect_err("no region").contains(MSK_REGION_KEY));
        let c = config(&[("sasl.oauthbearer.method", "kerberos")]);
        assert!(split(&c).expect_err("unknown").contains("kerberos"));
    }

    #[test]
    fn other_configs_pass_through() {
        let c = config(&[("security.protocol", "SSL")]);
        let (rest, source) = split(&c).expect("split");
        assert!(source.is_none());
        assert_eq!(rest.get("security.protocol"), Some("SSL"));
    }

    #[test]
    fn an_msk_token_is_made_from_the_environment() {
        let source = TokenSource::MskIam { region: "eu-west-1".into() };
        // Without credentials in the environment the error names what is missing.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            let error = source.token().err().expect("no credentials");
            assert!(error.contains("AWS_ACCESS_KEY_ID"), "{error}");
        }
    }

    #[test]
    fn the_principal_is_the_jwt_subject() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"svc-42","exp":1}"#);
        assert_eq!(jwt_subject(&format!("eyJhbGciOiJub25lIn0.{payload}.")), Some("svc-42".to_owned()));
        assert_eq!(jwt_subject("opaque-token"), None);
    }
}
