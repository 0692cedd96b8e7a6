//! A connector instance's lane through a producer it may share with other instances.
//!
//! Every record an instance sends carries its lane; librdkafka hands the record's delivery report
//! back with it, and the lane routes it to the instance's [`Acks`]. What belongs to one instance
//! stays with its lane:
//!
//! - **failure**: a record Kafka refuses for good fails its lane, not the producer: the instance
//!   stops with the reason while the other instances on the producer go on. A failure of the
//!   producer itself (a refused login, a fatal idempotence error) fails every lane on it.
//! - **in-flight bound**: a lane holds at most `limit` bytes of records sent and not yet
//!   acknowledged (each record counted as its key, value and headers plus [`RECORD_OVERHEAD`]).
//!   A tenant whose records stall (its topic's leader gone) or flood (a backfill) waits at its
//!   own bound and cannot fill the producer's queue for the others — unless enough tenants stall
//!   at once to fill it (`kafka.buffer_memory`), which then back-pressures all of them.
//! - **drain**: a stopping instance waits for its own records only.
//!
//! Order is kept per source partition by the ack tracker whatever the sharing: librdkafka keeps
//! the order of one Kafka partition, and an instance's offsets move only over records it had
//! acknowledged in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::delivery::{Acks, Delivery};
use crate::kafka::failure::FirstFailure;
use crate::kafka::{DeliveryReports, InstanceProducer, Outgoing, ProduceError, Refused};

/// A producer whose records carry their lane.
pub type Producer = InstanceProducer<Router>;

/// What a record costs its lane beyond its bytes: librdkafka's message and the report's token.
pub const RECORD_OVERHEAD: usize = 512;

/// Routes every delivery report to the lane its record was sent on.
pub struct Router;

/// A record's token: its lane, what it belongs to, and what it counted against the lane.
pub struct Routed {
    lane: Arc<LaneState>,
    delivery: Delivery,
    cost: usize,
}

impl DeliveryReports for Router {
    type Token = Routed;

    fn delivered(&self, token: Routed, outcome: Result<(), Refused<'_>>) -> Result<(), ProduceError> {
        let Routed { lane, delivery, cost } = token;
        if let Err(failure) = lane.acks.delivered(delivery, outcome) {
            lane.fail(failure);
        }
        lane.release(cost);
        // A refused record fails its lane only: the producer goes on for the other lanes.
        Ok(())
    }
}

struct LaneState {
    connector: Arc<str>,
    acks: Acks,
    failure: FirstFailure<ProduceError>,
    in_flight_records: AtomicUsize,
    in_flight_bytes: AtomicUsize,
    /// Notified when records of this lane are delivered, while anyone waits for that.
    delivered: Notify,
    waiters: AtomicUsize,
    limit: usize,
}

impl LaneState {
    fn fail(&self, error: ProduceError) {
        let shown = error.to_string();
        if self.failure.record(error) {
            tracing::error!(connector = %self.connector, error = %shown, "produce failed");
        }
        self.delivered.notify_waiters();
    }

    fn release(&self, cost: usize) {
        self.in_flight_bytes.fetch_sub(cost, Ordering::SeqCst);
        self.in_flight_records.fetch_sub(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.delivered.notify_waiters();
        }
    }

    /// Waits until `ready` holds, looking again after every delivery on this lane (and every
    /// 100 ms: a failure of the producer wakes nothing here).
    async fn wait_until(&self, mut ready: impl FnMut() -> bool) {
        /// Counts a waiter for as long as it waits, also when its wait is dropped.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiters);
        loop {
            let notified = self.delivered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if ready() {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }
}

/// One instance's lane through a producer (see the module docs).
pub struct Lane {
    producer: Arc<Producer>,
    state: Arc<LaneState>,
}

impl Lane {
    /// A lane for `connector` through `producer`, reporting to `acks`, holding at most `limit`
    /// bytes in flight (one record is always let through, however large).
    pub fn new(producer: Arc<Producer>, connector: Arc<str>, acks: Acks, limit: usize) -> Self {
        let state = LaneState {
            connector,
            acks,
            failure: FirstFailure::default(),
            in_flight_records: AtomicUsize::new(0),
            in_flight_bytes: AtomicUsize::new(0),
            delivered: Notify::new(),
            waiters: AtomicUsize::new(0),
            limit,
        };
        Self { producer, state: Arc::new(state) }
    }

    /// The producer under this lane (for transactions, which only a producer of its own has).
    pub fn producer(&self) -> &Arc<Producer> {
        &self.producer
    }

    /// The first permanent failure of this lane or of its producer, if any.
    pub fn failure(&self) -> Option<ProduceError> {
        self.state.failure.get().or_else(|| self.producer.failure())
    }

    /// Resolves with the first permanent failure of this lane or of its producer.
    pub async fn failed(&self) -> ProduceError {
        tokio::select! {
            failure = self.state.failure.wait() => failure,
            failure = self.producer.failed() => failure,
        }
    }

    /// Sends one record on this lane. A record of the instance's own (`Delivery::Record`) waits
    /// while the lane holds its limit in flight; an offsets record does not (there are few, and
    /// a commit must not wait behind a stalled flood).
    pub async fn send(&self, record: &Outgoing<'_>, delivery: Delivery) -> Result<(), ProduceError> {
        let cost = cost(record);
        if matches!(delivery, Delivery::Record { .. }) {
            self.reserve(cost).await?;
        } else {
            self.state.in_flight_bytes.fetch_add(cost, Ordering::SeqCst);
        }
        self.state.in_flight_records.fetch_add(1, Ordering::SeqCst);
        if let Some(failure) = self.failure() {
            self.state.release(cost);
            return Err(failure);
        }
        let token = Routed { lane: self.state.clone(), delivery, cost };
        self.producer.send(record, token).await.inspect_err(|_| self.state.release(cost))
    }

    /// Waits until `cost` more bytes fit under the lane's limit (or the lane failed), then
    /// counts them. Only the pump reserves, so nothing takes the room between look and add.
    async fn reserve(&self, cost: usize) -> Result<(), ProduceError> {
        let state = &self.state;
        let fits = || {
            let held = state.in_flight_bytes.load(Ordering::SeqCst);
            held == 0 || held + cost <= state.limit
        };
        if !fits() {
            state.wait_until(|| fits() || self.failure().is_some()).await;
        }
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        state.in_flight_bytes.fetch_add(cost, Ordering::SeqCst);
        Ok(())
    }

    /// Records sent on this lane and not yet reported.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight_records.load(Ordering::Acquire)
    }

    /// Bytes this lane holds in flight (as counted against its limit).
    pub fn in_flight_bytes(&self) -> usize {
        self.state.in_flight_bytes.load(Ordering::Acquire)
    }

    /// Waits until every record sent on this lane is delivered or refused, up to `timeout`.
    /// Returns whether all were.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let state = &self.state;
        let all_in = state.wait_until(|| state.in_flight_records.load(Ordering::SeqCst) == 0);
        tokio::time::timeout(timeout, all_in).await.is_ok()
    }
}

/// What a record counts against its lane.
fn cost(record: &Outgoing<'_>) -> usize {
    let headers: usize = record.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    record.key.map_or(0, <[u8]>::len) + record.payload.map_or(0, <[u8]>::len) + headers + RECORD_OVERHEAD
}
