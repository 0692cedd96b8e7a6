//! `tributary status`: the REST status of every connector of a running process, as a table;
//! `--watch` redraws it (the `top` of Tributary).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tributary::overview::{Line, Rates, Row, Style, table};

use super::console;

/// Where the REST API is and how to be let in.
pub struct Target {
    /// e.g. `http://127.0.0.1:8083`
    pub url: String,
    /// `api.token`, when the API wants one.
    pub token: Option<String>,
}

/// How long the one-shot form waits between its two readings (rates need two).
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Prints the table once (exit 1 when a connector is FAILED), or every `watch` until Ctrl-C.
pub async fn run(target: Target, watch: Option<Duration>) -> Result<ExitCode> {
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().context("cannot build an HTTP client")?;
    let mut rates = Rates::default();
    rates.observe(read(&client, &target).await?, Instant::now());
    let terminal = std::io::stdout().is_terminal();
    let style = || Style {
        colour: terminal && console::colour_allowed(),
        width: if terminal { console::size().map(|(columns, _)| columns) } else { None },
    };
    let Some(every) = watch else {
        tokio::time::sleep(RATE_WINDOW).await;
        let lines = rates.observe(read(&client, &target).await?, Instant::now());
        print(&table(&lines, style()), None);
        let failed = lines.iter().any(|l| l.row.state == "FAILED");
        return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(every) => {}
        }
        let lines: Vec<Line> = match read(&client, &target).await {
            Ok(rows) => rates.observe(rows, Instant::now()),
            Err(e) => {
                eprintln!("{e:#}");
                continue;
            }
        };
        let heading = format!("{}  {}  every {}", target.url, now_utc(), humantime::format_duration(every));
        if terminal {
            // Home and clear, then the fresh table.
            print!("\x1b[H\x1b[2J");
        }
        print(&table(&lines, style()), Some(&heading));
    }
}

fn print(lines: &[String], heading: Option<&str>) {
    let mut out = std::io::stdout().lock();
    if let Some(h) = heading {
        let _ = writeln!(out, "{h}\n");
    }
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    if heading.is_some() && !std::io::stdout().is_terminal() {
        let _ = writeln!(out);
    }
    let _ = out.flush();
}

async fn read(client: &reqwest::Client, target: &Target) -> Result<Vec<Row>> {
    let url = format!("{}/connectors?expand=status", target.url.trim_end_matches('/'));
    let mut request = client.get(&url);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the REST API at {} (is `tributary run` up?)", target.url))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        bail!("the REST API at {} wants a token: pass --token or set api.token in the config", target.url);
    }
    if !status.is_success() {
        bail!("the REST API at {} answered {status}", target.url);
    }
    let body: Value = response.json().await.with_context(|| format!("{url} did not answer JSON"))?;
    Ok(Row::from_expanded(&body))
}

fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
