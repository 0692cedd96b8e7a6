//! The `tributary` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};

use tributary::api::SourcePartition;
use tributary::avro::Decoder;
use tributary::clients::{client_config, registry_client};
use tributary::config::{self, Config, LogFormat, ProcessEnv};
use tributary::offsets::{read_to_end, write_offsets};
use tributary::plugins::builtin as plugins;
use tributary::reload::ReloadError;
use tributary::runtime::{Runtime, StartOptions};
use tributary::tail::{TailOptions, tail};
use tributary::validate::validate_file;

mod cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "tributary", version, about = "A Kafka Connect-style source-connector runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ConfigArg {
    /// The YAML config file.
    #[arg(long, short, default_value = "config.yaml", env = "TRIBUTARY_CONFIG")]
    config: PathBuf,
}

/// Where to reach Kafka and the registry when the config says `embedded` (which lives inside a
/// running `tributary run`: pass the addresses it printed).
#[derive(clap::Args, Clone)]
struct Endpoints {
    #[arg(long)]
    bootstrap_servers: Option<String>,
    #[arg(long)]
    registry_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every configured connector until SIGINT/SIGTERM, then stop, flush and commit offsets.
    /// SIGHUP re-reads the config file.
    Run(ConfigArg),
    /// Check the config file (and every connector's config, and the schemas) without running.
    Validate(ConfigArg),
    /// Connect to everything the config names (Kafka, the registry, each connector's source)
    /// and say, one line per check, whether `run` will work; exits 1 when a check fails.
    Check(ConfigArg),
    /// Read or reset stored offsets. Stop the connector first: a running one overwrites edits.
    Offsets {
        #[command(subcommand)]
        action: OffsetsAction,
    },
    /// A simulated Genesys Cloud org, and checking a pipeline against its ground truth.
    Simulate {
        #[command(subcommand)]
        action: SimulateAction,
    },
    /// The status of every connector of a running `tributary run`, as a table: state, records/s
    /// (live and backfilled), partitions covered, open gaps, lag, the source's state. Exits 1
    /// when a connector is FAILED.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// The REST API (default: `api.listen` of the config).
        #[arg(long)]
        url: Option<String>,
        /// The API's bearer token (default: `api.token` of the config).
        #[arg(long, env = "TRIBUTARY_API_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Redraw every interval (2s unless given) until Ctrl-C.
        #[arg(long, num_args = 0..=1, default_missing_value = "2s", value_parser = tributary::api::parse_duration)]
        watch: Option<Duration>,
    },
    /// Print a topic's records, decoded from Avro to JSON through the schema registry.
    Tail {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        endpoints: Endpoints,
        #[arg(long)]
        topic: String,
        /// Start at the oldest record instead of the newest.
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this many records.
        #[arg(short = 'n', long)]
        limit: Option<u64>,
    },
}

#[derive(Subcommand)]
enum SimulateAction {
    /// Run a simulated Genesys Cloud org (OAuth, channels, WebSocket, analytics, faults) until
    /// Ctrl-C, printing the URLs and credentials to point a client at.
    Genesys {
        /// The simulator's YAML config (see simulators/genesys-cloud/sim.example.yaml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A YAML fault schedule and/or random fault rates.
        #[arg(long)]
        faults: Option<PathBuf>,
        /// Protocol seconds per real second (e.g. 60: a 24 h channel lives 24 min).
        #[arg(long)]
        time_scale: Option<f64>,
    },
    /// Check a topic against a simulated org's ground truth (its JSONL dump): conversations
    /// missing, final states missing, duplicates, latency. Exits 1 when anything is missing.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        endpoints: Endpoints,
        /// The truth dump (`truth.dump_path` of the simulator's config).
        #[arg(long)]
        truth: PathBuf,
        #[arg(long)]
        topic: String,
        /// Subscribed queue ids (default: every queue in the truth).
        #[arg(long = "queue")]
        queues: Vec<String>,
        /// Window start, epoch ms (default: the first snapshot).
        #[arg(long)]
        from_ms: Option<i64>,
        /// Window end, epoch ms (default: the last snapshot).
        #[arg(long)]
        to_ms: Option<i64>,
    },
}

