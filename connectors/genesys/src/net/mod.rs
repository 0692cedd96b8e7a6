//! How the connector reaches Genesys: directly or through an HTTP proxy (corporate egress), with
//! the system's trusted roots plus, optionally, the certificates of a CA file (a TLS-inspecting
//! proxy re-signs Genesys's certificates with its own CA).
//!
//! One [`Egress`] per connector instance serves the token source, the REST client and every
//! WebSocket, so the three always take the same route. Its contract:
//!
//! - **Configured proxy** (`proxy:` in the config): every Genesys host (login, API, streaming) is
//!   reached through it; the proxy environment variables are ignored, `NO_PROXY` included.
//! - **Environment** (no `proxy:`): `https://` and `wss://` hosts use `https_proxy` /
//!   `HTTPS_PROXY`, `http://` and `ws://` hosts (the simulator) use `http_proxy` / `HTTP_PROXY`;
//!   hosts matched by `no_proxy` / `NO_PROXY` ([`NoProxy`]) are reached directly, and so are
//!   loopback hosts (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`), as Go's HTTP client does,
//!   so the in-process simulator works on a machine whose environment names a corporate proxy.
//!   The lower-case name wins when both are set, as in curl. An empty variable counts as unset.
//!   The variables are read once, when the egress is built.
//! - **REST** goes through reqwest's proxy support (absolute-form requests for `http://`, a
//!   `CONNECT` tunnel for `https://`); the system proxy detection of reqwest itself is turned off so
//!   that REST and WebSockets follow the same rules.
//! - **WebSockets** open a TCP connection to the proxy, send `CONNECT host:port` (with
//!   `Proxy-Authorization: Basic` when the proxy URL has credentials), require a 2xx, then run
//!   TLS (for `wss://`) and the WebSocket handshake inside the tunnel ([`connect_ws`]).
//! - **Trust.** `ca_file` (PEM, one or more certificates) is trusted in addition to the system
//!   roots, for REST and `wss://`.
//! - Errors name the proxy as `http://host:port`, never with its credentials.

pub mod proxy;
mod tunnel;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::proxy::{NoProxy, ProxyUrl, ProxyUrlError};
pub use self::tunnel::{TunnelError, Ws, WsConnectError, connect_ws, tunnel};

/// The egress could not be set up. Never contains a proxy password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    /// A proxy environment variable holds something that is not a proxy URL.
    #[error("environment variable {var}: {source}")]
    Environment { var: &'static str, source: ProxyUrlError },
    /// The CA file cannot be read or holds no usable certificate.
    #[error("ca_file `{path}`: {detail}")]
    CaFile { path: String, detail: String },
}

/// Which proxy, if any, reaches which host.
#[derive(Debug, Clone)]
enum Route {
    Direct,
    /// `proxy:` in the config: every host.
    Configured(ProxyUrl),
    /// The environment: a proxy per scheme, and the hosts reached directly.
    Environment {
        https: Option<(ProxyUrl, &'static str)>,
        http: Option<(ProxyUrl, &'static str)>,
        no_proxy: NoProxy,
    },
}

struct CaBundle {
    path: PathBuf,
    reqwest: Vec<reqwest::Certificate>,
    websocket: native_tls::TlsConnector,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaBundle").field("path", &self.path).field("certificates", &self.reqwest.len()).finish()
    }
}

#[derive(Debug)]
struct Inner {
    route: Route,
    ca: Option<CaBundle>,
}

/// The route to Genesys and the extra trust of one connector instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Egress {
    inner: Arc<Inner>,
}

impl Default for Egress {
    fn default() -> Self {
        Self::direct()
    }
}

impl Egress {
    /// Straight to every host, system roots only; the environment is not read.
    pub fn direct() -> Self {
        Self { inner: Arc::new(Inner { route: Route::Direct, ca: None }) }
    }

    /// `proxy` (from the config) if set, else the proxy environment variables of this process;
    /// plus the certificates of `ca_file`.
    pub fn new(proxy: Option<ProxyUrl>, ca_file: Option<&Path>) -> Result<Self, EgressError> {
        Self::with_env(proxy, ca_file, |name| std::env::var(name).ok())
    }

