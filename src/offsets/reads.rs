//! One read of the offsets topic for every instance starting at about the same time.
//!
//! Each instance reads its stored offsets when a run starts. A thousand instances starting
//! together would read the topic a thousand times, each with a consumer of its own. Instead, the
//! requests that arrive while a read runs wait for the next one, which serves all of them.
//!
//! Why a request never joins the read already running: that read may have started before the
//! request's instance committed the offsets of its previous run (a restart right after a stop).
//! A read that starts after the request sees every offset committed before it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use tokio::sync::oneshot;

use super::store::{ReadError, StoredOffsets, read_to_end};

type Answer = Result<Arc<StoredOffsets>, ReadError>;

/// Reads the offsets topic for whoever asks, one read for all who asked meanwhile.
pub struct OffsetsReader {
    consumer: ClientConfig,
    topic: String,
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    reading: bool,
    waiting: Vec<oneshot::Sender<Answer>>,
}

impl OffsetsReader {
    pub fn new(consumer: ClientConfig, topic: String, timeout: Duration) -> Arc<Self> {
        Arc::new(Self { consumer, topic, timeout, state: Mutex::default() })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic as read to its end by a read that started after this call.
    pub async fn read(self: &Arc<Self>) -> Answer {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut state = self.lock();
            state.waiting.push(tx);
            !std::mem::replace(&mut state.reading, true)
        };
        if start {
            let reader = self.clone();
            tokio::spawn(async move { reader.serve().await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(ReadError { topic: self.topic.clone(), reason: "the offsets reader stopped".into() })
        })
    }

    /// Reads for everyone waiting, again while anyone came during a read.
    async fn serve(self: Arc<Self>) {
        loop {
            let waiting = std::mem::take(&mut self.lock().waiting);
            let (consumer, topic, timeout) = (self.consumer.clone(), self.topic.clone(), self.timeout);
            let answer = match tokio::task::spawn_blocking(move || read_to_end(&consumer, &topic, timeout)).await {
                Ok(read) => read.map(Arc::new),
                Err(e) => Err(ReadError { topic: self.topic.clone(), reason: format!("the reader panicked: {e}") }),
            };
            tracing::debug!(topic = %self.topic, instances = waiting.len(), "offsets topic read");
            for tx in waiting {
                let _ = tx.send(answer.clone());
            }
            let mut state = self.lock();
            if state.waiting.is_empty() {
                state.reading = false;
                return;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
