//! `user_agent.*` from `auth0.logs.data.user_agent`.
//!
//! Three modes ([`Mode`]): uap-core regexes with Elasticsearch's rules
//! (names and fields as ES's `user_agent` processor: `name` (default
//! `Other`), `version`, `os.{name,version,full}`, `device.name` (default
//! `Other`)); woothee, a fast parser with its own names; or off. Results are
//! cached per user-agent string as ready-to-write JSON members (all but
//! `original`, which the document writes itself).
//!
//! In both parsing modes Auth0's short form (`Chrome 114.0.0 / Windows
//! 10.0.0`, see [`short_ua`](super::short_ua)) is recognised first and
//! mapped with uap-core's names and the same `Other` defaults.

use std::sync::Arc;

use super::cache::Cache;
use super::short_ua::{self, ShortForm};
use super::uap::Regexes;
use crate::pipeline::json::Writer;

/// User agents whose rendering is kept; Auth0 sends a few hundred distinct
/// strings per tenant (often its own `Chrome 120.0.0 / Mac OS X 10.15.7`
/// summaries).
const CACHE_CAPACITY: usize = 4096;
/// Longer user agents are parsed but not cached (they are rare, and would
/// make the cache's memory unbounded in practice).
const CACHE_MAX_KEY: usize = 1024;

/// How user agents are parsed (`enrich.user_agent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// uap-core regexes with Elasticsearch's rules (the default).
    Uap,
    /// woothee: fast, its own names.
    Woothee,
    /// No parsing; `user_agent.original` only.
    Off,
}

/// A configured user-agent parser with its cache.
#[derive(Debug)]
pub struct UserAgents {
    parser: Parser,
    cache: Cache<String, String>,
}

enum Parser {
    Uap(Regexes),
    Woothee(woothee::parser::Parser),
    Off,
}

impl std::fmt::Debug for Parser {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Parser::Uap(regexes) => formatter.debug_tuple("Uap").field(regexes).finish(),
            Parser::Woothee(_) => formatter.write_str("Woothee"),
            Parser::Off => formatter.write_str("Off"),
        }
    }
}

impl Mode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Uap => "uap",
            Mode::Woothee => "woothee",
            Mode::Off => "off",
        }
    }

    /// Parses the config spelling.
    pub fn from_name(name: &str) -> Option<Mode> {
        match name {
            "uap" => Some(Mode::Uap),
            "woothee" => Some(Mode::Woothee),
            "off" => Some(Mode::Off),
            _ => None,
        }
    }
}

impl UserAgents {
    /// uap-core mode with compiled `regexes`.
    pub fn uap(regexes: Regexes) -> UserAgents {
        UserAgents::with(Parser::Uap(regexes))
    }

    /// woothee mode.
    pub fn woothee() -> UserAgents {
        UserAgents::with(Parser::Woothee(woothee::parser::Parser::new()))
    }

    /// No parsing.
    pub fn off() -> UserAgents {
        UserAgents::with(Parser::Off)
    }

    fn with(parser: Parser) -> UserAgents {
        UserAgents {
            parser,
            cache: Cache::new(CACHE_CAPACITY),
        }
    }

    /// The mode in use.
    pub fn mode(&self) -> Mode {
        match self.parser {
            Parser::Uap(_) => Mode::Uap,
            Parser::Woothee(_) => Mode::Woothee,
            Parser::Off => Mode::Off,
        }
    }

    /// The JSON members `agent` adds inside `user_agent` besides `original`
    /// (empty when off).
    pub fn members(&self, agent: &str) -> Arc<String> {
        if matches!(self.parser, Parser::Off) {
            return Arc::new(String::new());
        }
        if agent.len() > CACHE_MAX_KEY {
            return Arc::new(self.render(agent));
        }
        self.cache.get_or_insert(agent, |agent| self.render(agent))
    }

    fn render(&self, agent: &str) -> String {
        let mut members = String::new();
        let mut writer = Writer::new(&mut members);
        if let Some(short) = short_ua::parse(agent) {
            render_short(&mut writer, &short);
            return members;
        }
        match &self.parser {
            Parser::Uap(regexes) => {
                let (found, os, device) = regexes.parse(agent);
                writer.object("device", |device_writer| {
                    device_writer.str("name", device.as_ref().map_or("Other", |d| d.name.as_str()));
                });
                writer.str("name", found.as_ref().map_or("Other", |a| a.name.as_str()));
                if let Some(os) = os {
                    writer.object("os", |os_writer| {
                        os_writer.str("name", &os.name);
                        if let Some(version) = os.version() {
                            os_writer.str("full", &format!("{} {version}", os.name));
                            os_writer.str("version", &version);
                        }
                    });
                }
                if let Some(version) = found.and_then(|a| a.version()) {
                    writer.str("version", &version);
                }
            }
            Parser::Woothee(parser) => {
                let known =
                    |value: &str| !value.is_empty() && value != woothee::woothee::VALUE_UNKNOWN;
                match parser.parse(agent) {
                    Some(result) => {
                        writer.object("device", |device| {
                            device.str(
                                "name",
                                if known(result.category) {
                                    result.category
                                } else {
                                    "Other"
                                },
                            );
                        });
                        writer.str(
                            "name",
                            if known(result.name) {
                                result.name
                            } else {
                                "Other"
                            },
                        );
                        if known(result.os) {
                            writer.object("os", |os| {
                                os.str("name", result.os);
                                if known(&result.os_version) {
                                    os.str("full", &format!("{} {}", result.os, result.os_version));
                                    os.str("version", &result.os_version);
                                }
                            });
                        }
                        if known(result.version) {
                            writer.str("version", result.version);
                        }
                    }
                    None => {
                        writer.object("device", |device| device.str("name", "Other"));
                        writer.str("name", "Other");
                    }
                }
            }
            Parser::Off => {}
        }
        members
    }
}