    /// As [`Egress::new`], with the environment read through `env`.
    pub fn with_env(
        proxy: Option<ProxyUrl>,
        ca_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EgressError> {
        let route = match proxy {
            Some(p) => Route::Configured(p),
            None => env_route(env)?,
        };
        let ca = ca_file.map(load_ca).transpose()?;
        Ok(Self { inner: Arc::new(Inner { route, ca }) })
    }

    /// The proxy for `scheme://host:port` (`https`/`wss` or `http`/`ws`), or `None` for a direct
    /// connection.
    pub fn proxy_for(&self, scheme: &str, host: &str, port: u16) -> Option<&ProxyUrl> {
        match &self.inner.route {
            Route::Direct => None,
            Route::Configured(p) => Some(p),
            Route::Environment { https, http, no_proxy } => {
                let proxy = match scheme.to_ascii_lowercase().as_str() {
                    "https" | "wss" => https.as_ref(),
                    "http" | "ws" => http.as_ref(),
                    _ => None,
                };
                proxy.filter(|_| !is_loopback(host) && !no_proxy.matches(host, port)).map(|(p, _)| p)
            }
        }
    }

    /// [`Egress::proxy_for`] a URL; `None` for a direct connection or a URL that does not parse.
    pub fn proxy_for_url(&self, url: &str) -> Option<&ProxyUrl> {
        let url = reqwest::Url::parse(url).ok()?;
        self.proxy_for_parsed(&url)
    }

    fn proxy_for_parsed(&self, url: &reqwest::Url) -> Option<&ProxyUrl> {
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        self.proxy_for(url.scheme(), host, port)
    }

    /// Whether any proxy may be used.
    pub fn uses_proxy(&self) -> bool {
        match &self.inner.route {
            Route::Direct => false,
            Route::Configured(_) => true,
            Route::Environment { https, http, .. } => https.is_some() || http.is_some(),
        }
    }

    /// One line for logs and `tributary check`: the route and the extra trust, without secrets.
    pub fn describe(&self) -> String {
        let route = match &self.inner.route {
            Route::Direct => "direct (no proxy)".to_string(),
            Route::Configured(p) => format!("through proxy {p} (the `proxy` key)"),
            Route::Environment { https, http, no_proxy } => {
                let mut parts = Vec::new();
                if let Some((p, var)) = https {
                    parts.push(format!("https/wss through {p} ({var})"));
                }
                if let Some((p, var)) = http {
                    parts.push(format!("http/ws through {p} ({var})"));
                }
                if parts.is_empty() {
                    "direct (no proxy set in the environment)".to_string()
                } else {
                    if !no_proxy.is_empty() {
                        parts.push("hosts in NO_PROXY direct".to_string());
                    }
                    parts.join(", ")
                }
            }
        };
        match &self.inner.ca {
            Some(ca) => format!(
                "{route}; trusting {} certificate(s) from {} besides the system roots",
                ca.reqwest.len(),
                ca.path.display()
            ),
            None => route,
        }
    }

    /// The HTTP client of this route and trust, with `connect_timeout`: one per distinct route,
    /// trust and timeout in the process, so that the tenants of a host share its connection pool
    /// and TLS setup (a client holds its own root store: a few hundred KiB). Requests carry their
    /// own credentials and set their own timeout. A proxy's credentials are part of the route, so
    /// tenants with different proxy logins never share a client.
    pub fn client(&self, connect_timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
        static CLIENTS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, reqwest::Client>>> =
            std::sync::OnceLock::new();
        let key = format!("{}|{connect_timeout:?}", self.identity());
        let clients = CLIENTS.get_or_init(Default::default);
        let mut clients = clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = self.apply(reqwest::Client::builder().connect_timeout(connect_timeout)).build()?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// Everything that makes two egresses route and trust alike, proxy credentials included.
    /// Never logged.
    fn identity(&self) -> String {
        let proxy = |p: &ProxyUrl| p.url_with_credentials().expose().to_owned();
        let route = match &self.inner.route {
            Route::Direct => "direct".to_owned(),
            Route::Configured(p) => format!("configured {}", proxy(p)),
            Route::Environment { https, http, no_proxy } => format!(
                "environment {:?} {:?} {no_proxy:?}",
                https.as_ref().map(|(p, _)| proxy(p)),
                http.as_ref().map(|(p, _)| proxy(p))
            ),
        };
        format!("{route}|{:?}", self.inner.ca.as_ref().map(|ca| &ca.path))
    }

    /// Applies the route and the extra roots to a reqwest client (and turns off reqwest's own
    /// reading of the proxy environment: the egress already did it).
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let mut builder = builder.no_proxy();
        if self.uses_proxy() {
            let egress = self.clone();
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                egress.proxy_for_parsed(url).map(|p| p.url_with_credentials().expose().to_owned())
            }));
        }
        if let Some(ca) = &self.inner.ca {
            builder = builder.tls_certs_merge(ca.reqwest.iter().cloned());
        }
        builder
    }

    /// The TLS connector for `wss://`: `None` for the defaults (system roots).
    pub(crate) fn websocket_tls(&self) -> Option<tokio_tungstenite::Connector> {
        self.inner.ca.as_ref().map(|ca| tokio_tungstenite::Connector::NativeTls(ca.websocket.clone()))
    }
}

