//! What `deploy/` and the README promise, held against the binary: the Kubernetes manifests'
//! ports, probes and secret files match the config they ship and what `tributary run` serves; the
//! container's config validates; every metric the Grafana dashboard and the Prometheus alerts
//! use is in the `/metrics` of a real run (cluster mode on a real Kafka broker, a Genesys
//! connector whose sockets die), and every metric that run exposes is in the README's table.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use tributary_test_support::broker::Broker;
use tributary_test_support::cli::*;
use tributary_test_support::registry::standalone_registry;
use tributary_test_support::rest::http_get_blocking as http_get;
use tributary_test_support::{workspace, write_file};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

fn read(path: &str) -> String {
    let full = workspace().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn get<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or_else(|| panic!("no {pointer} in {value}"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    get(value, pointer).as_str().unwrap_or_else(|| panic!("{pointer} is not text in {value}"))
}

/// The port of a `host:port` listen address.
fn port_of(listen: &str) -> u64 {
    listen.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in `{listen}`"))
}

/// Every `NAME` of `${file:secrets/NAME}` in `text`.
fn secret_files(text: &str) -> BTreeSet<String> {
    text.split("${file:secrets/").skip(1).filter_map(|rest| rest.split_once('}')).map(|(n, _)| n.to_owned()).collect()
}

/// Waits until `GET path` answers 200; panics after `timeout`.
fn wait_ok(address: &str, path: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, body) = http_get(address, path);
        if code == 200 {
            return body;
        }
        assert!(Instant::now() < deadline, "GET {path} answered {code} for {timeout:?}: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Validates `config` with `tributary validate`, secret files it names created beside it.
fn assert_validates(config: &str, secrets: &BTreeSet<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("secrets")).expect("secrets dir");
    for name in secrets {
        write_file(&dir.path().join("secrets"), name, "placeholder-value\n");
    }
    // The image keeps the schemas at /opt/tributary/schemas; here they are in the workspace.
    let config = config.replace("/opt/tributary/schemas", &workspace().join("schemas").display().to_string());
    let path = write_file(dir.path(), "config.yaml", &config);
    let path = path.to_str().expect("utf-8 path");
    let out = cli(TRIBUTARY, &["validate", "--config", path], Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "the config does not validate:\n{}\n{}", out.stdout, out.stderr);
}

#[test]
fn manifests_match_the_config_they_ship_and_what_the_binary_serves() {
    let deployment = yaml("deploy/kubernetes/deployment.yaml");
    let service = yaml("deploy/kubernetes/service.yaml");
    let monitor = yaml("deploy/kubernetes/servicemonitor.yaml");
    let configmap = yaml("deploy/kubernetes/configmap.yaml");
    let secret = yaml("deploy/kubernetes/secret.example.yaml");
    let kustomization = yaml("deploy/kubernetes/kustomization.yaml");

    // kustomize applies every manifest but the example Secret.
    let resources: Vec<&str> =
        get(&kustomization, "/resources").as_array().expect("a list").iter().filter_map(Value::as_str).collect();
    for file in ["deployment.yaml", "service.yaml", "servicemonitor.yaml", "configmap.yaml"] {
        assert!(resources.contains(&file), "{file} is not in kustomization.yaml: {resources:?}");
    }
    assert!(!resources.contains(&"secret.example.yaml"), "the example Secret would be applied");

    // The config the ConfigMap carries listens on the container's `http` port.
    let config_text = text(&configmap, "/data/config.yaml");
    let config: Value = serde_yaml_ng::from_str(config_text).expect("the ConfigMap's config.yaml is YAML");
    let api_port = port_of(text(&config, "/api/listen"));
    assert!(text(&config, "/api/listen").starts_with("0.0.0.0:"), "a pod must listen beyond loopback");
    let container = get(&deployment, "/spec/template/spec/containers/0");
    let ports = get(container, "/ports").as_array().expect("ports");
    let http = ports.iter().find(|p| p["name"] == "http").expect("a container port named http");
    assert_eq!(http["containerPort"].as_u64(), Some(api_port), "container port vs api.listen");
    for (probe, path) in [("livenessProbe", "/health"), ("readinessProbe", "/ready")] {
        assert_eq!(text(container, &format!("/{probe}/httpGet/path")), path, "{probe}");
        assert_eq!(text(container, &format!("/{probe}/httpGet/port")), "http", "{probe}");
    }
    let service_port = get(&service, "/spec/ports/0");
    assert_eq!(service_port["targetPort"], "http");
    assert_eq!(service_port["name"], "http");
    let endpoint = get(&monitor, "/spec/endpoints/0");
    assert_eq!(endpoint["port"], "http");
    assert_eq!(endpoint["path"], "/metrics");
    let selector = get(&monitor, "/spec/selector/matchLabels").as_object().expect("labels");
    for (key, value) in selector {
        assert_eq!(get(&service, "/metadata/labels").get(key), Some(value), "ServiceMonitor selector");
    }

    // Config and secrets are mounted where the config expects them, and every secret file the
    // config reads is a key of the Secret.
    let mounts = get(container, "/volumeMounts").as_array().expect("mounts");
    let volumes = get(&deployment, "/spec/template/spec/volumes").as_array().expect("volumes");
    let mount_of = |kind: &str, name: &str| {
        let volume = volumes
            .iter()
            .find(|v| v.pointer(&format!("/{kind}")).is_some_and(|s| s.to_string().contains(name)))
            .unwrap_or_else(|| panic!("no {kind} volume of {name}"));
        let mount = mounts.iter().find(|m| m["name"] == volume["name"]).expect("the volume is mounted");
        text(mount, "/mountPath").to_owned()
    };
    let config_mount = mount_of("configMap", text(&configmap, "/metadata/name"));
    assert!(config_mount == "/etc/tributary" || config_mount == "/etc/tributary/config.yaml", "{config_mount}");
    assert_eq!(mount_of("secret", text(&secret, "/metadata/name")), "/etc/tributary/secrets");
    let wanted = secret_files(config_text);
    assert!(!wanted.is_empty(), "the config reads no secret file");
    let keys: BTreeSet<String> = ["/stringData", "/data"]
        .iter()
        .filter_map(|p| secret.pointer(p)?.as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    let missing: Vec<&String> = wanted.difference(&keys).collect();
    assert!(missing.is_empty(), "secret files the config reads but the Secret lacks: {missing:?}");
    assert_validates(config_text, &wanted);

    // The container image: its config validates and listens on the port it exposes and checks.
    let dockerfile = read("Dockerfile");
    let container_config = read("deploy/container/config.yaml");
    let listen: Value = serde_yaml_ng::from_str(&container_config).expect("YAML");
    let port = port_of(text(&listen, "/api/listen"));
    assert!(dockerfile.contains(&format!("EXPOSE {port}")), "the Dockerfile does not expose {port}");
    let healthcheck = dockerfile.lines().skip_while(|l| !l.starts_with("HEALTHCHECK")).take(3).collect::<String>();
    assert!(healthcheck.contains(&format!("{port}/health")), "HEALTHCHECK: {healthcheck}");
    assert_validates(&container_config, &BTreeSet::new());

    // And the binary serves those paths.
    let dir = tempfile::tempdir().expect("temp dir");
    let local = run_config(dir.path(), "  - {name: probe-paths, class: datagen, topic: probe.records, rate: 10}")
        .to_str()
        .map(|p| std::fs::read_to_string(p).expect("written"))
        .expect("utf-8")
        .replace("api: {enabled: false}", "api: {listen: \"127.0.0.1:0\"}");
    let path = write_file(dir.path(), "config.yaml", &local);
    let mut run = RunningCli::start(TRIBUTARY, &path);
    let address = run.rest_address(Duration::from_secs(30));
    for path in ["/health", "/ready", "/metrics"] {
        wait_ok(&address, path, Duration::from_secs(30));
    }
}

/// Every `tributary_*` and `genesys_*` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let named = token.strip_prefix("tributary_").or_else(|| token.strip_prefix("genesys_"));
        if named.is_some_and(|rest| !rest.is_empty() && !rest.ends_with('_')) {
            names.insert(token.to_owned());
        }
    }
    names
}

/// Metric families in a Prometheus text exposition (histogram series folded into their family).
fn exposed(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `name` as a family: `x_bucket`, `x_sum`, `x_count` of a histogram `x` are `x`.
fn family<'a>(name: &'a str, families: &BTreeSet<String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families.contains(base)
        {
            return base;
        }
    }
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_alerts_and_the_metrics_table_name_only_what_a_real_run_exposes() {
    let bootstrap = Broker::shared().bootstrap();
    let registry = standalone_registry().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Protocol time runs 10x: sockets die every 3 s of real time, so deaths, recoveries and gaps
    // are measured; a small REST budget makes requests wait for it.
    let schedule: String = (1..=6).map(|i| format!("          - {{at: {}s, kind: tcp_reset}}\n", i * 30)).collect();
    let text = format!(
        r#"kafka:
  bootstrap_servers: {bootstrap}
  offsets: {{topic: offsets.deploy, partitions: 1, flush_interval: 1s}}
cluster: {{group_id: tributary-deploy, session_timeout: 6s, heartbeat_interval: 1s}}
schema_registry: {{url: {registry}}}
schemas_dir: {schemas}
api: {{listen: "127.0.0.1:0"}}
logging: {{level: info, summary_interval: off}}
connectors:
  - {{name: deploy-datagen, class: datagen, topic: deploy.records, rate: 50, record_bytes: 100}}
  - name: deploy-genesys
    class: genesys-cloud
    environment: simulator
    topic: deploy.conversations
    rest: {{requests_per_minute: 30}}
    simulator:
      time_scale: 10
      queues: {{count: 4}}
      traffic: {{arrivals_per_minute: 60}}
      faults:
        schedule:
{schedule}"#,
        registry = registry.url(),
        schemas = workspace().join("schemas").display()
    );
    let config = write_file(dir.path(), "config.yaml", &text);
    let mut run = RunningCli::start(TRIBUTARY, &config);
    let address = run.rest_address(Duration::from_secs(60));
    let wanted = {
        let mut names = metric_names(&read("deploy/grafana/tributary.json"));
        names.extend(metric_names(&read("deploy/prometheus/alerts.yaml")));
        names
    };
    assert!(wanted.len() >= 15, "the dashboard and alerts use few metrics: {wanted:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let (metrics, families) = loop {
        let (_, metrics) = tokio::task::spawn_blocking({
            let address = address.clone();
            move || http_get(&address, "/metrics")
        })
        .await
        .expect("the request thread");
        let families = exposed(&metrics);
        let missing: Vec<&String> = wanted.iter().filter(|n| !families.contains(family(n, &families))).collect();
        if missing.is_empty() && metrics.contains("genesys_recovery_seconds_count") {
            break (metrics, families);
        }
        assert!(
            Instant::now() < deadline,
            "metrics the dashboard or alerts use that a real run does not expose after 120 s: {missing:?}\n{metrics}\n{}",
            run.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Prometheus conventions: counters end in `_total`, histograms of time in `_seconds`.
    for line in metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(kind)) = (words.next(), words.next()) else { continue };
        match kind {
            "counter" => assert!(name.ends_with("_total"), "counter {name} does not end in _total"),
            "histogram" | "summary" => assert!(name.ends_with("_seconds"), "{kind} {name} is not in seconds"),
            _ => assert!(!name.ends_with("_total"), "gauge {name} ends in _total"),
        }
    }

    // The README's table lists every metric the run exposed.
    let readme = read("README.md");
    let documented = metric_names(
        &readme.lines().filter(|l| l.starts_with("| `tributary_") || l.starts_with("| `genesys_")).collect::<String>(),
    );
    let undocumented: Vec<&String> = families
        .iter()
        .filter(|n| n.starts_with("tributary_") || n.starts_with("genesys_"))
        .filter(|n| !documented.contains(*n))
        .collect();
    assert!(undocumented.is_empty(), "metrics missing from the README's table: {undocumented:?}");
    run.signal("TERM");
    run.wait_exit(Duration::from_secs(60));
}
