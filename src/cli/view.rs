//! What `tributary run` shows of its connectors while it runs: on a terminal, a table redrawn
//! every second below the log; otherwise, every `logging.summary_interval`, a `summary` log line
//! per connector (when there are more than [`MAX_LOGGED`], one line of totals and the unwell
//! ones).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tributary::overview::{Line, Rates, Row, Style, table};
use tributary::rest::status_json;
use tributary::supervisor::Supervisor;

use super::console::{self, Console};

/// How often the terminal view is redrawn.
const REDRAW: Duration = Duration::from_secs(1);

/// Connectors logged one line each; beyond, totals and the unwell ones only.
const MAX_LOGGED: usize = 20;

pub enum Mode {
    /// A live table at the bottom of the terminal.
    Terminal {
        console: Console,
        colour: bool,
    },
    /// A summary log line per connector at this interval.
    Log(Duration),
    Off,
}

/// Starts showing; runs until the process ends.
pub fn spawn(supervisor: Arc<Supervisor>, mode: Mode) {
    let period = match &mode {
        Mode::Terminal { .. } => REDRAW,
        Mode::Log(every) => *every,
        Mode::Off => return,
    };
    tokio::spawn(async move {
        let mut rates = Rates::default();
        // Rates need a reading before the first line shown.
        rates.observe(rows(&supervisor), Instant::now());
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            let lines = rates.observe(rows(&supervisor), Instant::now());
            match &mode {
                Mode::Terminal { console, colour } => {
                    console.show(table(&lines, Style { colour: *colour, width: console::width() }))
                }
                Mode::Log(_) => log(&lines),
                Mode::Off => return,
            }
        }
    });
}

/// Every connector of this process, as its REST status reads.
fn rows(supervisor: &Supervisor) -> Vec<Row> {
    let mut names = supervisor.names();
    names.sort();
    names
        .iter()
        .filter_map(|name| supervisor.snapshot(name).ok())
        .filter_map(|snapshot| Row::from_status(&status_json(&snapshot, "local")))
        .collect()
}

fn log(lines: &[Line]) {
    if lines.len() <= MAX_LOGGED {
        lines.iter().for_each(log_one);
        return;
    }
    let sum = |f: fn(&Line) -> Option<f64>| lines.iter().filter_map(f).sum::<f64>();
    let unwell: Vec<&Line> = lines.iter().filter(|l| l.row.is_unwell()).collect();
    tracing::info!(
        target: "tributary::summary",
        connectors = lines.len(),
        unwell = unwell.len(),
        records_per_s = round(sum(|l| l.records_per_s)),
        live_per_s = round(sum(|l| l.live_per_s)),
        backfill_per_s = round(sum(|l| l.backfill_per_s)),
        open_gaps = lines.iter().filter_map(|l| l.row.summary.open_gaps).sum::<u64>(),
        "summary of all connectors"
    );
    unwell.into_iter().take(MAX_LOGGED).for_each(log_one);
}

fn log_one(line: &Line) {
    let s = &line.row.summary;
    let covered = s.partitions_covered.zip(s.partitions_total).map(|(c, t)| format!("{c}/{t}"));
    tracing::info!(
        target: "tributary::summary",
        connector = %line.row.name,
        state = %line.row.state,
        records_per_s = line.records_per_s.map(round),
        live_per_s = line.live_per_s.map(round),
        backfill_per_s = line.backfill_per_s.map(round),
        covered,
        open_gaps = s.open_gaps,
        lag_seconds = s.lag_seconds.map(f64::round),
        source = s.source,
        reason = line.row.reason,
        "summary"
    );
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
