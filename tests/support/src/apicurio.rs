//! Apicurio Registry (an independent registry with Confluent's API at `/apis/ccompat/v7`) for
//! tests: `scripts/apicurio.sh run` on free ports of 127.0.0.1, over https with the certificates
//! of `scripts/test-certs.sh`, BACKWARD compatibility, storage in memory. Stopped on drop, and
//! with the test process.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use crate::broker::make_certs;
use crate::services::{free_port, http_ok, start_service, terminate};

const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running registry; stopped on drop.
pub struct Apicurio {
    dir: tempfile::TempDir,
    https_port: u16,
    child: Child,
}

impl Apicurio {
    /// Starts a registry that serves only https, with a certificate for `localhost` and
    /// `127.0.0.1` signed by the CA in [`Apicurio::certs`].
    pub fn start_https() -> Apicurio {
        let dir = tempfile::Builder::new().prefix("tributary-apicurio-").tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        make_certs(&certs);
        let (http_port, https_port, management_port) = (free_port(), free_port(), free_port());
        let env = [
            ("APICURIO_PORT", http_port.to_string()),
            ("APICURIO_SSL_PORT", https_port.to_string()),
            ("APICURIO_MGMT_PORT", management_port.to_string()),
            ("APICURIO_TLS_DIR", certs.display().to_string()),
        ];
        let child = start_service("apicurio.sh", dir.path(), &env, "Apicurio Registry", START_TIMEOUT, || {
            http_ok(management_port, "/health/ready")
        });
        Apicurio { dir, https_port, child }
    }

    /// The Confluent-compatible API over https, by host name (the certificate names it).
    pub fn url(&self) -> String {
        format!("https://localhost:{}/apis/ccompat/v7", self.https_port)
    }

    /// `ca.crt` (trusted), `other-ca.crt` (unrelated), client certificates.
    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }
}

impl Drop for Apicurio {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(10));
    }
}
