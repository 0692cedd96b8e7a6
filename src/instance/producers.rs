//! The producers instances share: one per distinct set of effective producer properties.
//!
//! A librdkafka producer costs a few MiB and a thread per broker plus two; one per tenant is what
//! limits how many tenants a host serves. Instances whose effective properties are the same
//! (bootstrap, security, `kafka.producer`, their own `producer` overrides) write through one
//! producer, each on its own [`super::lane::Lane`]. An exactly-once instance needs a
//! `transactional.id` of its own and so a producer of its own, as does every instance with
//! `kafka.share_producers: false`.
//!
//! The pool holds producers weakly: the last lane to go takes its producer with it. A producer
//! that failed as a whole (a refused login, a fatal idempotence error) is not handed out again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use rdkafka::config::ClientConfig;

use super::lane::{Producer, Router};
use crate::kafka::ProduceError;

/// The `client.id` of a shared producer (unless the properties set one).
pub const SHARED_CLIENT_ID: &str = "tributary";

/// Producers shared between instances, by their effective properties.
#[derive(Default)]
pub struct ProducerPool {
    shared: Mutex<HashMap<String, Weak<Producer>>>,
}

impl ProducerPool {
    /// The shared producer for `config`, created on first use.
    pub fn shared(&self, config: &ClientConfig) -> Result<Arc<Producer>, ProduceError> {
        let key = key(config);
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.retain(|_, producer| producer.strong_count() > 0);
        if let Some(producer) = shared.get(&key).and_then(Weak::upgrade)
            && producer.failure().is_none()
        {
            return Ok(producer);
        }
        let producer = Arc::new(Producer::new(config, "shared producer".into(), Router)?);
        tracing::info!(producers = shared.len() + 1, "kafka producer created for connectors sharing its properties");
        shared.insert(key, Arc::downgrade(&producer));
        Ok(producer)
    }

    /// Shared producers alive now.
    pub fn len(&self) -> usize {
        let shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.values().filter(|p| p.strong_count() > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The properties, in a stable order, as one string — secrets included: `config_map` hides
/// their values, and connectors with different passwords must never share a producer. Kept in
/// the pool only, never logged.
fn key(config: &ClientConfig) -> String {
    let names: Vec<&str> = config.config_map().into_keys().collect();
    names.iter().map(|name| format!("{name}={}\n", config.get(name).unwrap_or_default())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_properties_share_a_producer_and_others_do_not() {
        let pool = ProducerPool::default();
        let mut a = crate::kafka::producer::default_properties("127.0.0.1:1", SHARED_CLIENT_ID);
        let b = a.clone();
        let first = pool.shared(&a).expect("producer");
        let again = pool.shared(&b).expect("producer");
        assert!(Arc::ptr_eq(&first, &again));
        a.set("linger.ms", "50");
        let other = pool.shared(&a).expect("producer");
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(pool.len(), 2);
        let mut secret = b.clone();
        secret.set("sasl.password", "one");
        let with_one = pool.shared(&secret).expect("producer");
        secret.set("sasl.password", "other");
        let with_other = pool.shared(&secret).expect("producer");
        assert!(!Arc::ptr_eq(&with_one, &with_other), "another password, another producer");
        drop((with_one, with_other));
        drop((first, again));
        assert_eq!(pool.len(), 1, "the last user takes its producer with it");
    }
}
