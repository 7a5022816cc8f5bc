//! Enrichment: GeoIP ([`geo`]) and user agents ([`ua`], [`uap`],
//! [`short_ua`] for Auth0's summary form), each with
//! a small cache of recent results ([`cache`]).
//!
//! **Invariant:** lookups never fail an event; a missing or broken database
//! only means fewer fields. Opening the files is startup I/O and happens
//! outside the pipeline (`crate::enrichment::load`); this module only
//! receives their contents.

pub mod cache;
pub mod geo;
pub mod short_ua;
pub mod ua;
pub mod uap;

use std::path::PathBuf;

/// Where `/usr/share/uap-core/regexes.yaml` lives on Debian (package `uap-core`).
pub const DEFAULT_UAP_REGEXES: &str = "/usr/share/uap-core/regexes.yaml";
/// Where `geoipupdate` puts GeoLite2 City on Debian.
pub const DEFAULT_GEOIP_CITY: &str = "/var/lib/GeoIP/GeoLite2-City.mmdb";
/// Where `geoipupdate` puts GeoLite2 ASN on Debian.
pub const DEFAULT_GEOIP_ASN: &str = "/var/lib/GeoIP/GeoLite2-ASN.mmdb";

/// `[enrich]` file locations and modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// GeoIP2/GeoLite2 City database; `None` disables geo lookups.
    pub geoip_city: Option<PathBuf>,
    /// GeoLite2 ASN database; `None` disables AS lookups.
    pub geoip_asn: Option<PathBuf>,
    /// How user agents are parsed.
    pub user_agent: ua::Mode,
    /// uap-core's `regexes.yaml` (used in `uap` mode).
    pub uap_regexes: PathBuf,
}

impl Config {
    /// The defaults: Debian's GeoIP and uap-core locations, `uap` mode.
    pub fn defaults() -> Config {
        Config {
            geoip_city: Some(PathBuf::from(DEFAULT_GEOIP_CITY)),
            geoip_asn: Some(PathBuf::from(DEFAULT_GEOIP_ASN)),
            user_agent: ua::Mode::Uap,
            uap_regexes: PathBuf::from(DEFAULT_UAP_REGEXES),
        }
    }
}

/// The loaded enrichers a pipeline uses.
#[derive(Debug)]
pub struct Enrichers {
    /// GeoIP lookups.
    pub geo: geo::Geo,
    /// User-agent parsing.
    pub user_agents: ua::UserAgents,
}

impl Enrichers {
    /// No enrichment at all (user_agent.original is still written).
    pub fn none() -> Enrichers {
        Enrichers {
            geo: geo::Geo::none(),
            user_agents: ua::UserAgents::off(),
        }
    }
}
