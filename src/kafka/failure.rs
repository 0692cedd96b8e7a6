//! The first permanent failure of a producer, or of one instance's lane through it: recorded
//! once, read without a lock before every send, awaited by the run that must stop.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// Holds at most one error (a [`super::ProduceError`] in practice), the first one recorded.
///
/// Whoever wakes from [`FirstFailure::wait`] also finds it in [`FirstFailure::get`]: the flag that
/// `get` reads is set before waiters are woken.
#[derive(Debug)]
pub struct FirstFailure<E> {
    value: watch::Sender<Option<E>>,
    /// Set once `value` holds an error: what `get` checks first, without taking the lock.
    set: AtomicBool,
}

impl<E> Default for FirstFailure<E> {
    fn default() -> Self {
        Self { value: watch::Sender::new(None), set: AtomicBool::new(false) }
    }
}

impl<E: Clone> FirstFailure<E> {
    /// Records `error` unless a failure is recorded already; `true` when this one was first.
    pub fn record(&self, error: E) -> bool {
        self.value.send_if_modified(|value| {
            if value.is_some() {
                return false;
            }
            *value = Some(error);
            // Inside the lock and before waiters wake, so that they all find it.
            self.set.store(true, Ordering::Release);
            true
        })
    }

    /// The failure, if one was recorded.
    pub fn get(&self) -> Option<E> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        self.value.borrow().clone()
    }

    /// Resolves with the failure once one is recorded.
    pub async fn wait(&self) -> E {
        let mut rx = self.value.subscribe();
        match rx.wait_for(Option::is_some).await.ok().and_then(|f| f.clone()) {
            Some(failure) => failure,
            // The sender lives as long as `self`, which this borrow keeps alive.
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::ProduceError;
    use std::sync::Arc;

    #[test]
    fn the_first_failure_stays() {
        let f = FirstFailure::<ProduceError>::default();
        assert_eq!(f.get(), None);
        assert!(f.record(ProduceError::Fenced("first".into())));
        assert!(!f.record(ProduceError::Fatal("second".into())));
        assert_eq!(f.get(), Some(ProduceError::Fenced("first".into())));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn whoever_wakes_finds_it() {
        for _ in 0..200 {
            let f = Arc::new(FirstFailure::<ProduceError>::default());
            let waiter = tokio::spawn({
                let f = f.clone();
                async move {
                    let woke_with = f.wait().await;
                    (woke_with, f.get())
                }
            });
            tokio::task::yield_now().await;
            let recorder = std::thread::spawn({
                let f = f.clone();
                move || f.record(ProduceError::Fenced("x".into()))
            });
            let (woke_with, seen) = waiter.await.expect("the waiter");
            assert!(recorder.join().expect("the recorder"));
            assert_eq!(seen, Some(woke_with));
        }
    }
}
