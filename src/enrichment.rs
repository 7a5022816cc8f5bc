//! Startup I/O for the pipeline's enrichers: reads the GeoIP databases and
//! uap-core's regexes named in `[enrich]` and builds
//! [`Enrichers`](crate::pipeline::enrich::Enrichers).
//!
//! Never fails: a missing or unreadable file disables that enrichment and
//! yields one warning for the caller to report (the pipeline then writes
//! fewer fields, as Elasticsearch does without a database).

use std::path::Path;

use crate::pipeline::enrich::geo::{Database, Geo};
use crate::pipeline::enrich::ua::{Mode, UserAgents};
use crate::pipeline::enrich::uap::Regexes;
use crate::pipeline::enrich::{Config, Enrichers};

/// Loaded enrichers and what was disabled on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The enrichers to hand to `Pipeline::new`.
    pub enrichers: Enrichers,
    /// One line per disabled enrichment (already naming the file).
    pub warnings: Vec<String>,
}

/// Reads and compiles everything `config` names (blocking; call it from a
/// blocking context). uap-core's ~1,100 regexes take about a second.
pub fn load(config: &Config) -> Loaded {
    let mut warnings = Vec::new();
    let mut open = |path: Option<&Path>, what: &str, lookups: &str| -> Option<Database> {
        let path = path?;
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                warnings.push(format!(
                    "cannot read {what} database `{}` ({error}); {lookups} lookups are off",
                    path.display()
                ));
                return None;
            }
        };
        match Database::from_bytes(bytes) {
            Ok(database) => Some(database),
            Err(_) => {
                warnings.push(format!(
                    "{what} database `{}` is not a MaxMind database; {lookups} lookups are off",
                    path.display()
                ));
                None
            }
        }
    };
    let geo = Geo::new(
        open(config.geoip_city.as_deref(), "GeoIP City", "geo"),
        open(config.geoip_asn.as_deref(), "GeoIP ASN", "AS"),
    );
    let user_agents = match config.user_agent {
        Mode::Off => UserAgents::off(),
        Mode::Woothee => UserAgents::woothee(),
        Mode::Uap => match std::fs::read_to_string(&config.uap_regexes) {
            Ok(text) => match Regexes::from_yaml(&text) {
                Ok(regexes) => {
                    if !regexes.skipped().is_empty() {
                        warnings.push(format!(
                            "{} uap-core regexes in `{}` do not compile and are skipped",
                            regexes.skipped().len(),
                            config.uap_regexes.display()
                        ));
                    }
                    UserAgents::uap(regexes)
                }
                Err(error) => {
                    warnings.push(format!(
                        "`{}`: {error}; user-agent parsing is off",
                        config.uap_regexes.display()
                    ));
                    UserAgents::off()
                }
            },
            Err(error) => {
                warnings.push(format!(
                    "cannot read uap-core regexes `{}` ({error}; install the `uap-core` package); user-agent parsing is off",
                    config.uap_regexes.display()
                ));
                UserAgents::off()
            }
        },
    };
    Loaded {
        enrichers: Enrichers { geo, user_agents },
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn missing_files_disable_with_one_warning_each() {
        let loaded = load(&Config {
            geoip_city: Some(PathBuf::from("/nonexistent/city.mmdb")),
            geoip_asn: None,
            user_agent: Mode::Uap,
            uap_regexes: PathBuf::from("/nonexistent/regexes.yaml"),
        });
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("/nonexistent/city.mmdb"));
        assert!(loaded.warnings[1].contains("uap-core"));
        assert!(!loaded.enrichers.geo.is_enabled());
        assert_eq!(loaded.enrichers.user_agents.mode(), Mode::Off);
    }

    #[test]
    fn a_broken_database_does_not_disable_the_other() {
        let directory = tempfile::tempdir().unwrap();
        let broken = directory.path().join("broken.mmdb");
        std::fs::write(&broken, b"garbage").unwrap();
        let asn = directory.path().join("asn.mmdb");
        std::fs::write(&asn, crate::pipeline::enrich::geo::tests::asn_database()).unwrap();
        let loaded = load(&Config {
            geoip_city: Some(broken),
            geoip_asn: Some(asn),
            user_agent: Mode::Woothee,
            uap_regexes: PathBuf::new(),
        });
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.enrichers.geo.is_enabled());
        let rendered = loaded.enrichers.geo.lookup("203.0.113.1".parse().unwrap());
        assert!(rendered.geo.is_empty());
        assert!(rendered.autonomous_system.contains("64500"));
    }
}