/// Whether rendered `members` name the client (`name` is not `Other`).
/// Every mode writes `"device":{…}` first and `"name"` right after it.
pub fn names_client(members: &str) -> bool {
    !members.is_empty() && !members.contains(r#"},"name":"Other""#)
}

/// A short form's members, with the defaults of Elasticsearch's processor
/// (`name` and `device.name` are `Other` when unknown).
fn render_short(writer: &mut Writer<'_>, short: &ShortForm<'_>) {
    writer.object("device", |device| {
        device.str("name", short.device().unwrap_or("Other"));
    });
    writer.str(
        "name",
        short.client.as_ref().map_or("Other", |client| &client.name),
    );
    if let Some(os) = &short.os {
        writer.object("os", |os_writer| {
            os_writer.str("name", &os.name);
            if let Some(version) = &os.version {
                os_writer.str("full", &format!("{} {version}", os.name));
                os_writer.str("version", version);
            }
        });
    }
    if let Some(version) = short
        .client
        .as_ref()
        .and_then(|client| client.version.as_ref())
    {
        writer.str("version", version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
user_agent_parsers:
  - regex: '(Firefox)/(\d+)\.(\d+)(?:\.(\d+)|)'
os_parsers:
  - regex: '(Mac OS X) (\d+)[_.](\d+)(?:[_.](\d+)|)'
    os_replacement: 'Mac OS X'
device_parsers:
  - regex: 'Macintosh'
    device_replacement: 'Mac'
"#;

    #[test]
    fn uap_members_follow_elasticsearch() {
        let agents = UserAgents::uap(Regexes::from_yaml(RULES).unwrap());
        assert_eq!(
            *agents.members("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Firefox/93.0"),
            r#""device":{"name":"Mac"},"name":"Firefox","os":{"name":"Mac OS X","full":"Mac OS X 10.15.7","version":"10.15.7"},"version":"93.0""#
        );
        assert_eq!(
            *agents.members("Other 0.0.0 / Other 0.0.0"),
            r#""device":{"name":"Other"},"name":"Other""#
        );
    }

    #[test]
    fn woothee_and_off() {
        let agents = UserAgents::woothee();
        let members = agents.members(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
        );
        assert!(members.contains(r#""name":"Chrome""#), "{members}");
        assert!(members.contains(r#""device":{"name":"pc"}"#), "{members}");
        assert!(members.contains(r#""version":"95.0.4638.69""#), "{members}");
        assert_eq!(
            *agents.members(""),
            r#""device":{"name":"Other"},"name":"Other""#
        );
        assert_eq!(*UserAgents::off().members("Firefox/93.0"), "");
        assert_eq!(Mode::from_name("woothee"), Some(Mode::Woothee));
        assert_eq!(Mode::from_name("UAP"), None);
    }

    #[test]
    fn short_forms_map_alike_in_every_parsing_mode() {
        let uap = UserAgents::uap(Regexes::from_yaml(RULES).unwrap());
        let woothee = UserAgents::woothee();
        for (agent, expected) in [
            (
                "Chrome 114.0.0 / Windows 10.0.0",
                r#""device":{"name":"Other"},"name":"Chrome","os":{"name":"Windows","full":"Windows 10.0.0","version":"10.0.0"},"version":"114.0.0""#,
            ),
            (
                "Firefox 121.0.0 / Mac OS X 10.15.7",
                r#""device":{"name":"Mac"},"name":"Firefox","os":{"name":"Mac OS X","full":"Mac OS X 10.15.7","version":"10.15.7"},"version":"121.0.0""#,
            ),
            (
                "Linux 0.0.0",
                r#""device":{"name":"Other"},"name":"Other","os":{"name":"Linux"}"#,
            ),
            (
                "Java 8.0.322 / Other 0.0.0",
                r#""device":{"name":"Other"},"name":"Java","version":"8.0.322""#,
            ),
        ] {
            assert_eq!(*uap.members(agent), expected, "uap: {agent}");
            assert_eq!(*woothee.members(agent), expected, "woothee: {agent}");
        }
        assert_eq!(
            *UserAgents::off().members("Chrome 114.0.0 / Windows 10.0.0"),
            ""
        );
    }

    #[test]
    fn names_client_reads_every_mode() {
        let uap = UserAgents::uap(Regexes::from_yaml(RULES).unwrap());
        let woothee = UserAgents::woothee();
        assert!(names_client(&uap.members(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Firefox/93.0"
        )));
        assert!(!names_client(&uap.members("curl/8.4.0")));
        assert!(names_client(&uap.members("curl 8.4.0 / Other 0.0.0")));
        assert!(!names_client(&uap.members("Linux 0.0.0")));
        assert!(names_client(&woothee.members("curl/8.4.0")));
        assert!(!names_client(&woothee.members("")));
        assert!(!names_client(&UserAgents::off().members("Firefox/93.0")));
    }
}
