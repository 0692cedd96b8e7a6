//! Access tokens: the record of an issued token, whether it is still usable, and the caller a
//! valid token names.

use tokio::time::Instant;

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub client_id: String,
    pub expires: Instant,
    pub revoked: bool,
}

/// Who is calling: resolved from the bearer token.
#[derive(Debug, Clone)]
pub(crate) struct AuthCtx {
    pub client_id: String,
    pub token: String,
}

/// Whether a token is still usable (exists, not revoked, not expired).
pub(crate) fn token_valid(rec: Option<&TokenRec>, now: Instant) -> bool {
    matches!(rec, Some(r) if !r.revoked && now < r.expires)
}
