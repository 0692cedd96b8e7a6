//! `tributary check`: connects to everything a config names — each Kafka client configuration,
//! the schema registry, each connector's source — and answers, one [`Check`] each, whether `run`
//! will work there; on failure with the cause and the fix.
//!
//! What a check writes it leaves harmless: the write test is one tombstone for the key
//! `["tributary-check",{}]` in the offsets topic (no connector is named that; compaction removes
//! it), and the transactions test only initialises a producer id.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

use crate::api::{Check, Output};
use crate::avro::Schemas;
use crate::clients::{client_config, registry_client};
use crate::config::{Config, Properties};
use crate::kafka::ErrorWatch;
use crate::plugins::Plugins;
use crate::schema_registry::{RegistryClient, RegistryError};

/// How long one Kafka step may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);
/// The key of the write test's tombstone in the offsets topic.
const PROBE_KEY: &[u8] = br#"["tributary-check",{}]"#;

/// Every check of `config`, in order: Kafka, the registry, then each connector's source.
pub async fn check_config(config: &Config, plugins: &Plugins) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for entry in &config.connectors {
        match plugins.validate(entry) {
            Ok(found) => outputs.extend(found.into_iter().map(|o| (entry.name.clone(), o))),
            Err(errors) => {
                for e in errors {
                    checks.push(Check::fail(format!("config {}", entry.name), e.to_string(), "fix the config"));
                }
            }
        }
    }
    checks.extend(kafka(config, &outputs).await);
    checks.extend(registry(config, &outputs).await);
    for entry in &config.connectors {
        let Some(plugin) = plugins.get(&entry.class) else { continue };
        for mut check in plugin.check(&entry.config).await {
            check.name = format!("{} {}", entry.name, check.name);
            checks.push(check);
        }
    }
    checks
}

/// The Kafka checks: once for `kafka.producer`/`kafka.consumer`, and again (brokers and write)
/// for each connector whose `producer` overrides change them.
async fn kafka(config: &Config, outputs: &[(String, Output)]) -> Vec<Check> {
    let kafka = &config.kafka;
    if kafka.is_embedded() {
        return vec![Check::ok("kafka", "embedded: an in-process broker, nothing to reach")];
    }
    let bootstrap = kafka.bootstrap_servers.clone();
    let offsets_topic = kafka.offsets.topic.clone();
    let topics: Vec<String> = {
        let mut t: Vec<String> = outputs.iter().map(|(_, o)| o.topic.clone()).collect();
        t.sort();
        t.dedup();
        t
    };
    let mut checks = Vec::new();
    let producer = client_config(&bootstrap, &kafka.producer);
    let Some(found) = brokers("kafka", &producer, &mut checks).await else { return checks };
    checks.push(offsets_policy(&producer, &offsets_topic, &found).await);
    for topic in &topics {
        checks.push(match found.get(topic) {
            Some(partitions) => Check::ok(format!("kafka topic {topic}"), format!("exists, {partitions} partition(s)")),
            None => Check::warn(
                format!("kafka topic {topic}"),
                "absent: the broker must create it on first write (auto.create.topics.enable) or create it first",
            ),
        });
    }
    let consumer = client_config(&bootstrap, &kafka.consumer);
    checks.push(read_offsets(&consumer, &offsets_topic).await);
    if found.contains_key(&offsets_topic) {
        checks.push(write_probe("kafka", &producer, &offsets_topic).await);
    }
    checks.push(transactions("kafka", &producer).await);
    for entry in config.connectors.iter().filter(|e| !e.producer.is_empty()) {
        let mut merged: Properties = kafka.producer.clone();
        merged.extend(entry.producer.clone());
        if merged == kafka.producer {
            continue;
        }
        let label = format!("kafka ({} producer)", entry.name);
        let producer = client_config(&bootstrap, &merged);
        if brokers(&label, &producer, &mut checks).await.is_some() && found.contains_key(&offsets_topic) {
            checks.push(write_probe(&label, &producer, &offsets_topic).await);
        }
    }
    checks
}

