//! HTTPS and `wss://` through a proxy, the way a real Genesys org is reached: REST through
//! reqwest's `CONNECT` tunnel, the WebSocket through the connector's own, TLS inside both, and a
//! server certificate signed by a CA that only `ca_file` makes trusted (as behind a
//! TLS-inspecting proxy). The servers are tiny stand-ins on 127.0.0.1 under a name that does not
//! resolve; only the test proxy knows it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_native_tls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use tributary_connector_api::Secret;
use tributary_genesys::auth::{AuthConfig, AuthError, TokenSource};
use tributary_genesys::net::{Egress, ProxyUrl};
use tributary_genesys::rest::Backoff;
use tributary_genesys::socket::{self, SocketSettings};
use tributary_test_support::{
    proxy::{Mode, TestProxy},
    wait::bounded,
};

const LIMIT: Duration = Duration::from_secs(60);
const HOST: &str = "genesys.invalid";

fn new_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
    PKey::from_ec_key(EcKey::generate(&group).expect("ec key")).expect("pkey")
}

fn name(cn: &str) -> openssl::x509::X509Name {
    let mut n = X509NameBuilder::new().expect("name");
    n.append_entry_by_text("CN", cn).expect("cn");
    n.build()
}

/// A CA, and a server certificate for [`HOST`] signed by it.
fn certificates() -> (X509, X509, PKey<Private>) {
    let ca_key = new_key();
    let mut ca = X509::builder().expect("builder");
    ca.set_version(2).expect("version");
    ca.set_serial_number(&BigNum::from_u32(1).expect("bn").to_asn1_integer().expect("serial")).expect("serial");
    ca.set_subject_name(&name("Tributary test inspection CA")).expect("subject");
    ca.set_issuer_name(&name("Tributary test inspection CA")).expect("issuer");
    ca.set_pubkey(&ca_key).expect("key");
    ca.set_not_before(&Asn1Time::days_from_now(0).expect("time")).expect("nb");
    ca.set_not_after(&Asn1Time::days_from_now(2).expect("time")).expect("na");
    ca.append_extension(BasicConstraints::new().critical().ca().build().expect("bc")).expect("ext");
    ca.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().expect("ku")).expect("ext");
    ca.sign(&ca_key, MessageDigest::sha256()).expect("sign");
    let ca = ca.build();

    let key = new_key();
    let mut leaf = X509::builder().expect("builder");
    leaf.set_version(2).expect("version");
    leaf.set_serial_number(&BigNum::from_u32(2).expect("bn").to_asn1_integer().expect("serial")).expect("serial");
    leaf.set_subject_name(&name(HOST)).expect("subject");
    leaf.set_issuer_name(ca.subject_name()).expect("issuer");
    leaf.set_pubkey(&key).expect("key");
    leaf.set_not_before(&Asn1Time::days_from_now(0).expect("time")).expect("nb");
    leaf.set_not_after(&Asn1Time::days_from_now(2).expect("time")).expect("na");
    let san = SubjectAlternativeName::new().dns(HOST).build(&leaf.x509v3_context(Some(&ca), None)).expect("san");
    leaf.append_extension(san).expect("ext");
    leaf.append_extension(BasicConstraints::new().build().expect("bc")).expect("ext");
    leaf.append_extension(KeyUsage::new().digital_signature().key_encipherment().build().expect("ku")).expect("ext");
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build().expect("eku")).expect("ext");
    leaf.sign(&ca_key, MessageDigest::sha256()).expect("sign");
    (ca, leaf.build(), key)
}

fn acceptor(leaf: &X509, key: &PKey<Private>) -> TlsAcceptor {
    let identity = native_tls::Identity::from_pkcs8(
        &leaf.to_pem().expect("pem"),
        &key.private_key_to_pem_pkcs8().expect("key pem"),
    )
    .expect("identity");
    TlsAcceptor::from(native_tls::TlsAcceptor::new(identity).expect("acceptor"))
}

