//! Apicurio Registry (an independent registry with Confluent's API at `/apis/ccompat/v7`) for
//! tests: `scripts/apicurio.sh run` on free ports of 127.0.0.1, over https with the certificates
//! of `scripts/test-certs.sh`, BACKWARD compatibility, storage in memory. Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::broker::{free_port, spawn_kept, terminate};
use super::repo;

const START_TIMEOUT: Duration = Duration::from_secs(120);

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
        let status = Command::new("bash")
            .arg(repo().join("scripts/test-certs.sh"))
            .arg(&certs)
            .stdout(Stdio::null())
            .status()
            .expect("scripts/test-certs.sh runs");
        assert!(status.success(), "scripts/test-certs.sh failed ({status})");
        let (http_port, https_port, management_port) = (free_port(), free_port(), free_port());
        let output = dir.path().join("run.out");
        let out = std::fs::File::create(&output).expect("output file");
        let mut command = Command::new("bash");
        command
            .arg(repo().join("scripts/apicurio.sh"))
            .arg("run")
            .arg(dir.path().join("state"))
            .env("APICURIO_PORT", http_port.to_string())
            .env("APICURIO_SSL_PORT", https_port.to_string())
            .env("APICURIO_MGMT_PORT", management_port.to_string())
            .env("APICURIO_TLS_DIR", &certs)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("output file"))
            .stderr(out);
        let started = Instant::now();
        let mut child = spawn_kept(command).expect("scripts/apicurio.sh starts");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                panic!("Apicurio Registry exited ({status}) before it was ready:\n{}", tail(&output));
            }
            if http_ok(management_port, "/health/ready") {
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                terminate(&mut child, Duration::from_secs(10));
                panic!("Apicurio Registry was not ready within {START_TIMEOUT:?}:\n{}", tail(&output));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("apicurio registry ready {:.1} s after launch", started.elapsed().as_secs_f64());
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

/// Whether `GET path` on 127.0.0.1:`port` answers 200 (plain HTTP/1.0, no client library).
pub fn http_ok(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