/// The metadata of the cluster (topic → partitions), or `None` after a failed check.
async fn brokers(label: &str, base: &ClientConfig, checks: &mut Vec<Check>) -> Option<BTreeMap<String, usize>> {
    let base = base.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut config = base;
        config.set("allow.auto.create.topics", "false").set("log_level", "3");
        let producer: ThreadedProducer<ErrorWatch> = crate::kafka::create(&config).map_err(|e| (e, None))?;
        match producer.client().fetch_metadata(None, KAFKA_TIMEOUT) {
            Ok(metadata) => {
                let topics = metadata.topics().iter().map(|t| (t.name().to_owned(), t.partitions().len())).collect();
                Ok((metadata.brokers().len(), topics))
            }
            Err(e) => {
                std::thread::sleep(Duration::from_millis(200));
                Err((e.to_string(), producer.context().diagnosis()))
            }
        }
    })
    .await;
    let name = format!("{label} brokers");
    match answer {
        Ok(Ok((count, topics))) => {
            checks.push(Check::ok(name, format!("{count} broker(s) answered")));
            Some(topics)
        }
        Ok(Err((_, Some(d)))) => {
            checks.push(Check::fail(name, d.cause, d.fix));
            None
        }
        Ok(Err((error, None))) => {
            checks.push(Check::fail(
                name,
                format!("no answer: {error}"),
                "check bootstrap_servers, that the brokers are reachable from here, and security.protocol",
            ));
            None
        }
        Err(e) => {
            checks.push(Check::fail(name, e.to_string(), "report this"));
            None
        }
    }
}

async fn offsets_policy(base: &ClientConfig, topic: &str, found: &BTreeMap<String, usize>) -> Check {
    let name = format!("kafka offsets topic {topic}");
    if !found.contains_key(topic) {
        return Check::ok(name, "absent: run creates it with cleanup.policy=compact (needs CREATE permission)");
    }
    let admin = match crate::kafka::admin_client(base) {
        Ok(a) => a,
        Err(e) => return Check::fail(name, e, "check the kafka.producer properties"),
    };
    let options = AdminOptions::new().request_timeout(Some(KAFKA_TIMEOUT));
    let described = admin.describe_configs([&ResourceSpecifier::Topic(topic)], &options).await;
    let policy = match described.map(|mut r| r.pop()) {
        Ok(Some(Ok(resource))) => resource.get("cleanup.policy").and_then(|e| e.value.clone()),
        Ok(Some(Err(code))) => {
            return Check::warn(
                name,
                format!("exists; its cleanup.policy cannot be read ({code}): grant DESCRIBE_CONFIGS"),
            );
        }
        other => return Check::warn(name, format!("exists; its configs cannot be read ({other:?})")),
    };
    match policy.as_deref().map(str::trim) {
        Some("compact") => Check::ok(name, format!("exists, {} partition(s), cleanup.policy=compact", found[topic])),
        other => Check::fail(
            name,
            format!("cleanup.policy={}: offsets are lost once retention passes", other.unwrap_or("delete")),
            format!("set cleanup.policy=compact on `{topic}`, or set kafka.offsets.topic to another topic"),
        ),
    }
}

async fn read_offsets(base: &ClientConfig, topic: &str) -> Check {
    let (base, owned) = (base.clone(), topic.to_owned());
    let name = format!("kafka read {topic}");
    let read = tokio::task::spawn_blocking(move || crate::offsets::read_to_end(&base, &owned, KAFKA_TIMEOUT)).await;
    match read {
        Ok(Ok(stored)) => {
            Check::ok(name, format!("read to the end; offsets of {} connector(s)", stored.connectors().count()))
        }
        Ok(Err(e)) => {
            Check::fail(name, e.reason, "check kafka.consumer (security properties, READ permission on the topic)")
        }
        Err(e) => Check::fail(name, e.to_string(), "report this"),
    }
}

/// Writes one tombstone to the offsets topic through an idempotent producer, as `run` does.
async fn write_probe(label: &str, base: &ClientConfig, topic: &str) -> Check {
    let (base, owned) = (base.clone(), topic.to_owned());
    let name = format!("{label} write {topic}");
    let result = tokio::task::spawn_blocking(move || -> Result<(), (String, Option<crate::kafka::Diagnosis>)> {
        let mut config = base;
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", KAFKA_TIMEOUT.as_millis().to_string())
            .set("log_level", "3");
        let producer: ThreadedProducer<ErrorWatch> = crate::kafka::create(&config).map_err(|e| (e, None))?;
        producer
            .send(BaseRecord::<[u8], [u8]>::to(&owned).key(PROBE_KEY))
            .map_err(|(e, _)| (e.to_string(), producer.context().diagnosis()))?;
        producer
            .flush(KAFKA_TIMEOUT + Duration::from_secs(5))
            .map_err(|e| (e.to_string(), producer.context().diagnosis()))?;
        match producer.context().diagnosis() {
            Some(d) => Err(("refused".into(), Some(d))),
            None => Ok(()),
        }
    })
    .await;
    match result {
        Ok(Ok(())) => Check::ok(name, "an idempotent producer wrote a record (a tombstone no connector reads)"),
        Ok(Err((_, Some(d)))) => Check::fail(name, d.cause, d.fix),
        Ok(Err((error, None))) => {
            Check::fail(name, error, "grant WRITE on the topic and IDEMPOTENT_WRITE on the cluster to this principal")
        }
        Err(e) => Check::fail(name, e.to_string(), "report this"),
    }
}

