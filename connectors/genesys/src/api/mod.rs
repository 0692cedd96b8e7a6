//! Typed calls to the Genesys Cloud endpoints the connector uses, on top of [`RestClient`].
//!
//! Models hold only the fields the connector reads; unknown fields are ignored, so Genesys can
//! add fields without breaking us. Analytics rows stay raw `serde_json::Value`s because the
//! record mapper keeps the original JSON. Paths and shapes follow reference §1 (channels and
//! subscriptions) and §4 (routing queues, analytics details query and jobs, conversations). Every
//! method inherits the retry, budget and error contract of [`RestClient::send`].

mod analytics;
mod channels;
pub mod iso;
mod jobs;
mod queues;

pub use self::analytics::{DetailsPage, DetailsQuery};
pub use self::channels::{Channel, ChannelScope, ChannelTopic, ListedChannel, TopicPermissions, TopicState};
pub use self::jobs::{JobPage, JobQuery, JobState, JobStatus};
pub use self::queues::Queue;
use crate::rest::{RestClient, RestError};

/// Genesys Cloud's REST API for one tenant. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GenesysApi {
    rest: RestClient,
}

impl GenesysApi {
    pub fn new(rest: RestClient) -> Self {
        Self { rest }
    }

    /// The underlying client (its token source, budget and stats).
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    /// `GET /api/v2/conversations/{id}`: the conversation as it is now, or `None` if Genesys does
    /// not know it (404).
    pub async fn get_conversation(&self, id: &str) -> Result<Option<serde_json::Value>, RestError> {
        let path = format!("/api/v2/conversations/{}", crate::rest::path_segment(id));
        match self.rest.get_json(crate::rest::Request::new(reqwest::Method::GET, path)).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
