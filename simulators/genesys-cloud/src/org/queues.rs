//! Routing queues: the record of a queue, and the deterministic set present at start.

use crate::clock::Clock;
use crate::config::QueuesConfig;

/// A queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueRec {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
}

/// Deterministic id for the `n`th queue of an org seeded with `seed`.
pub(crate) fn queue_id(seed: u64, n: usize) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("genesys-sim/{seed}/queue/{n}").as_bytes()).to_string()
}

/// The queues present at start.
pub(crate) fn initial(cfg: &QueuesConfig, seed: u64) -> Vec<QueueRec> {
    let now = Clock::now_ms();
    let mut out: Vec<QueueRec> = cfg
        .named
        .iter()
        .enumerate()
        .map(|(i, q)| QueueRec {
            id: q.id.clone().unwrap_or_else(|| queue_id(seed, i)),
            name: q.name.clone(),
            created_ms: now,
        })
        .collect();
    while out.len() < cfg.count {
        let n = out.len();
        out.push(QueueRec { id: queue_id(seed, n), name: format!("Queue {}", n + 1), created_ms: now });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_queues_are_deterministic() {
        let cfg = QueuesConfig { count: 3, named: vec![crate::config::QueueSpec { name: "Sales".into(), id: None }] };
        let a = initial(&cfg, 7);
        let b = initial(&cfg, 7);
        assert_eq!(a.iter().map(|q| &q.id).collect::<Vec<_>>(), b.iter().map(|q| &q.id).collect::<Vec<_>>());
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].name, "Sales");
        assert_eq!(a[2].name, "Queue 3");
    }
}
