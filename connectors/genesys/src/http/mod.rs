//! HTTP plumbing shared by the auth and REST clients: retry backoff, what Genesys puts in
//! response headers and error bodies, and how a caller should treat a failure. A leaf layer: it
//! knows neither tokens nor the REST client.

pub mod backoff;
pub mod body;
mod class;
pub mod headers;

pub use self::backoff::Backoff;
pub use self::class::ErrorClass;
pub use self::headers::ServerBudget;
