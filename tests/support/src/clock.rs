//! The wall clock as the simulator and the connector count it: milliseconds since the Unix epoch.

/// Now, in milliseconds since the Unix epoch: the simulated org's own clock.
pub fn now_ms() -> i64 {
    genesys_cloud_sim::Clock::now_ms()
}
