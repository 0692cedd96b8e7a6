//! The overview as text: a table with a header, one line per connector.

use super::Line;

/// How the table is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours for state and reasons (a terminal that allows them only).
    pub colour: bool,
    /// Characters per line; the last column is cut to fit (a line that wraps would break a
    /// view redrawn in place).
    pub width: Option<usize>,
}

const HEADER: [&str; 9] = ["CONNECTOR", "STATE", "REC/S", "LIVE/S", "BACKFILL/S", "COVERED", "GAPS", "LAG", "SOURCE"];

/// The header and one line per connector, without line ends.
pub fn table(lines: &[Line], style: Style) -> Vec<String> {
    let rows: Vec<Cells> = lines.iter().map(Cells::of).collect();
    let mut widths: Vec<usize> = HEADER[..8].iter().map(|h| h.len()).collect();
    for cells in &rows {
        for (w, cell) in widths.iter_mut().zip(cells.columns()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = Vec::with_capacity(rows.len() + 1);
    out.push(assemble(&widths, HEADER[..8].iter().copied(), HEADER[8], None, style));
    for cells in &rows {
        let paint = style.colour.then(|| (state_colour(&cells.state), cells.reason));
        out.push(assemble(&widths, cells.columns(), &cells.note, paint, style));
    }
    out
}

/// One connector's cells, as text.
struct Cells {
    name: String,
    state: String,
    records: String,
    live: String,
    backfill: String,
    covered: String,
    gaps: String,
    lag: String,
    /// The reason when unwell, else the source's state.
    note: String,
    reason: bool,
}

impl Cells {
    fn of(line: &Line) -> Self {
        let s = &line.row.summary;
        let covered = match (s.partitions_covered, s.partitions_total) {
            (Some(c), Some(t)) => format!("{c}/{t}"),
            _ => "-".into(),
        };
        let (note, reason) = match (&line.row.reason, &s.source) {
            (Some(reason), _) => (reason.clone(), true),
            (None, Some(source)) => (source.clone(), false),
            (None, None) => (String::new(), false),
        };
        Self {
            name: line.row.name.clone(),
            state: line.row.state.clone(),
            records: rate(line.records_per_s),
            live: rate(line.live_per_s),
            backfill: rate(line.backfill_per_s),
            covered,
            gaps: s.open_gaps.map_or_else(|| "-".into(), |g| g.to_string()),
            lag: s.lag_seconds.map_or_else(|| "-".into(), lag),
            note,
            reason,
        }
    }

    fn columns(&self) -> impl Iterator<Item = &str> {
        [&self.name, &self.state, &self.records, &self.live, &self.backfill, &self.covered, &self.gaps, &self.lag]
            .into_iter()
            .map(String::as_str)
    }
}

/// Pads the columns, cuts the last one to the width, then paints (so padding counts only
/// visible characters).
fn assemble<'a>(
    widths: &[usize],
    columns: impl Iterator<Item = &'a str>,
    last: &str,
    paint: Option<(&'static str, bool)>,
    style: Style,
) -> String {
    let mut line = String::new();
    let mut state_span = None;
    for (i, (cell, w)) in columns.zip(widths).enumerate() {
        if i == 1 {
            state_span = Some((line.len(), line.len() + cell.len()));
        }
        line.push_str(cell);
        line.push_str(&" ".repeat(w - cell.chars().count() + 2));
    }
    let room = style.width.map_or(usize::MAX, |w| w.saturating_sub(line.chars().count()));
    let last: String = last.chars().take(room).collect();
    let Some((colour, reason)) = paint else {
        line.push_str(&last);
        return line.trim_end().to_owned();
    };
    let mut painted = String::with_capacity(line.len() + last.len() + 24);
    match state_span {
        Some((from, to)) => {
            painted.push_str(&line[..from]);
            painted.push_str(&format!("{colour}{}{RESET}", &line[from..to]));
            painted.push_str(&line[to..]);
        }
        None => painted.push_str(&line),
    }
    if reason && !last.is_empty() {
        painted.push_str(&format!("{YELLOW}{last}{RESET}"));
    } else {
        painted.push_str(&last);
    }
    painted.trim_end().to_owned()
}

const RESET: &str = "\x1b[0m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";

fn state_colour(state: &str) -> &'static str {
    match state {
        "RUNNING" => GREEN,
        "FAILED" => RED,
        _ => YELLOW,
    }
}

/// `-`, `0.5`, `42`, `12.3k`.
fn rate(per_s: Option<f64>) -> String {
    match per_s {
        None => "-".into(),
        // Thresholds on the rounded value: 9.96 reads `10`, not `10.0`.
        Some(r) if r < 9.95 => format!("{r:.1}"),
        Some(r) if r < 9_999.5 => format!("{r:.0}"),
        Some(r) => format!("{:.1}k", r / 1000.0),
    }
}

/// `4s`, `3m12s`, `2h05m`, `3d04h`.
fn lag(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Summary;
    use crate::overview::Row;

    fn line(name: &str, state: &str, reason: Option<&str>, summary: Summary, rates: [Option<f64>; 3]) -> Line {
        Line {
            row: Row {
                name: name.into(),
                state: state.into(),
                reason: reason.map(Into::into),
                acknowledged: None,
                summary,
            },
            records_per_s: rates[0],
            live_per_s: rates[1],
            backfill_per_s: rates[2],
        }
    }

    fn lines() -> Vec<Line> {
        let genesys = Summary {
            live_records: Some(1),
            backfilled_records: Some(1),
            partitions_covered: Some(4),
            partitions_total: Some(5),
            open_gaps: Some(1),
            lag_seconds: Some(192.0),
            source: Some("1/1 channels open".into()),
        };
        vec![
            line("genesys-demo", "RUNNING", None, genesys, [Some(12.0), Some(11.0), Some(0.5)]),
            line("datagen", "FAILED", Some("topic authorization failed"), Summary::default(), [None; 3]),
        ]
    }

    #[test]
    fn a_plain_table_aligns_columns_and_shows_unknowns_as_dashes() {
        let text = table(&lines(), Style::default()).join("\n");
        let expected = "\
CONNECTOR     STATE    REC/S  LIVE/S  BACKFILL/S  COVERED  GAPS  LAG    SOURCE
genesys-demo  RUNNING  12     11      0.5         4/5      1     3m12s  1/1 channels open
datagen       FAILED   -      -       -           -        -     -      topic authorization failed";
        assert_eq!(text, expected);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colour_paints_state_and_reason_without_moving_columns() {
        let plain = table(&lines(), Style::default());
        let painted = table(&lines(), Style { colour: true, width: None });
        assert!(painted[1].contains("\x1b[32mRUNNING\x1b[0m"));
        assert!(painted[2].contains("\x1b[31mFAILED\x1b[0m"));
        assert!(painted[2].contains("\x1b[33mtopic authorization failed\x1b[0m"));
        let strip =
            |s: &str| s.replace("\x1b[32m", "").replace("\x1b[31m", "").replace("\x1b[33m", "").replace(RESET, "");
        assert_eq!(painted.iter().map(|l| strip(l)).collect::<Vec<_>>(), plain);
    }

    #[test]
    fn a_narrow_terminal_cuts_the_last_column() {
        for l in table(&lines(), Style { colour: false, width: Some(80) }) {
            assert!(l.chars().count() <= 80, "{l}");
        }
    }

    #[test]
    fn rates_and_lags_read_at_a_glance() {
        assert_eq!(
            [rate(None), rate(Some(0.25)), rate(Some(9.96)), rate(Some(42.4)), rate(Some(12_345.0))],
            ["-", "0.2", "10", "42", "12.3k"]
        );
        assert_eq!([lag(4.0), lag(192.0), lag(7500.0), lag(277_200.0)], ["4s", "3m12s", "2h05m", "3d05h"]);
    }
}
