//! Genesys Cloud regions and the hosts they imply.
//!
//! A region name selects a domain; the API host is `https://api.{domain}` and the login host
//! (OAuth) is `https://login.{domain}`. The table is the one the official SDKs ship (reference
//! §5). A deployment behind a proxy, or the simulator, sets both base URLs explicitly instead.

use std::fmt;

/// One region: its name as the SDKs spell it, and its domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub domain: &'static str,
}

/// Every known region.
pub const REGIONS: &[Region] = &[
    Region { name: "us-east-1", domain: "mypurecloud.com" },
    Region { name: "us-east-2", domain: "use2.us-gov-pure.cloud" },
    Region { name: "us-west-2", domain: "usw2.pure.cloud" },
    Region { name: "ca-central-1", domain: "cac1.pure.cloud" },
    Region { name: "sa-east-1", domain: "sae1.pure.cloud" },
    Region { name: "mx-central-1", domain: "mxc1.pure.cloud" },
    Region { name: "eu-west-1", domain: "mypurecloud.ie" },
    Region { name: "eu-west-2", domain: "euw2.pure.cloud" },
    Region { name: "eu-central-1", domain: "mypurecloud.de" },
    Region { name: "eu-central-2", domain: "euc2.pure.cloud" },
    Region { name: "me-central-1", domain: "mec1.pure.cloud" },
    Region { name: "ap-south-1", domain: "aps1.pure.cloud" },
    Region { name: "ap-northeast-1", domain: "mypurecloud.jp" },
    Region { name: "ap-northeast-2", domain: "apne2.pure.cloud" },
    Region { name: "ap-northeast-3", domain: "apne3.pure.cloud" },
    Region { name: "ap-southeast-1", domain: "apse1.pure.cloud" },
    Region { name: "ap-southeast-2", domain: "mypurecloud.com.au" },
    Region { name: "eusc-de-east-1", domain: "edee1.eusc-pure.cloud" },
];

impl Region {
    /// `https://api.{domain}`: REST calls go to `{api_base_url}/api/v2/...`.
    pub fn api_base_url(&self) -> String {
        format!("https://api.{}", self.domain)
    }

    /// `https://login.{domain}`: the token endpoint is `{login_base_url}/oauth/token`.
    pub fn login_base_url(&self) -> String {
        format!("https://login.{}", self.domain)
    }
}

/// The two base URLs a tenant talks to, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    pub api_base_url: String,
    pub login_base_url: String,
}

impl Hosts {
    /// Explicit base URLs (a proxy, the simulator); trailing slashes are dropped.
    pub fn explicit(api_base_url: &str, login_base_url: &str) -> Self {
        Self {
            api_base_url: api_base_url.trim_end_matches('/').to_string(),
            login_base_url: login_base_url.trim_end_matches('/').to_string(),
        }
    }
}

/// A region name that is not in [`REGIONS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRegion {
    pub name: String,
}

impl fmt::Display for UnknownRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown genesys cloud region `{}`; known regions: ", self.name)?;
        for (i, r) in REGIONS.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(r.name)?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownRegion {}

/// Looks a region up by name (case and surrounding spaces ignored).
pub fn lookup(name: &str) -> Result<Region, UnknownRegion> {
    let wanted = name.trim();
    REGIONS
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(wanted))
        .copied()
        .ok_or_else(|| UnknownRegion { name: wanted.to_string() })
}

/// The API and login hosts of a region.
pub fn hosts(name: &str) -> Result<Hosts, UnknownRegion> {
    let region = lookup(name)?;
    Ok(Hosts { api_base_url: region.api_base_url(), login_base_url: region.login_base_url() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_map_to_api_and_login_hosts() {
        let h = hosts("eu-central-1");
        assert_eq!(
            h,
            Ok(Hosts {
                api_base_url: "https://api.mypurecloud.de".into(),
                login_base_url: "https://login.mypurecloud.de".into()
            })
        );
        assert_eq!(lookup(" US-EAST-1 ").map(|r| r.domain), Ok("mypurecloud.com"));
        assert_eq!(lookup("ap-southeast-2").map(|r| r.login_base_url()), Ok("https://login.mypurecloud.com.au".into()));
    }

    #[test]
    fn unknown_region_lists_the_known_ones() {
        let err = match hosts("mars-north-1") {
            Err(e) => e.to_string(),
            Ok(h) => panic!("unexpected hosts {h:?}"),
        };
        assert!(err.contains("`mars-north-1`"), "{err}");
        for r in REGIONS {
            assert!(err.contains(r.name), "{err} lacks {}", r.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = REGIONS.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGIONS.len());
    }

    #[test]
    fn explicit_hosts_drop_trailing_slashes() {
        let h = Hosts::explicit("http://127.0.0.1:1/", "http://127.0.0.1:2");
        assert_eq!(h.api_base_url, "http://127.0.0.1:1");
        assert_eq!(h.login_base_url, "http://127.0.0.1:2");
    }
}