#[derive(Subcommand)]
enum OffsetsAction {
    /// Print the connector's stored offsets as JSON, one partition per line.
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        endpoints: Endpoints,
        #[arg(long)]
        connector: String,
    },
    /// Reset the connector's offsets (all, or one partition) by writing tombstones.
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        endpoints: Endpoints,
        #[arg(long)]
        connector: String,
        /// One source partition as JSON, e.g. '{"queue_id":"…"}'.
        #[arg(long)]
        partition: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run(&args.config).await,
        Command::Validate(args) => Ok(validate(&args.config)),
        Command::Check(args) => check(&args.config).await,
        Command::Offsets { action } => offsets(action).await,
        Command::Simulate { action: SimulateAction::Genesys { config, faults, time_scale } } => {
            cli::simulate::genesys(config.as_deref(), faults.as_deref(), time_scale).await
        }
        Command::Simulate {
            action: SimulateAction::Verify { config, endpoints, truth, topic, queues, from_ms, to_ms },
        } => {
            let cfg = load(&config.config)?;
            let _ = init_logging(&cfg, true);
            let (bootstrap, registry) = (endpoints.bootstrap(&cfg)?, endpoints.registry(&cfg)?);
            let decoder = Decoder::new(registry_client(&cfg.schema_registry, &registry)?);
            let consumer = client_config(&bootstrap, &cfg.kafka.consumer);
            let args = cli::simulate::VerifyArgs { truth, topic, queues, from_ms, to_ms };
            cli::simulate::verify_topic(args, &consumer, &decoder).await
        }
        Command::Status { config, url, token, watch } => {
            let target = match url {
                Some(url) => cli::status::Target { url, token },
                None => {
                    let cfg = load(&config.config)?;
                    let mut addr = cfg.api.listen;
                    if addr.ip().is_unspecified() {
                        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    let token = token.or_else(|| cfg.api.token.as_ref().map(|t| t.expose().to_owned()));
                    cli::status::Target { url: format!("http://{addr}"), token }
                }
            };
            cli::status::run(target, watch).await
        }
        Command::Tail { config, endpoints, topic, from_beginning, limit } => {
            let cfg = load(&config.config)?;
            let _ = init_logging(&cfg, true);
            let (bootstrap, registry) = (endpoints.bootstrap(&cfg)?, endpoints.registry(&cfg)?);
            let decoder = Decoder::new(registry_client(&cfg.schema_registry, &registry)?);
            let options = TailOptions { topic, from_beginning, limit, idle_exit: None };
            let base = client_config(&bootstrap, &cfg.kafka.consumer);
            tail(&base, &decoder, &options, |json| println!("{json}")).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: &Path) -> Result<Config> {
    match config::load(path, &ProcessEnv) {
        Ok(loaded) => Ok(loaded.config),
        Err(errors) => Err(anyhow!("{errors}")),
    }
}

fn validate(path: &Path) -> ExitCode {
    match validate_file(path, &ProcessEnv, &plugins()) {
        Ok(loaded) => {
            let n = loaded.config.connectors.len();
            println!("{} is valid: {n} connector{}", path.display(), if n == 1 { "" } else { "s" });
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

async fn check(path: &Path) -> Result<ExitCode> {
    // Offline problems first: a config that does not validate is not worth connecting with.
    let loaded = validate_file(path, &ProcessEnv, &plugins()).map_err(|e| anyhow!("{e}"))?;
    let _ = init_logging(&loaded.config, true);
    let checks = tributary::check::check_config(&loaded.config, &plugins()).await;
    let scrubber = loaded.config.scrubber();
    for check in &checks {
        println!("{}", scrubber.scrub(&check.to_string()));
    }
    let failed = checks.iter().filter(|c| c.failed()).count();
    if failed == 0 {
        println!("all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failed} of {} checks failed", checks.len());
        Ok(ExitCode::FAILURE)
    }
}

/// Logs to stderr: JSON, or human lines with colours only on a terminal (and not with
/// `NO_COLOR`). Unless `quiet`, human logs on a terminal go through a [`cli::console::Console`]
/// that keeps the live view below them; it is returned.
fn init_logging(config: &Config, quiet: bool) -> Option<cli::console::Console> {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { config.logging.level.as_str() };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.logging.format {
        LogFormat::Json => {
            let _ = builder.json().with_ansi(false).with_writer(std::io::stderr).try_init();
            None
        }
        LogFormat::Human => {
            let builder = builder.with_ansi(terminal && cli::console::colour_allowed());
            if quiet || !terminal {
                let _ = builder.with_writer(std::io::stderr).try_init();
                return None;
            }
            let console = cli::console::Console::default();
            let _ = builder.with_writer(console.clone()).try_init();
            Some(console)
        }
    }
}

async fn run(path: &Path) -> Result<ExitCode> {
    let loaded = validate_file(path, &ProcessEnv, &plugins()).map_err(|e| anyhow!("{e}"))?;
    let config = loaded.config;
    let console = init_logging(&config, false);
    let mut signals = Signals::install();
    let options = StartOptions::from_file(path, std::sync::Arc::new(ProcessEnv));
    let runtime = Runtime::start_with_options(&config, plugins(), options).await.context("cannot start")?;
    if let Some(addr) = runtime.rest_addr {
        eprintln!("REST API at http://{addr}");
    }
    eprintln!(
        "running {} connector(s); Ctrl-C stops them and commits offsets.\n  tail with: tributary tail --config {} --bootstrap-servers {} --registry-url {} --topic <topic>",
        config.connectors.len(),
        path.display(),
        runtime.bootstrap_servers,
        runtime.registry_url,
    );
    let mode = match (console, config.logging.summary_interval) {
        (_, None) => cli::view::Mode::Off,
        (Some(console), Some(_)) => cli::view::Mode::Terminal { console, colour: cli::console::colour_allowed() },
        (None, Some(every)) => cli::view::Mode::Log(every.get()),
    };
    cli::view::spawn(runtime.supervisor.clone(), mode);
    signals.serve_until_stopped(&runtime).await;
    tracing::info!("stopping: flushing records and committing offsets");
    runtime.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The signals `run` reacts to, registered before it starts anything so that none is missed.
struct Signals {
    #[cfg(unix)]
    streams: Option<[tokio::signal::unix::Signal; 3]>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(int), Ok(term), Ok(hup)) => Some([int, term, hup]),
                _ => None,
            };
            Self { streams }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for SIGINT or SIGTERM. SIGHUP re-reads the config file meanwhile (a rejected file is
    /// logged with every error, and the running connectors are kept).
    async fn serve_until_stopped(&mut self, runtime: &Runtime) {
        #[cfg(unix)]
        if let Some([int, term, hup]) = &mut self.streams {
            loop {
                tokio::select! {
                    _ = int.recv() => return,
                    _ = term.recv() => return,
                    _ = hup.recv() => {
                        tracing::info!("SIGHUP: re-reading the config file");
                        // A rejected file is logged, with its errors, by the reload itself.
                        if let Err(e) = runtime.reload().await
                            && !matches!(e, ReloadError::Invalid(_))
                        {
                            tracing::error!(error = %e, "config reload failed; the running connectors are kept");
                        }
                    }
                }
            }
        }
        let _ = runtime;
        let _ = tokio::signal::ctrl_c().await;
    }
}

const EMBEDDED_HINT: &str = "lives inside `tributary run`: pass the address it printed at start-up";

impl Endpoints {
    fn bootstrap(&self, config: &Config) -> Result<String> {
        match (&self.bootstrap_servers, config.kafka.is_embedded()) {
            (Some(b), _) => Ok(b.clone()),
            (None, false) => Ok(config.kafka.bootstrap_servers.clone()),
            (None, true) => bail!("the config uses the embedded broker, which {EMBEDDED_HINT} as --bootstrap-servers"),
        }
    }

    fn registry(&self, config: &Config) -> Result<String> {
        match (&self.registry_url, config.schema_registry.is_embedded()) {
            (Some(r), _) => Ok(r.clone()),
            (None, false) => Ok(config.schema_registry.url.clone()),
            (None, true) => bail!("the config uses the embedded registry, which {EMBEDDED_HINT} as --registry-url"),
        }
    }
}

async fn offsets(action: OffsetsAction) -> Result<ExitCode> {
    match action {
        OffsetsAction::List { config, endpoints, connector } => {
            let cfg = load(&config.config)?;
            let _ = init_logging(&cfg, true);
            let bootstrap = endpoints.bootstrap(&cfg)?;
            let base = client_config(&bootstrap, &cfg.kafka.consumer);
            let topic = cfg.kafka.offsets.topic.clone();
            let stored =
                tokio::task::spawn_blocking(move || read_to_end(&base, &topic, Duration::from_secs(60))).await??;
            let mut entries: Vec<_> = stored.for_connector(&connector).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (partition, offset) in entries {
                println!("{}", serde_json::json!({"partition": partition.as_map(), "offset": offset.to_json()}));
            }
            Ok(ExitCode::SUCCESS)
        }
        OffsetsAction::Reset { config, endpoints, connector, partition } => {
            let cfg = load(&config.config)?;
            let _ = init_logging(&cfg, true);
            let bootstrap = endpoints.bootstrap(&cfg)?;
            let topic = cfg.kafka.offsets.topic.clone();
            let partitions: Vec<SourcePartition> = match partition {
                Some(text) => {
                    let map = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                        .context("--partition must be a JSON object")?;
                    vec![SourcePartition::new(map)?]
                }
                None => {
                    let base = client_config(&bootstrap, &cfg.kafka.consumer);
                    let t = topic.clone();
                    let stored =
                        tokio::task::spawn_blocking(move || read_to_end(&base, &t, Duration::from_secs(60))).await??;
                    stored.for_connector(&connector).into_keys().collect()
                }
            };
            let changes: Vec<_> = partitions.into_iter().map(|p| (p, None)).collect();
            let producer = client_config(&bootstrap, &cfg.kafka.producer);
            write_offsets(&producer, &topic, &connector, &changes, Duration::from_secs(30))
                .await
                .map_err(|e| anyhow!(e))?;
            println!("reset {} partition(s) of connector `{connector}`", changes.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
