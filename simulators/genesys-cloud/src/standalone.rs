//! Running the simulator on its own, for `tributary simulate genesys`.

use std::path::Path;

use crate::config::SimConfig;
use crate::error::Result;
use crate::handle::Simulator;

/// Builds a config from an optional YAML file, an optional faults file and an optional time-scale
/// override — the three knobs of `tributary simulate genesys [--config F] [--faults F] [--time-scale X]`.
pub fn load_config(config: Option<&Path>, faults: Option<&Path>, time_scale: Option<f64>) -> Result<SimConfig> {
    let mut cfg = match config {
        Some(p) => SimConfig::from_yaml_file(p)?,
        None => SimConfig::default(),
    };
    if let Some(f) = faults {
        cfg = cfg.with_faults_file(f)?;
    }
    if let Some(s) = time_scale {
        cfg.time_scale = s;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Starts the simulator, prints where to point a client (URLs, credentials, queues) to stdout,
/// runs until Ctrl-C, then shuts down and, if `truth.dump_path` is set, writes the truth there.
pub async fn run_standalone(config: SimConfig) -> Result<()> {
    let dump = config.truth.dump_path.clone();
    let handle = Simulator::start(config).await?;
    println!("Genesys Cloud simulator running (Ctrl-C to stop)\n{}", handle.connection_info());
    let _ = tokio::signal::ctrl_c().await;
    if let Some(path) = dump {
        handle.dump_truth_jsonl(&path)?;
        println!("truth written to {}", path.display());
    }
    handle.shutdown().await;
    Ok(())
}