/// `localhost`, a name under it, or a loopback address (with or without IPv6 brackets).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The first non-empty variable of `names`, with its name.
fn first_env(env: &impl Fn(&str) -> Option<String>, names: &[&'static str]) -> Option<(String, &'static str)> {
    names.iter().find_map(|name| env(name).filter(|v| !v.trim().is_empty()).map(|v| (v, *name)))
}

fn env_route(env: impl Fn(&str) -> Option<String>) -> Result<Route, EgressError> {
    let proxy = |names: &[&'static str]| -> Result<Option<(ProxyUrl, &'static str)>, EgressError> {
        match first_env(&env, names) {
            None => Ok(None),
            Some((value, var)) => ProxyUrl::parse(&value)
                .map(|p| Some((p, var)))
                .map_err(|source| EgressError::Environment { var, source }),
        }
    };
    let https = proxy(&["https_proxy", "HTTPS_PROXY"])?;
    let http = proxy(&["http_proxy", "HTTP_PROXY"])?;
    if https.is_none() && http.is_none() {
        return Ok(Route::Direct);
    }
    let no_proxy = first_env(&env, &["no_proxy", "NO_PROXY"]).map(|(v, _)| NoProxy::parse(&v)).unwrap_or_default();
    Ok(Route::Environment { https, http, no_proxy })
}

/// The `-----BEGIN CERTIFICATE-----` blocks of a PEM file.
fn pem_certificates(text: &str) -> Vec<&str> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else { break };
        let end = start + len + END.len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

fn load_ca(path: &Path) -> Result<CaBundle, EgressError> {
    let fail = |detail: String| EgressError::CaFile { path: path.display().to_string(), detail };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| fail("not a PEM file (not text)".into()))?;
    let blocks = pem_certificates(&text);
    if blocks.is_empty() {
        return Err(fail("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into()));
    }
    let mut reqwest_certs = Vec::with_capacity(blocks.len());
    let mut tls = native_tls::TlsConnector::builder();
    for (i, block) in blocks.iter().enumerate() {
        let cert = reqwest::Certificate::from_pem(block.as_bytes())
            .map_err(|e| fail(format!("certificate {} is not valid: {e}", i + 1)))?;
        reqwest_certs.push(cert);
        let native = native_tls::Certificate::from_pem(block.as_bytes())
            .map_err(|e| fail(format!("certificate {} is not valid: {e}", i + 1)))?;
        tls.add_root_certificate(native);
    }
    let websocket = tls.build().map_err(|e| fail(format!("cannot set up TLS with it: {e}")))?;
    Ok(CaBundle { path: path.to_path_buf(), reqwest: reqwest_certs, websocket })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn tenants_share_a_client_only_when_route_trust_and_proxy_login_are_alike() {
        let with_login = |login: &str| {
            let proxy = ProxyUrl::parse(&format!("http://{login}@proxy.example:3128")).expect("proxy url");
            Egress::new(Some(proxy), None).expect("egress")
        };
        assert_eq!(Egress::direct().identity(), Egress::direct().identity());
        assert_eq!(with_login("a:pw").identity(), with_login("a:pw").identity());
        assert_ne!(with_login("a:pw").identity(), with_login("a:other").identity(), "another password");
        assert_ne!(with_login("a:pw").identity(), Egress::direct().identity());
        let first = Egress::direct().client(std::time::Duration::from_secs(5));
        let second = Egress::direct().client(std::time::Duration::from_secs(5));
        assert!(first.is_ok() && second.is_ok());
    }

    fn proxied(e: &Egress, url: &str) -> Option<String> {
        e.proxy_for_url(url).map(ToString::to_string)
    }

    #[test]
    fn environment_proxies_by_scheme_with_no_proxy() {
        let e = Egress::with_env(
            None,
            None,
            env(&[
                ("HTTPS_PROXY", "http://secure.corp:3128"),
                ("HTTP_PROXY", "plain.corp:8080"),
                ("NO_PROXY", "localhost,.internal"),
            ]),
        )
        .expect("egress");
        assert_eq!(proxied(&e, "https://api.mypurecloud.ie/api/v2").as_deref(), Some("http://secure.corp:3128"));
        assert_eq!(
            proxied(&e, "wss://streaming.mypurecloud.ie/channels/x").as_deref(),
            Some("http://secure.corp:3128")
        );
        assert_eq!(proxied(&e, "http://sim.example:9000/oauth/token").as_deref(), Some("http://plain.corp:8080"));
        assert_eq!(proxied(&e, "ws://sim.example:9001/channels/x").as_deref(), Some("http://plain.corp:8080"));
        assert_eq!(proxied(&e, "https://localhost:8443/"), None);
        assert_eq!(proxied(&e, "wss://stream.internal/"), None);
        // Loopback is always direct with environment proxies (the in-process simulator).
        assert_eq!(proxied(&e, "http://127.0.0.1:9000/oauth/token"), None);
        assert_eq!(proxied(&e, "ws://[::1]:9001/channels/x"), None);
        assert_eq!(proxied(&e, "http://sim.localhost:9000/"), None);
        assert!(e.describe().contains("HTTPS_PROXY") && e.describe().contains("NO_PROXY"), "{}", e.describe());
    }

    #[test]
    fn lower_case_wins_and_empty_is_unset() {
        let e = Egress::with_env(
            None,
            None,
            env(&[("https_proxy", "http://lower:1"), ("HTTPS_PROXY", "http://upper:2"), ("http_proxy", " ")]),
        )
        .expect("egress");
        assert_eq!(proxied(&e, "https://api.mypurecloud.com/").as_deref(), Some("http://lower:1"));
        assert_eq!(proxied(&e, "http://api.example/"), None);
        assert!(!Egress::with_env(None, None, env(&[])).expect("egress").uses_proxy());
    }

    #[test]
    fn no_proxy_star_means_direct() {
        let e = Egress::with_env(None, None, env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")])).expect("egress");
        assert_eq!(proxied(&e, "https://api.mypurecloud.com/"), None);
    }

    #[test]
    fn the_configured_proxy_wins_over_the_environment() {
        let configured = ProxyUrl::parse("http://u:secret@egress.corp:3128").expect("url");
        let e = Egress::with_env(Some(configured), None, env(&[("HTTPS_PROXY", "http://other:1"), ("NO_PROXY", "*")]))
            .expect("egress");
        assert_eq!(proxied(&e, "https://api.mypurecloud.com/").as_deref(), Some("http://egress.corp:3128"));
        // A configured proxy takes everything, loopback included.
        assert_eq!(proxied(&e, "ws://127.0.0.1:9/").as_deref(), Some("http://egress.corp:3128"));
        let shown = format!("{} {e:?}", e.describe());
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn a_bad_environment_proxy_names_the_variable_not_the_value() {
        let err = Egress::with_env(None, None, env(&[("HTTPS_PROXY", "socks5://bob:hunter2@p:1")])).expect_err("bad");
        let text = err.to_string();
        assert!(text.contains("HTTPS_PROXY") && !text.contains("hunter2"), "{text}");
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let missing = Egress::with_env(None, Some(Path::new("/nonexistent/ca.pem")), env(&[])).expect_err("missing");
        assert!(missing.to_string().contains("/nonexistent/ca.pem"), "{missing}");
        let dir = std::env::temp_dir().join(format!("tributary-genesys-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate").expect("write");
        let err = Egress::with_env(None, Some(&empty), env(&[])).expect_err("no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let bad = dir.join("bad.pem");
        std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
        let err = Egress::with_env(None, Some(&bad), env(&[])).expect_err("bad certificate");
        assert!(err.to_string().contains("certificate 1 is not valid"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pem_blocks() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\nmid\n-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(text).len(), 2);
        assert!(pem_certificates("-----BEGIN CERTIFICATE-----\nA").is_empty());
    }
}
