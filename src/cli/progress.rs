//! A one-line progress display on a terminal, for work connectors report in their status as
//! `detail.progress = {"label": …, "done": n, "total": m, "note": …}` (the Genesys connector's
//! backfill does).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tributary::supervisor::Supervisor;

/// Draws progress on stderr every second until the process ends. Does nothing unless stderr is
/// a terminal.
pub fn spawn(supervisor: Arc<Supervisor>) {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return;
    }
    tokio::spawn(async move {
        let mut shown = false;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let lines: Vec<String> = supervisor
                .names()
                .into_iter()
                .filter_map(|name| {
                    let status = supervisor.status(&name).ok()?;
                    let progress = status.tasks.iter().find_map(|t| t.detail.get("progress").cloned())?;
                    render(&name, &progress)
                })
                .collect();
            let mut err = std::io::stderr().lock();
            if lines.is_empty() {
                if shown {
                    let _ = writeln!(err);
                    shown = false;
                }
                continue;
            }
            let _ = write!(err, "\r\x1b[2K{}", lines.join("  |  "));
            let _ = err.flush();
            shown = true;
        }
    });
}

/// `name label [#####.....] done/total note`, or nothing when there is nothing to show.
fn render(name: &str, progress: &Value) -> Option<String> {
    let done = progress.get("done")?.as_u64()?;
    let total = progress.get("total")?.as_u64()?;
    if total == 0 || done >= total {
        return None;
    }
    let label = progress.get("label").and_then(Value::as_str).unwrap_or("working");
    let width = 20usize;
    let filled = (done as usize * width / total as usize).min(width);
    let bar: String = "#".repeat(filled) + &".".repeat(width - filled);
    let note = progress.get("note").and_then(Value::as_str).unwrap_or("");
    Some(format!("{name} {label} [{bar}] {done}/{total} {note}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_only_unfinished_work() {
        let line = render("acme", &json!({"label": "backfill", "done": 1, "total": 4, "note": "120 conversations"}));
        assert_eq!(line.as_deref(), Some("acme backfill [#####...............] 1/4 120 conversations"));
        assert_eq!(render("acme", &json!({"done": 4, "total": 4})), None);
        assert_eq!(render("acme", &json!({"done": 0})), None);
    }
}
