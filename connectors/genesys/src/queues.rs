//! Which queues to follow, and how they are spread over channels.

use std::collections::BTreeSet;

use crate::api::GenesysApi;
use crate::config::QueueSelection;
use crate::rest::RestError;

/// Queue ids selected by `all`/`names` among the org's queues.
pub async fn discover(api: &GenesysApi, selection: &QueueSelection) -> Result<Vec<String>, RestError> {
    let queues = api.list_queues(None).await?;
    Ok(queues.into_iter().filter(|q| selection.selects_name(&q.name)).map(|q| q.id).collect())
}

/// Queues spread over shards of at most `max_topics`, one channel each, at most `max_shards`.
/// Updates keep existing assignments, so a new queue does not disturb the others' channels.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    shards: Vec<BTreeSet<String>>,
    max_topics: usize,
    max_shards: usize,
}

impl ShardPlan {
    pub fn new(queues: impl IntoIterator<Item = String>, max_topics: usize, max_shards: usize) -> Result<Self, String> {
        let mut plan = Self { shards: Vec::new(), max_topics: max_topics.max(1), max_shards: max_shards.max(1) };
        plan.update(queues.into_iter().collect())?;
        Ok(plan)
    }

    pub fn shards(&self) -> &[BTreeSet<String>] {
        &self.shards
    }

    /// Moves the plan to `wanted`; returns the indexes of shards whose queues changed (new
    /// shards included). Fails, changing nothing, when the queues do not fit the channel budget.
    pub fn update(&mut self, wanted: BTreeSet<String>) -> Result<Vec<usize>, String> {
        let needed = wanted.len().div_ceil(self.max_topics);
        if needed > self.max_shards {
            return Err(format!(
                "{} queues need {needed} channels of {} topics, but only {} may be used (one of the 20 is kept for rollovers)",
                wanted.len(),
                self.max_topics,
                self.max_shards
            ));
        }
        let mut changed = BTreeSet::new();
        for (i, shard) in self.shards.iter_mut().enumerate() {
            let before = shard.len();
            shard.retain(|q| wanted.contains(q));
            if shard.len() != before {
                changed.insert(i);
            }
        }
        let placed: BTreeSet<&String> = self.shards.iter().flatten().collect();
        let new: Vec<String> = wanted.iter().filter(|q| !placed.contains(q)).cloned().collect();
        for queue in new {
            let index = match self.shards.iter().position(|s| s.len() < self.max_topics) {
                Some(i) => i,
                None => {
                    self.shards.push(BTreeSet::new());
                    self.shards.len() - 1
                }
            };
            self.shards[index].insert(queue);
            changed.insert(index);
        }
        Ok(changed.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<usize>) -> BTreeSet<String> {
        range.map(|i| format!("q{i:05}")).collect()
    }

    #[test]
    fn more_than_a_thousand_queues_use_several_channels() {
        let plan = ShardPlan::new(ids(0..2500), 1000, 19).expect("fits");
        let sizes: Vec<usize> = plan.shards().iter().map(BTreeSet::len).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
    }

    #[test]
    fn updates_keep_existing_assignments() {
        let mut plan = ShardPlan::new(ids(0..4), 2, 5).expect("fits");
        let mut wanted = ids(1..4);
        wanted.insert("new".into());
        let changed = plan.update(wanted).expect("fits");
        assert_eq!(changed, vec![0]);
        assert!(plan.shards()[0].contains("new") && plan.shards()[1] == ids(2..4));
    }

    #[test]
    fn the_channel_budget_is_respected() {
        let err = ShardPlan::new(ids(0..20_000), 1000, 19).expect_err("too many");
        assert!(err.contains("need 20 channels"), "{err}");
    }
}
