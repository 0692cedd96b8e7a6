//! Turning librdkafka's connection errors into a cause and a fix a person can act on.
//!
//! librdkafka reports a refused login or an untrusted certificate through its error callback,
//! not through the call that was waiting for the broker: a metadata request simply times out and
//! a produce waits forever. The client context ([`super::ErrorWatch`]) keeps the last such error
//! of a client so that a timeout can be explained, and [`diagnose`] names what is wrong in the
//! configuration.

use std::fmt;

use rdkafka::error::RDKafkaErrorCode;

/// What kind of problem a connection error shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The broker refused the SASL username or password.
    Credentials,
    /// The broker does not enable the configured SASL mechanism.
    MechanismNotEnabled,
    /// The broker's certificate is not signed by a trusted CA.
    UntrustedCertificate,
    /// The broker wants a client certificate (mTLS) and got none it accepts.
    ClientCertificate,
    /// `security.protocol` does not match the listener (TLS against plaintext or the reverse).
    ProtocolMismatch,
}

/// A cause and the fix, for one connection error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub problem: Problem,
    pub cause: String,
    pub fix: String,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.cause, self.fix)
    }
}

/// Names the configuration problem behind a librdkafka error, when the error shows one. Errors
/// that may clear up by themselves (a broker restarting, a network blip) give `None`.
pub fn diagnose(code: Option<RDKafkaErrorCode>, reason: &str) -> Option<Diagnosis> {
    let lower = reason.to_ascii_lowercase();
    let diagnosis =
        |problem, cause: &str, fix: &str| Some(Diagnosis { problem, cause: cause.to_owned(), fix: fix.to_owned() });
    if lower.contains("unsupported sasl mechanism") {
        let offered = reason
            .split_once("supported mechanisms:")
            .map(|(_, rest)| rest.trim().trim_end_matches(')').trim().to_owned())
            .filter(|s| !s.is_empty());
        let fix = match offered {
            Some(list) => format!("set sasl.mechanism to one the broker offers ({list})"),
            None => "set sasl.mechanism to one the broker's listener enables".to_owned(),
        };
        return Some(Diagnosis {
            problem: Problem::MechanismNotEnabled,
            cause: "the broker does not enable the configured SASL mechanism".into(),
            fix,
        });
    }
    if code == Some(RDKafkaErrorCode::Authentication)
        && (lower.contains("authentication failed")
            || lower.contains("invalid username or password")
            || lower.contains("invalid credentials")
            || lower.contains("sasl authentication error"))
    {
        return diagnosis(
            Problem::Credentials,
            "the broker rejected the SASL credentials",
            "check sasl.username and sasl.password (and that the user exists for this sasl.mechanism)",
        );
    }
    if lower.contains("certificate verify failed") {
        return diagnosis(
            Problem::UntrustedCertificate,
            "the broker's TLS certificate is not trusted",
            "set ssl.ca.location to the CA certificate that signed it (or check that the broker's \
             certificate names the host in bootstrap_servers)",
        );
    }
    if lower.contains("certificate required") || lower.contains("peer did not return a certificate") {
        return diagnosis(
            Problem::ClientCertificate,
            "the broker requires a client certificate (mutual TLS)",
            "set ssl.certificate.location and ssl.key.location to a certificate the broker trusts",
        );
    }
    if lower.contains("connecting to a ssl listener")
        || lower.contains("connecting to a plaintext broker listener")
        || lower.contains("wrong version number")
        || lower.contains("packet length too long")
    {
        return diagnosis(
            Problem::ProtocolMismatch,
            "security.protocol does not match the broker's listener",
            "use SSL or SASL_SSL for a TLS listener and PLAINTEXT or SASL_PLAINTEXT for a plain one",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // The texts below are what librdkafka 2.12 reports against Apache Kafka 4.x.

    #[test]
    fn a_refused_password_is_a_credentials_problem() {
        let d = diagnose(
            Some(RDKafkaErrorCode::Authentication),
            "sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed: Invalid \
             username or password (after 3ms in state AUTH_REQ)",
        )
        .expect("diagnosed");
        assert_eq!(d.problem, Problem::Credentials);
        assert!(d.to_string().contains("sasl.password"), "{d}");
    }

    #[test]
    fn a_mechanism_the_broker_lacks_names_the_ones_it_offers() {
        let d = diagnose(
            Some(RDKafkaErrorCode::Authentication),
            "sasl_ssl://127.0.0.1:9094/bootstrap: Unsupported SASL mechanism: broker's supported mechanisms: \
             PLAIN,SCRAM-SHA-512",
        )
        .expect("diagnosed");
        assert_eq!(d.problem, Problem::MechanismNotEnabled);
        assert!(d.fix.contains("PLAIN,SCRAM-SHA-512"), "{d}");
    }

    #[test]
    fn an_unknown_ca_asks_for_ssl_ca_location() {
        let d = diagnose(
            Some(RDKafkaErrorCode::SSL),
            "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate \
             verify failed: broker certificate could not be verified",
        )
        .expect("diagnosed");
        assert_eq!(d.problem, Problem::UntrustedCertificate);
        assert!(d.fix.contains("ssl.ca.location"), "{d}");
    }

    #[test]
    fn a_transient_error_is_not_a_configuration_problem() {
        assert_eq!(
            diagnose(Some(RDKafkaErrorCode::BrokerTransportFailure), "127.0.0.1:9092/1: Connection refused"),
            None
        );
    }
}
