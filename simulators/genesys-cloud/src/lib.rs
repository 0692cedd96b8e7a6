//! A fake Genesys Cloud org: OAuth client credentials, notification channels and subscriptions,
//! the notification WebSocket, a conversation traffic generator, the analytics conversation
//! details API, rate limits, scripted and random faults, a time scale, and a ground-truth log
//! with a verifier.
//!
//! Built from `reference/genesys-api.md` only; section numbers (§) in the docs refer to it.
//! Where the reference marks a behaviour [INF] or [UNK], the choice made is stated where it is
//! implemented and collected in the crate README.
//!
//! ```no_run
//! # async fn demo() -> Result<(), genesys_cloud_sim::SimError> {
//! use genesys_cloud_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig { time_scale: 60.0, ..SimConfig::default() }).await?;
//! println!("{}", sim.connection_info());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod analytics;
mod auth;
mod channels;
pub mod clock;
pub mod config;
mod conversation;
pub mod duration;
mod error;
pub mod faults;
mod handle;
mod injector;
pub mod models;
mod org;
mod query;
mod queues;
mod ratelimit;
mod server;
mod socket;
mod standalone;
mod subscriptions;
mod topics;
mod traffic;
pub mod truth;
pub mod verify;
mod wsframe;

pub use clock::Clock;
pub use config::{
    AnalyticsConfig, ClientConfig, DurationRange, IdleAction, IntervalSemantics, ListenConfig, NotificationsConfig,
    QueueSpec, QueuesConfig, SimConfig, TrafficConfig, TruthConfig,
};
pub use error::{Result, SimError};
pub use faults::{
    BadFrameKind, EndpointClass, Fault, FaultKind, FaultRecord, FaultSource, FaultsConfig, RandomFaults,
    ScheduledFault, Target,
};
pub use handle::{ChannelInfo, ClientCredentials, QueueInfo, SimHandle, SimStats, Simulator};
pub use ratelimit::{ClientStats, EarlyRequest, IN_FLIGHT_GRACE, ThrottleEvent};
pub use standalone::{load_config, run_standalone};
pub use topics::{QUEUE_TOPIC_PERMISSION, queue_topic};
pub use truth::{ConversationTruth, Delivery, Truth, TruthSnapshot};
pub use verify::{ObservedRecord, RecordSource, VerifyOptions, VerifyReport, verify};
