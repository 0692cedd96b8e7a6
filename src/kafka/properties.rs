//! What can be known about librdkafka properties without a broker: files that do not exist,
//! mechanisms this build lacks, and whatever librdkafka itself refuses when a client is made
//! (unknown properties, bad values, certificates that do not parse).

use std::path::Path;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::BaseProducer;

use crate::config::{Config, ConfigError, Properties, is_sensitive_key};

/// Properties that name a file librdkafka reads when the client is made.
const FILE_KEYS: [&str; 5] =
    ["ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.crl.location", "ssl.keystore.location"];

/// SASL mechanisms this build can speak (Kerberos/GSSAPI needs Cyrus SASL, which is not built in).
/// OAUTHBEARER tokens come from Tributary itself (see [`super::oauthbearer`]).
pub const SASL_MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// Which kind of client a set of properties is for: librdkafka refuses a consumer property on a
/// producer and the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Producer,
    Consumer,
}

/// Every problem in the `kafka` section and the connectors' `producer` overrides, each under the
/// key path of its section.
pub fn check_config(config: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let kafka = &config.kafka;
    if kafka.is_embedded() {
        return errors;
    }
    let mut check = |path: &str, props: &Properties, role| {
        errors.extend(check(props, role).into_iter().map(|message| ConfigError::new(path, message)));
    };
    check("kafka.producer", &kafka.producer, Role::Producer);
    check("kafka.consumer", &kafka.consumer, Role::Consumer);
    for entry in &config.connectors {
        if entry.producer.is_empty() {
            continue;
        }
        let mut merged = kafka.producer.clone();
        merged.extend(entry.producer.clone());
        check(&format!("{}.producer", entry.path), &merged, Role::Producer);
    }
    errors
}

/// The problems of one client's properties, as messages naming the property.
pub fn check(props: &Properties, role: Role) -> Vec<String> {
    let mut problems = Vec::new();
    for key in FILE_KEYS {
        let Some(value) = props.get(key).map(ToString::to_string) else { continue };
        // `probe` asks librdkafka to look for the system's CA bundle.
        if key == "ssl.ca.location" && value == "probe" {
            continue;
        }
        if let Err(e) = std::fs::File::open(Path::new(&value)) {
            problems.push(format!("{key}: cannot read `{value}`: {e}"));
        }
    }
    for key in ["sasl.mechanism", "sasl.mechanisms"] {
        if let Some(mechanism) = props.get(key).map(ToString::to_string)
            && !SASL_MECHANISMS.contains(&mechanism.to_ascii_uppercase().as_str())
        {
            problems.push(format!(
                "{key}: `{mechanism}` is not available in this build (it speaks {})",
                SASL_MECHANISMS.join(", ")
            ));
        }
    }
    if problems.is_empty()
        && let Err(e) = make_client(props, role)
    {
        problems.push(e);
    }
    problems
}

/// Makes a client with `props` and no bootstrap servers, so that librdkafka checks every
/// property (and reads the TLS files) without connecting anywhere.
fn make_client(props: &Properties, role: Role) -> Result<(), String> {
    let mut config = ClientConfig::new();
    for (key, value) in props {
        if key != "bootstrap.servers" {
            config.set(key, value.to_string());
        }
    }
    let (mut config, _tokens) = super::oauthbearer::split(&config)?;
    // No broker is named, so librdkafka would log that it has none: nothing to say here.
    config.set("log_level", "0");
    let made = match role {
        Role::Producer => config.create::<BaseProducer>().map(drop),
        Role::Consumer => config.set("group.id", "tributary-validate").create::<BaseConsumer>().map(drop),
    };
    made.map_err(|e| {
        let reason = match e {
            rdkafka::error::KafkaError::ClientCreation(reason) => reason,
            other => other.to_string(),
        };
        without_secrets(reason, props)
    })
}

/// `text` with the value of every sensitive property replaced where it stands as a word of its
/// own: librdkafka repeats the value of a property it refuses.
fn without_secrets(text: String, props: &Properties) -> String {
    props.iter().filter(|(key, _)| is_sensitive_key(key)).fold(text, |text, (_, value)| {
        let value = value.to_string();
        if value.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&value) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + value.len()..].chars().next();
            let standalone = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '-');
            out.push_str(&rest[..at]);
            out.push_str(if standalone(before) && standalone(after) { crate::api::Secret::REDACTED } else { &value });
            rest = &rest[at + value.len()..];
        }
        out.push_str(rest);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PropertyValue;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), PropertyValue::Text((*v).to_owned()))).collect()
    }

    #[test]
    fn this_build_speaks_tls_and_sasl() {
        let mut p = props(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-512")]);
        assert_eq!(check(&p, Role::Producer), vec!["sasl.username and sasl.password must be set".to_owned()]);
        p.extend(props(&[("sasl.username", "u"), ("sasl.password", "p")]));
        assert_eq!(check(&p, Role::Producer), Vec::<String>::new());
        assert_eq!(check(&p, Role::Consumer), Vec::<String>::new());
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let p = props(&[("security.protocol", "SSL"), ("ssl.ca.location", "/nonexistent/ca.pem")]);
        let problems = check(&p, Role::Producer);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("ssl.ca.location: cannot read `/nonexistent/ca.pem`"), "{problems:?}");
    }

    #[test]
    fn kerberos_is_not_in_this_build() {
        let problems = check(&props(&[("sasl.mechanism", "GSSAPI")]), Role::Producer);
        assert!(problems[0].contains("GSSAPI") && problems[0].contains("SCRAM-SHA-512"), "{problems:?}");
    }

    #[test]
    fn librdkafka_judges_the_rest() {
        let problems = check(&props(&[("security.protocol", "SASL_TLS")]), Role::Consumer);
        assert!(problems[0].contains("security.protocol"), "{problems:?}");
        let problems = check(&props(&[("no.such.property", "1")]), Role::Producer);
        assert!(problems[0].contains("no.such.property"), "{problems:?}");
    }

    #[test]
    fn a_refused_secret_is_not_repeated() {
        let p = props(&[("sasl.oauthbearer.client.secret", "hunter2"), ("sasl.username", "svc")]);
        let refused = "Configuration property \"sasl.oauthbearer.client.secret\" not supported: hunter2";
        assert_eq!(
            without_secrets(refused.to_owned(), &p),
            "Configuration property \"sasl.oauthbearer.client.secret\" not supported: [redacted]"
        );
        // A short secret inside another word is left alone: the message stays readable.
        let p = props(&[("sasl.password", "y")]);
        assert_eq!(without_secrets("property y".to_owned(), &p), "property [redacted]");
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused_by_librdkafka() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let p = props(&[("security.protocol", "SSL"), ("ssl.ca.location", path.to_str().expect("utf-8 path"))]);
        let problems = check(&p, Role::Producer);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("ssl.ca.location"), "{problems:?}");
    }
}
