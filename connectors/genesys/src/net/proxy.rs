//! Proxy URLs and `NO_PROXY` lists.
//!
//! A proxy is an `http://[user[:password]@]host[:port]` URL (port 80 when absent; a URL without a
//! scheme is taken as `http://`, as curl does). The connection to the proxy is plain HTTP: TLS to
//! Genesys runs inside the `CONNECT` tunnel, so `https://` proxies are refused. The credentials
//! never leave a [`ProxyUrl`] except as a `Proxy-Authorization` header: `Display` shows
//! `http://host:port` and `Debug` redacts them.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use tributary_connector_api::Secret;

/// Why a proxy URL cannot be used. Never contains the URL's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProxyUrlError(String);

/// An HTTP proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<Secret>,
}

impl ProxyUrl {
    /// Parses `http://[user[:password]@]host[:port][/]`; user and password are percent-decoded.
    pub fn parse(raw: &str) -> Result<Self, ProxyUrlError> {
        let err = |why: &str| {
            ProxyUrlError(format!("not a usable proxy URL ({why}); expected http://[user:password@]host:port"))
        };
        let raw = raw.trim();
        let rest = match raw.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(err("only http:// proxies are supported; TLS to Genesys runs inside the tunnel"));
            }
            Some(_) => return Err(err("the scheme must be http://")),
            None => raw,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(err("a proxy URL has no path"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| err("bad host or port"))?;
        if host.is_empty() {
            return Err(err("no host"));
        }
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = percent_decode(user).ok_or_else(|| err("bad percent-encoding in the user name"))?;
                let pass = match pass {
                    Some(p) => {
                        Some(Secret::new(percent_decode(p).ok_or_else(|| err("bad percent-encoding in the password"))?))
                    }
                    None => None,
                };
                (Some(user), pass)
            }
        };
        Ok(Self { host, port: port.unwrap_or(80), username, password })
    }

    /// The proxy's host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether a user name (and maybe a password) is sent to the proxy.
    pub fn has_credentials(&self) -> bool {
        self.username.is_some()
    }

    /// `Basic base64(user:password)` for `Proxy-Authorization`, when credentials are set.
    pub fn authorization(&self) -> Option<Secret> {
        let user = self.username.as_deref()?;
        let pass = self.password.as_ref().map(Secret::expose).unwrap_or_default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(Secret::new(format!("Basic {encoded}")))
    }

    /// `host:port` as written in a request line (IPv6 in brackets).
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// The URL with its credentials percent-encoded, for reqwest's proxy matcher only: it turns
    /// them into the `Proxy-Authorization` header.
    pub(crate) fn url_with_credentials(&self) -> Secret {
        let mut url = String::from("http://");
        if let Some(user) = &self.username {
            url.push_str(&percent_encode(user));
            if let Some(pass) = &self.password {
                url.push(':');
                url.push_str(&percent_encode(pass.expose()));
            }
            url.push('@');
        }
        url.push_str(&self.authority());
        Secret::new(url)
    }
}

impl fmt::Display for ProxyUrl {
    /// `http://host:port`, without credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = if self.has_credentials() { Secret::REDACTED } else { "none" };
        f.debug_struct("ProxyUrl").field("url", &self.to_string()).field("credentials", &credentials).finish()
    }
}

impl<'de> Deserialize<'de> for ProxyUrl {
    /// Parses the string; an error never repeats it (it may hold a password).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Secret::deserialize(deserializer)?;
        ProxyUrl::parse(raw.expose()).map_err(serde::de::Error::custom)
    }
}

/// `host:port`, with an IPv6 host in brackets.
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// Splits `host[:port]` / `[v6][:port]`; the host comes back lower-case, without brackets.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((host.to_ascii_lowercase(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host.to_ascii_lowercase(), Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((s.to_ascii_lowercase(), None)),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `NO_PROXY` list: hosts reached directly even though a proxy is set.
///
/// Entries are separated by commas (and/or white space) and matched case-insensitively:
/// - `*` alone: every host;
/// - a domain, with or without a leading `.` or `*.`: that host and every host under it
///   (`example.com` matches `example.com` and `api.example.com`, not `notexample.com`);
/// - an IP address, or a network in CIDR form (`10.0.0.0/8`, `fd00::/8`): hosts given as an
///   address in it (names are not resolved to be matched);
/// - any of these followed by `:port` (IPv6 in brackets): only for that port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    All,
    Domain { name: String, port: Option<u16> },
    Net { addr: IpAddr, prefix: u8, port: Option<u16> },
}

impl NoProxy {
    /// Parses a list; entries that mean nothing (`:`, `/x`) are ignored.
    pub fn parse(list: &str) -> Self {
        let entries = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(Entry::parse)
            .collect();
        Self { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `host:port` is to be reached directly. `host` may be a name, an IPv4 address or an
    /// IPv6 address with or without brackets.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.entries.iter().any(|entry| match entry {
            Entry::All => true,
            Entry::Domain { name, port: p } => {
                p.is_none_or(|p| p == port)
                    && (host == *name
                        || (ip.is_none() && host.strip_suffix(name.as_str()).is_some_and(|head| head.ends_with('.'))))
            }
            Entry::Net { addr, prefix, port: p } => {
                p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_net(ip, *addr, *prefix))
            }
        })
    }
}