/// Initialises a transactional producer: needed only for exactly-once delivery, so a refusal is
/// a warning.
async fn transactions(label: &str, base: &ClientConfig) -> Check {
    let base = base.clone();
    let name = format!("{label} transactions");
    let result = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let mut config = base;
        config.set("transactional.id", format!("tributary-check-{}", std::process::id())).set("log_level", "3");
        let producer: ThreadedProducer<ErrorWatch> = crate::kafka::create(&config)?;
        producer.init_transactions(KAFKA_TIMEOUT).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(())) => Check::ok(name, "a transactional producer initialised (exactly-once is possible)"),
        Ok(Err(e)) => Check::warn(
            name,
            format!(
                "a transactional producer cannot initialise ({e}): exactly-once would need WRITE on a transactional id"
            ),
        ),
        Err(e) => Check::warn(name, e.to_string()),
    }
}

/// The registry checks: reachable and authenticated, then each output's subject.
async fn registry(config: &Config, outputs: &[(String, Output)]) -> Vec<Check> {
    let section = &config.schema_registry;
    if section.is_embedded() {
        return vec![Check::ok("registry", "embedded: an in-process registry, nothing to reach")];
    }
    let client = match registry_client(section, &section.url) {
        Ok(c) => c,
        Err(e) => return vec![Check::fail("registry", e.to_string(), "fix schema_registry in the config")],
    };
    let mut checks = Vec::new();
    match client.subjects().await {
        Ok(subjects) => checks.push(Check::ok(
            format!("registry {}", client.url()),
            format!("reachable and authenticated; {} subject(s)", subjects.len()),
        )),
        Err(e) => {
            let fix = registry_fix(&e);
            checks.push(Check::fail(format!("registry {}", client.url()), e.to_string(), fix));
            return checks;
        }
    }
    let schemas = match Schemas::load_dir(&config.schemas_dir) {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::fail("schemas", e.to_string(), "fix schemas_dir"));
            return checks;
        }
    };
    let strategy = crate::runtime::strategy(section.subject_name_strategy);
    for (connector, output) in outputs {
        let Some(schema) = schemas.get(&output.value_schema) else { continue };
        let subject = strategy.value_subject(&output.topic, schema.full_name());
        checks.push(subject_check(&client, &subject, schema.canonical_json(), section.auto_register, connector).await);
    }
    checks
}

async fn subject_check(
    client: &RegistryClient,
    subject: &str,
    schema: &str,
    auto_register: bool,
    connector: &str,
) -> Check {
    let name = format!("registry subject {subject}");
    match client.lookup(subject, schema).await {
        Ok(Some(found)) => {
            return Check::ok(name, format!("holds the schema as id {} (version {})", found.id, found.version));
        }
        Ok(None) => {}
        Err(e) => return Check::fail(name, e.to_string(), registry_fix(&e)),
    }
    if !auto_register {
        return Check::fail(
            name,
            format!("does not hold the schema connector `{connector}` writes, and auto_register is false"),
            "register the schema, or set schema_registry.auto_register: true",
        );
    }
    match client.versions(subject).await {
        Err(RegistryError::SubjectNotFound { .. }) => Check::ok(name, "absent: run registers the schema as version 1"),
        Err(e) => Check::fail(name, e.to_string(), registry_fix(&e)),
        Ok(_) => match client.test_compatibility(subject, schema, None).await {
            Ok(answer) if answer.is_compatible => {
                Check::ok(name, "compatible with the subject's versions: run registers the schema")
            }
            Ok(answer) => Check::fail(
                name,
                format!("the schema breaks the subject's compatibility: {}", answer.messages.join("; ")),
                "evolve the schema compatibly (schemas/README.md), or change the subject's compatibility level",
            ),
            Err(e) => Check::fail(name, e.to_string(), registry_fix(&e)),
        },
    }
}

fn registry_fix(error: &RegistryError) -> &'static str {
    match error {
        RegistryError::Auth { .. } | RegistryError::Token(_) => {
            "check schema_registry.basic_auth or bearer_auth (and the principal's permissions on the subject)"
        }
        RegistryError::Tls { .. } => {
            "set schema_registry.ssl.ca.location to the CA that signed the registry's certificate"
        }
        RegistryError::Unavailable { .. } => "check schema_registry.url, proxy settings, and that the registry is up",
        _ => "see the registry's message",
    }
}
