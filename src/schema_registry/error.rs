//! What can go wrong talking to a schema registry. Messages never contain credentials.

/// An error from [`RegistryClient`](super::RegistryClient).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Connection refused, timeout, or 5xx answers on every attempt.
    #[error("schema registry {url} unavailable for {operation} after {attempts} attempt(s): {reason}")]
    Unavailable { url: String, operation: String, attempts: u32, reason: String },

    /// 401 or 403.
    #[error("schema registry {url} refused {operation}: HTTP {status} (check the registry credentials)")]
    Auth { url: String, operation: String, status: u16 },

    /// 409: the schema breaks the subject's compatibility level.
    #[error("schema `{schema}` is incompatible with subject `{subject}`: {message}")]
    Incompatible { subject: String, schema: String, message: String },

    /// 422 with 42201: the registry does not accept the schema text.
    #[error("schema registry rejected schema `{schema}` for subject `{subject}` as invalid: {message}")]
    InvalidSchema { subject: String, schema: String, message: String },

    /// 404 with 40401.
    #[error("subject `{subject}` not found in the schema registry")]
    SubjectNotFound { subject: String },

    /// 404 with 40402.
    #[error("version {version} of subject `{subject}` not found in the schema registry")]
    VersionNotFound { subject: String, version: String },

    /// 404 with 40403 from `GET /schemas/ids/{id}`.
    #[error("schema id {id} not found in the schema registry")]
    SchemaIdNotFound { id: u32 },

    /// Any other error answer.
    #[error("schema registry answered HTTP {status} to {operation}: {message} (error code {code})")]
    Rejected { operation: String, status: u16, code: i64, message: String },

    /// A success answer that is not the JSON we expect.
    #[error("schema registry sent an unexpected answer to {operation}: {detail}")]
    BadResponse { operation: String, detail: String },

    /// The configured URL cannot be used.
    #[error("invalid schema registry url `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    /// The registry's TLS certificate is not trusted.
    #[error(
        "schema registry {url}: its TLS certificate is not trusted ({reason}); set schema_registry.ssl.ca.location \
         to the CA certificate that signed it"
    )]
    Tls { url: String, reason: String },

    /// No bearer token could be had from the token endpoint.
    #[error("cannot get a schema registry token: {0}")]
    Token(crate::oauth::TokenError),

    /// The HTTP client could not be built.
    #[error("cannot build the schema registry http client: {0}")]
    Client(String),
}

impl RegistryError {
    /// Whether retrying later may succeed (the registry was unreachable or failing).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}