impl Entry {
    fn parse(raw: &str) -> Option<Self> {
        if raw == "*" {
            return Some(Entry::All);
        }
        let raw = raw.to_ascii_lowercase();
        // An address or network, maybe with a port.
        let (body, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?.parse().ok()?),
            };
            (inside.to_string(), port)
        } else if raw.matches(':').count() == 1 {
            let (h, p) = raw.split_once(':')?;
            (h.to_string(), Some(p.parse().ok()?))
        } else {
            (raw.clone(), None)
        };
        let (addr_part, prefix_part) = match body.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (body.as_str(), None),
        };
        if let Ok(addr) = addr_part.parse::<IpAddr>() {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix_part {
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
                None => max,
            };
            return Some(Entry::Net { addr, prefix, port });
        }
        if prefix_part.is_some() {
            return None;
        }
        let name = body.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.').to_string();
        (!name.is_empty()).then_some(Entry::Domain { name, port })
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = ProxyUrl::parse("http://alice:p%40ss@Proxy.Corp:3128/").expect("parses");
        assert_eq!((p.host(), p.port(), p.has_credentials()), ("proxy.corp", 3128, true));
        assert_eq!(p.to_string(), "http://proxy.corp:3128");
        let debug = format!("{p:?}");
        assert!(!debug.contains("p@ss") && !debug.contains("alice") && debug.contains("[redacted]"), "{debug}");
        let expected = base64::engine::general_purpose::STANDARD.encode("alice:p@ss");
        assert_eq!(p.authorization().map(|a| a.expose().to_owned()), Some(format!("Basic {expected}")));
        assert_eq!(p.url_with_credentials().expose(), "http://alice:p%40ss@proxy.corp:3128");

        let bare = ProxyUrl::parse("proxy.corp").expect("no scheme, no port");
        assert_eq!((bare.to_string(), bare.authorization()), ("http://proxy.corp:80".to_string(), None));
        let v6 = ProxyUrl::parse("http://[::1]:8080").expect("ipv6");
        assert_eq!((v6.host(), v6.authority()), ("::1", "[::1]:8080".to_string()));

        for bad in
            ["https://proxy:443", "socks5://proxy:1080", "http://proxy:port", "http://:3128", "http://proxy:3128/path"]
        {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
        let err = ProxyUrl::parse("http://bob:hunter2@proxy:nope").expect_err("bad port");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn proxy_url_deserialization_never_echoes_the_value() {
        let err =
            serde_json::from_value::<ProxyUrl>(serde_json::json!("ftp://bob:hunter2@proxy:21")).expect_err("scheme");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn no_proxy_matching() {
        let list = NoProxy::parse(
            "localhost, .internal.corp,*.svc  example.com:8443,10.0.0.0/8,192.168.1.7,[fd00::]:9,[::1],::2",
        );
        // Domains and their subdomains; not look-alikes.
        assert!(list.matches("localhost", 80));
        assert!(list.matches("LOCALHOST.", 80));
        assert!(list.matches("internal.corp", 443));
        assert!(list.matches("api.internal.corp", 443));
        assert!(!list.matches("notinternal.corp", 443));
        assert!(list.matches("kafka.ns.svc", 9092));
        assert!(!list.matches("svc.example", 9092));
        // A port restricts the entry to that port.
        assert!(list.matches("login.example.com", 8443));
        assert!(!list.matches("example.com", 443));
        // Addresses and networks, never by name.
        assert!(list.matches("10.1.2.3", 443));
        assert!(!list.matches("11.1.2.3", 443));
        assert!(list.matches("192.168.1.7", 80));
        assert!(!list.matches("192.168.1.8", 80));
        assert!(list.matches("[fd00::]", 9));
        assert!(!list.matches("fd00::", 10));
        assert!(list.matches("::1", 443));
        assert!(list.matches("[::2]", 443));
        // Genesys hosts go through the proxy.
        assert!(!list.matches("api.mypurecloud.ie", 443));
        assert!(!list.matches("streaming.mypurecloud.ie", 443));

        let all = NoProxy::parse("*");
        assert!(all.matches("api.mypurecloud.com", 443) && all.matches("10.0.0.1", 1));
        // `*` only means "everything" alone; as a suffix wildcard it is the domain below it.
        let star_domain = NoProxy::parse("*.pure.cloud");
        assert!(star_domain.matches("api.usw2.pure.cloud", 443) && !star_domain.matches("mypurecloud.com", 443));
        assert!(NoProxy::parse(" , ").is_empty());
        assert!(!NoProxy::parse("").matches("localhost", 80));
        let v4net = NoProxy::parse("127.0.0.0/8");
        assert!(v4net.matches("127.0.0.1", 80) && !v4net.matches("::1", 80));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8", 53));
        assert!(NoProxy::parse("10.0.0.0/33").is_empty());
    }
}
