//! Records per second, from two readings of the totals a status document carries.

use std::collections::HashMap;
use std::time::Instant;

use super::Row;

/// A row with the rates since the previous reading of the same connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub row: Row,
    /// Records Kafka acknowledged per second.
    pub records_per_s: Option<f64>,
    /// Live records emitted per second.
    pub live_per_s: Option<f64>,
    /// Backfilled records emitted per second.
    pub backfill_per_s: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    acknowledged: Option<u64>,
    live: Option<u64>,
    backfilled: Option<u64>,
}

/// The previous reading of every connector seen. A total that went down (a new run started
/// counting from zero) gives no rate for that reading.
#[derive(Debug, Default)]
pub struct Rates {
    previous: HashMap<String, Reading>,
}

impl Rates {
    /// Rates for `rows` read at `at`; connectors not in `rows` are forgotten.
    pub fn observe(&mut self, rows: Vec<Row>, at: Instant) -> Vec<Line> {
        let mut seen = HashMap::with_capacity(rows.len());
        let lines = rows
            .into_iter()
            .map(|row| {
                let now = Reading {
                    at,
                    acknowledged: row.acknowledged,
                    live: row.summary.live_records,
                    backfilled: row.summary.backfilled_records,
                };
                let before = self.previous.get(&row.name).copied();
                seen.insert(row.name.clone(), now);
                let rate = |f: fn(&Reading) -> Option<u64>| before.and_then(|b| per_second(&b, &now, f));
                Line {
                    records_per_s: rate(|r| r.acknowledged),
                    live_per_s: rate(|r| r.live),
                    backfill_per_s: rate(|r| r.backfilled),
                    row,
                }
            })
            .collect();
        self.previous = seen;
        lines
    }
}

fn per_second(before: &Reading, now: &Reading, field: fn(&Reading) -> Option<u64>) -> Option<f64> {
    let seconds = now.at.checked_duration_since(before.at)?.as_secs_f64();
    let (a, b) = (field(before)?, field(now)?);
    (seconds > 0.0 && b >= a).then(|| (b - a) as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Summary;
    use std::time::Duration;

    fn row(name: &str, acknowledged: u64, live: Option<u64>) -> Row {
        Row {
            name: name.into(),
            state: "RUNNING".into(),
            reason: None,
            acknowledged: Some(acknowledged),
            summary: Summary { live_records: live, ..Summary::default() },
        }
    }

    #[test]
    fn rates_come_from_the_previous_reading_and_restart_after_a_reset() {
        let mut rates = Rates::default();
        let t0 = Instant::now();
        let first = rates.observe(vec![row("a", 100, Some(50))], t0);
        assert_eq!(first[0].records_per_s, None, "one reading gives no rate");
        let second = rates.observe(vec![row("a", 300, Some(150)), row("b", 7, None)], t0 + Duration::from_secs(2));
        assert_eq!(second[0].records_per_s, Some(100.0));
        assert_eq!(second[0].live_per_s, Some(50.0));
        assert_eq!(second[0].backfill_per_s, None, "a connector without the count has no rate");
        assert_eq!(second[1].records_per_s, None, "b is new");
        // A new run counts from zero again.
        let third = rates.observe(vec![row("a", 10, Some(5))], t0 + Duration::from_secs(3));
        assert_eq!(third[0].records_per_s, None);
        let fourth = rates.observe(vec![row("a", 20, Some(5))], t0 + Duration::from_secs(4));
        assert_eq!(fourth[0].records_per_s, Some(10.0));
    }
}
