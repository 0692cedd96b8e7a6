//! How a caller should treat a failed call: the one classification auth and REST share.

/// How a caller should treat an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retrying will not help until someone changes the configuration or the OAuth client's
    /// grants: the connector should stop with a FAILED status that shows the message.
    Fatal,
    /// Transient (rate limit, server error, network): try again later, with backoff.
    Retriable,
    /// A definite answer for this request (not found, bad request, unexpected body); neither
    /// worth repeating nor a reason to stop the connector.
    Permanent,
}
