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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_faults_and_scale_combine() {
        let dir = std::env::temp_dir().join(format!("genesys-sim-load-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let cfg_path = dir.join("sim.yaml");
        let faults_path = dir.join("faults.yaml");
        let written = std::fs::write(&cfg_path, "seed: 9\nqueues: {count: 2}\n")
            .and_then(|_| std::fs::write(&faults_path, "- {at: 1m, kind: tcp_reset}\n"));
        assert!(written.is_ok());
        let cfg = load_config(Some(&cfg_path), Some(&faults_path), Some(120.0));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            matches!(&cfg, Ok(c) if c.seed == 9 && c.queues.count == 2 && c.faults.schedule.len() == 1 && c.time_scale == 120.0),
            "{cfg:?}"
        );
        assert!(load_config(None, None, Some(-1.0)).is_err());
        assert!(load_config(Some(Path::new("/nonexistent/sim.yaml")), None, None).is_err());
    }
}
