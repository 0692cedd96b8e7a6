//! Bounded waits: polling a condition until it holds or a deadline passes, and a time limit on a
//! whole test body, so a hung test fails instead of hanging.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`wait_for`] asks again.
pub const EVERY: Duration = Duration::from_millis(50);

/// Calls `check` every `every` until it returns `Some` (that value) or `timeout` has passed
/// (`None`). `check` runs at least once.
pub async fn poll<T, F, Fut>(timeout: Duration, every: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls `check` every 50 ms until it returns `Some`; panics after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll(timeout, EVERY, check).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Runs a test body; panics if it has not finished within `limit`.
pub async fn bounded<F: Future<Output = ()>>(limit: Duration, body: F) {
    if tokio::time::timeout(limit, body).await.is_err() {
        panic!("test did not finish within its time limit of {limit:?}");
    }
}

/// Asks `get` every `every` until `check` accepts its answer, and returns that answer; panics
/// after `timeout` naming `what` and showing the last answer.
pub async fn wait_until<V, F, Fut>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut get: F,
    check: impl Fn(&V) -> bool,
) -> V
where
    V: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = V>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let answer = get().await;
        if check(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{what} not reached within {timeout:?}; last: {answer:#}");
        tokio::time::sleep(every).await;
    }
}
