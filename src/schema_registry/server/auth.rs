//! Optional HTTP basic or bearer auth for the embedded registry, so that clients' auth can be
//! tested.

use axum::http::HeaderValue;
use base64::Engine as _;

use crate::schema_registry::Secret;
use crate::schema_registry::client::BasicAuth;

/// The one `Authorization` value the server accepts.
pub(crate) struct ExpectedAuth {
    header: Vec<u8>,
}

impl ExpectedAuth {
    pub fn basic(auth: &BasicAuth) -> Self {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", auth.username, auth.password.expose()));
        Self { header: format!("Basic {token}").into_bytes() }
    }

    pub fn bearer(token: &Secret) -> Self {
        Self { header: format!("Bearer {}", token.expose()).into_bytes() }
    }

    /// Compares in time independent of where the first difference is.
    pub fn accepts(&self, given: Option<&HeaderValue>) -> bool {
        let Some(given) = given.map(HeaderValue::as_bytes) else { return false };
        given.len() == self.header.len() && given.iter().zip(&self.header).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_configured_credentials() {
        let expected = ExpectedAuth::basic(&BasicAuth { username: "u".into(), password: Secret::new("p") });
        // base64("u:p") == "dTpw"
        assert!(expected.accepts(Some(&HeaderValue::from_static("Basic dTpw"))));
        assert!(!expected.accepts(Some(&HeaderValue::from_static("Basic dTpx"))));
        assert!(!expected.accepts(None));
        let expected = ExpectedAuth::bearer(&Secret::new("tok"));
        assert!(expected.accepts(Some(&HeaderValue::from_static("Bearer tok"))));
        assert!(!expected.accepts(Some(&HeaderValue::from_static("Basic dTpw"))));
    }
}
