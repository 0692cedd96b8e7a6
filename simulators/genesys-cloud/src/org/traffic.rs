//! What the conversation generator shares with conversations started through the handle: the
//! seeded random generators and the pause switch.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use rand::SeedableRng;
use rand::rngs::StdRng;

/// State shared by the generator and handle-started conversations.
pub(crate) struct TrafficShared {
    /// Arrivals and conversation plans: drawn in arrival order, so a seed reproduces the traffic.
    pub rng: Mutex<StdRng>,
    /// Analytics landing jitter: drawn at publish time, kept apart so it cannot perturb plans.
    pub jitter_rng: Mutex<StdRng>,
    /// Arrivals are skipped while set (conversations in progress continue).
    pub paused: AtomicBool,
}

impl TrafficShared {
    pub fn new(seed: u64) -> Self {
        TrafficShared {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            jitter_rng: Mutex::new(StdRng::seed_from_u64(seed.wrapping_add(0x6a09_e667_f3bc_c909))),
            paused: AtomicBool::new(false),
        }
    }
}
