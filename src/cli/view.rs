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

/// Rows the view may take when the terminal does not say its size.
const DEFAULT_ROWS: usize = 12;

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
                    let size = console::size();
                    let room = size.map_or(DEFAULT_ROWS, |(_, rows)| rows / 2);
                    let style = Style { colour: *colour, width: size.map(|(columns, _)| columns) };
                    console.show(fit(lines, room, style))
                }
                Mode::Log(_) => log(&lines),
                Mode::Off => return,
            }
        }
    });
}

/// The table in at most `rows` lines (the view keeps to half the terminal, so that a block
/// redrawn in place never scrolls off it): with more connectors than fit, the unwell ones come
/// first and a last line counts the rest.
fn fit(mut lines: Vec<Line>, rows: usize, style: Style) -> Vec<String> {
    let rows = rows.max(3);
    if lines.len() < rows {
        return table(&lines, style);
    }
    // Header and the closing count take two rows.
    let shown = rows - 2;
    lines.sort_by_key(|l| !l.row.is_unwell());
    let hidden = lines.split_off(shown);
    let running = hidden.iter().filter(|l| l.row.state == "RUNNING").count();
    let mut out = table(&lines, style);
    out.push(format!("… and {} more ({running} RUNNING): `tributary status` lists them all", hidden.len()));
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use tributary::api::Summary;

    fn line(name: &str, state: &str) -> Line {
        let row = Row {
            name: name.into(),
            state: state.into(),
            reason: None,
            acknowledged: None,
            summary: Summary::default(),
        };
        Line { row, records_per_s: None, live_per_s: None, backfill_per_s: None }
    }

    #[test]
    fn a_view_taller_than_its_room_shows_the_unwell_first_and_counts_the_rest() {
        let lines: Vec<Line> =
            (0..50).map(|i| line(&format!("t{i:02}"), if i == 42 { "FAILED" } else { "RUNNING" })).collect();
        let shown = fit(lines.clone(), 10, Style::default());
        assert_eq!(shown.len(), 10);
        assert!(shown[0].starts_with("CONNECTOR"));
        assert!(shown[1].starts_with("t42") && shown[1].contains("FAILED"), "{shown:?}");
        assert!(shown[2].starts_with("t00"), "{shown:?}");
        assert_eq!(shown[9], "… and 42 more (42 RUNNING): `tributary status` lists them all");
        assert_eq!(fit(lines[..5].to_vec(), 10, Style::default()).len(), 6, "a table that fits is whole");
    }
}