/// An HTTPS server answering every request with a token.
async fn token_server(tls: TlsAcceptor) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = tls.accept(tcp).await else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let body = r#"{"access_token":"tls-token","token_type":"bearer","expires_in":3600}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// A `wss://` server answering the JSON ping with the pong notification.
async fn socket_server(tls: TlsAcceptor) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(tcp).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(text) = msg
                        && text.contains("ping")
                    {
                        let pong = r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#;
                        if ws.send(Message::Text(pong.into())).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

struct CaFile(PathBuf);

impl CaFile {
    fn write(ca: &X509) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tributary-genesys-egress-ca-{}-{}.pem",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::write(&path, ca.to_pem().expect("pem")).expect("write the CA file");
        Self(path)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn auth(login: String, egress: Egress) -> TokenSource {
    let mut cfg = AuthConfig::new(login, "tls-client", Secret::new("tls-secret"));
    cfg.egress = egress;
    cfg.backoff = Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(100), max_attempts: 2 };
    cfg.request_timeout = Duration::from_secs(5);
    TokenSource::new(cfg).expect("token source")
}

fn socket_settings(egress: Egress) -> SocketSettings {
    SocketSettings {
        ping_interval: Duration::from_secs(1),
        pong_timeout: Duration::from_secs(2),
        watchdog: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        max_frame_bytes: 1 << 20,
        buffer: 16,
        connector: "egress-tls-test".into(),
        egress,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_through_the_proxy_trust_the_ca_file() {
    bounded(LIMIT, async {
        let (ca, leaf, key) = certificates();
        let tls = acceptor(&leaf, &key);
        let token_addr = token_server(tls.clone()).await;
        let socket_addr = socket_server(tls).await;
        let hosts = HashMap::from([(HOST.to_string(), IpAddr::V4(Ipv4Addr::LOCALHOST))]);
        let proxy = TestProxy::start(Mode::Forward { hosts, credentials: Some(("u".into(), "p w".into())) }).await;
        let proxy_url = ProxyUrl::parse(&proxy.url_with("u", "p%20w")).expect("proxy url");
        let ca_file = CaFile::write(&ca);
        let login = format!("https://{HOST}:{}", token_addr.port());
        let wss = format!("wss://{HOST}:{}/channels/streaming-0-abc", socket_addr.port());

        let trusted = Egress::new(Some(proxy_url.clone()), Some(&ca_file.0)).expect("egress");
        let token = auth(login.clone(), trusted.clone()).current().await.expect("a token over https through the proxy");
        assert_eq!(token.value.expose(), "tls-token");
        let socket = socket::open(&wss, &socket_settings(trusted)).await.expect("a wss socket through the proxy");
        socket.close();

        let seen = proxy.seen();
        assert!(seen.iter().all(|s| s.method == "CONNECT" && s.authorized), "{seen:?}");
        assert!(seen.iter().any(|s| s.target == format!("{HOST}:{}", token_addr.port())), "{seen:?}");
        assert!(seen.iter().any(|s| s.target == format!("{HOST}:{}", socket_addr.port())), "{seen:?}");

        // Without the CA file the inspecting CA is not trusted, on either path.
        let untrusted = Egress::new(Some(proxy_url), None).expect("egress");
        let err = auth(login, untrusted.clone()).current().await.expect_err("untrusted certificate");
        assert!(matches!(err, AuthError::Unavailable { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("through proxy {}", proxy.url())), "{err}");
        let err = match socket::open(&wss, &socket_settings(untrusted)).await {
            Ok(_) => panic!("a wss socket with an untrusted certificate"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(text.contains("certificate") && text.contains(&proxy.url()), "{text}");
        assert!(!text.contains("streaming-0-abc"), "the channel URI is shown: {text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_407_to_an_https_tunnel_names_the_proxy() {
    bounded(LIMIT, async {
        let proxy = TestProxy::start(Mode::Refuse407).await;
        let egress = Egress::new(Some(ProxyUrl::parse(&proxy.url()).expect("url")), None).expect("egress");
        let err = auth(format!("https://{HOST}"), egress).current().await.expect_err("refused");
        assert!(matches!(err, AuthError::Proxy { status: 407, .. }), "{err:?}");
        assert!(err.is_fatal(), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("proxy {}", proxy.url())) && text.contains("407"), "{text}");
    })
    .await;
}
