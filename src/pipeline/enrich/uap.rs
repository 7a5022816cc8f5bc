//! A uap-core (`regexes.yaml`) user-agent parser with Elasticsearch's rules.
//!
//! Elasticsearch's `user_agent` processor reads the same file and applies,
//! per list (agents, operating systems, devices): the first regex that
//! finds a match *and* yields a name wins; the name is the replacement with
//! its first `$1` replaced by group 1 (when the replacement has one), else
//! group 1; version parts are their replacements (taken literally), else
//! groups 2–5. `regex_flag: 'i'` makes a regex case-insensitive. Regexes run
//! on bytes with ASCII classes, as Java's do by default (`\d` is `[0-9]`).
//! A regex the `regex` crate cannot compile is skipped and counted.

use std::borrow::Cow;

use regex::bytes::{Captures, Regex, RegexBuilder};
use serde::Deserialize;

/// Compiled uap-core rules.
#[derive(Debug)]
pub struct Regexes {
    semantics: Semantics,
    agents: Vec<Rule>,
    operating_systems: Vec<Rule>,
    devices: Vec<Rule>,
    skipped: Vec<String>,
}

/// How replacements are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// Elasticsearch's (what the pipeline uses): only the first `$1` of a
    /// name is substituted; version replacements are literal.
    Elasticsearch,
    /// uap-core's reference: every `$1`…`$9` of every replacement is
    /// substituted and the result trimmed (used to check the regex engine
    /// against uap-core's test suite).
    Reference,
}

/// A name with up to four version parts, as one list's match gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionedName {
    /// Family / OS name / device name.
    pub name: String,
    /// Version parts (major, minor, patch, build); `None` when absent.
    pub parts: [Option<String>; 4],
}

/// The ways `regexes.yaml` can be unusable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not the YAML layout of uap-core's `regexes.yaml`.
    #[error("not a uap-core regexes file")]
    Yaml(#[source] serde_yaml::Error),
}

#[derive(Debug)]
struct Rule {
    regex: Regex,
    name: Option<String>,
    versions: [Option<String>; 4],
}

impl Regexes {
    /// Compiles the rules of a `regexes.yaml` text, with Elasticsearch's
    /// semantics.
    pub fn from_yaml(text: &str) -> Result<Regexes, Error> {
        Regexes::from_yaml_with(text, Semantics::Elasticsearch)
    }

    /// Compiles the rules of a `regexes.yaml` text.
    pub fn from_yaml_with(text: &str, semantics: Semantics) -> Result<Regexes, Error> {
        let file: File = serde_yaml::from_str(text).map_err(Error::Yaml)?;
        let mut skipped = Vec::new();
        let mut compile = |entries: Vec<Entry>, kind: Kind| -> Vec<Rule> {
            entries
                .into_iter()
                .filter_map(|entry| {
                    let case_insensitive = entry.regex_flag.as_deref() == Some("i");
                    match RegexBuilder::new(&entry.regex)
                        .unicode(false)
                        .case_insensitive(case_insensitive)
                        .size_limit(64 << 20)
                        .build()
                    {
                        Ok(regex) => Some(kind.rule(regex, entry)),
                        Err(_) => {
                            skipped.push(entry.regex);
                            None
                        }
                    }
                })
                .collect()
        };
        Ok(Regexes {
            semantics,
            agents: compile(file.user_agent_parsers, Kind::Agent),
            operating_systems: compile(file.os_parsers, Kind::Os),
            devices: compile(file.device_parsers, Kind::Device),
            skipped,
        })
    }

    /// The regexes that could not be compiled.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The user agent (browser, app, bot) of `agent`.
    pub fn agent(&self, agent: &str) -> Option<VersionedName> {
        first_match(&self.agents, agent, self.semantics)
    }

    /// The operating system of `agent`.
    pub fn operating_system(&self, agent: &str) -> Option<VersionedName> {
        first_match(&self.operating_systems, agent, self.semantics)
    }

    /// The device of `agent`.
    pub fn device(&self, agent: &str) -> Option<VersionedName> {
        first_match(&self.devices, agent, self.semantics)
    }
}

impl VersionedName {
    /// Elasticsearch's version text: the non-empty leading parts joined by
    /// dots (`93.0`, `10.15.7`); `None` without a major part.
    pub fn version(&self) -> Option<String> {
        let mut version = String::new();
        for part in &self.parts {
            match part.as_deref() {
                Some(part) if !part.is_empty() => {
                    if !version.is_empty() {
                        version.push('.');
                    }
                    version.push_str(part);
                }
                _ => break,
            }
        }
        (!version.is_empty()).then_some(version)
    }
}

fn first_match(rules: &[Rule], agent: &str, semantics: Semantics) -> Option<VersionedName> {
    rules.iter().find_map(|rule| match semantics {
        Semantics::Elasticsearch => rule.apply(agent.as_bytes()),
        Semantics::Reference => rule.apply_reference(agent.as_bytes()),
    })
}

impl Rule {
    fn apply_reference(&self, agent: &[u8]) -> Option<VersionedName> {
        let captures = self.regex.captures(agent)?;
        let substitute = |replacement: &str| -> Option<String> {
            let mut out = String::new();
            let mut chars = replacement.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, chars.peek().and_then(|d| d.to_digit(10))) {
                    ('$', Some(digit)) if digit > 0 => {
                        chars.next();
                        if let Some(text) = group(&captures, digit as usize) {
                            out.push_str(&text);
                        }
                    }
                    _ => out.push(c),
                }
            }
            let out = out.trim();
            (!out.is_empty()).then(|| out.to_owned())
        };
        let name = match &self.name {
            Some(replacement) => substitute(replacement)?,
            None => group(&captures, 1)?.into_owned(),
        };
        let mut parts: [Option<String>; 4] = Default::default();
        for (index, part) in parts.iter_mut().enumerate() {
            *part = match &self.versions[index] {
                Some(replacement) => substitute(replacement),
                None => group(&captures, index + 2).map(Cow::into_owned),
            };
        }
        Some(VersionedName { name, parts })
    }

    fn apply(&self, agent: &[u8]) -> Option<VersionedName> {
        let captures = self.regex.captures(agent)?;
        let name = match &self.name {
            Some(replacement) => match group(&captures, 1) {
                Some(first) if replacement.contains("$1") => replacement.replacen("$1", &first, 1),
                _ => replacement.clone(),
            },
            None => group(&captures, 1)?.into_owned(),
        };
        let mut parts: [Option<String>; 4] = Default::default();
        for (index, part) in parts.iter_mut().enumerate() {
            *part = match &self.versions[index] {
                Some(replacement) => Some(replacement.clone()),
                None => group(&captures, index + 2).map(Cow::into_owned),
            };
        }
        Some(VersionedName { name, parts })
    }
}

/// Group `index` when it took part in the match.
fn group<'a>(captures: &Captures<'a>, index: usize) -> Option<Cow<'a, str>> {
    captures
        .get(index)
        .map(|found| String::from_utf8_lossy(found.as_bytes()))
}

#[derive(Clone, Copy)]
enum Kind {
    Agent,
    Os,
    Device,
}

impl Kind {
    fn rule(self, regex: Regex, entry: Entry) -> Rule {
        match self {
            Kind::Agent => Rule {
                regex,
                name: entry.family_replacement,
                versions: [
                    entry.v1_replacement,
                    entry.v2_replacement,
                    entry.v3_replacement,
                    entry.v4_replacement,
                ],
            },
            Kind::Os => Rule {
                regex,
                name: entry.os_replacement,
                versions: [
                    entry.os_v1_replacement,
                    entry.os_v2_replacement,
                    entry.os_v3_replacement,
                    entry.os_v4_replacement,
                ],
            },
            // Elasticsearch reads only the device name.
            Kind::Device => Rule {
                regex,
                name: entry.device_replacement,
                versions: [None, None, None, None],
            },
        }
    }
}

/// `regexes.yaml`.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    user_agent_parsers: Vec<Entry>,
    #[serde(default)]
    os_parsers: Vec<Entry>,
    #[serde(default)]
    device_parsers: Vec<Entry>,
}

/// One rule of any list.
#[derive(Deserialize)]
struct Entry {
    regex: String,
    regex_flag: Option<String>,
    family_replacement: Option<String>,
    v1_replacement: Option<String>,
    v2_replacement: Option<String>,
    v3_replacement: Option<String>,
    v4_replacement: Option<String>,
    os_replacement: Option<String>,
    os_v1_replacement: Option<String>,
    os_v2_replacement: Option<String>,
    os_v3_replacement: Option<String>,
    os_v4_replacement: Option<String>,
    device_replacement: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
user_agent_parsers:
  - regex: '(Firefox)/(\d+)\.(\d+)(?:\.(\d+)|)'
  - regex: 'Dolfin/(\d+)\.(\d+)'
    family_replacement: 'Dolphin $1 edition'
  - regex: '(Explorer|Collector)/(\d+) CFNetwork'
    family_replacement: '$1 for ArcGIS'
    v2_replacement: 'x'
  - regex: '(?:unused)(never)?'
os_parsers:
  - regex: '(Mac OS X) (\d+)[_.](\d+)(?:[_.](\d+)|)'
    os_replacement: 'Mac OS X'
  - regex: '(Ubuntu)'
device_parsers:
  - regex: 'ipad'
    regex_flag: 'i'
    device_replacement: 'iPad'
  - regex: '(Nexus \d+)'
    device_replacement: 'Google $1 $2'
  - regex: '(?<!lookbehind)x'
"#;

    #[test]
    fn elasticsearch_rules() {
        let regexes = Regexes::from_yaml(RULES).unwrap();
        assert_eq!(regexes.skipped(), ["(?<!lookbehind)x"]);
        let firefox = regexes
            .agent("Mozilla/5.0 (X11; Ubuntu) Firefox/93.0")
            .unwrap();
        assert_eq!(firefox.name, "Firefox");
        assert_eq!(firefox.version().as_deref(), Some("93.0"));
        // Replacement with $1 but the name is from the replacement itself.
        let dolfin = regexes.agent("Dolfin/2.1").unwrap();
        assert_eq!(dolfin.name, "Dolphin 2 edition");
        assert_eq!(dolfin.version().as_deref(), Some("1"));
        // v2 replacement taken literally.
        let arcgis = regexes.agent("Explorer/4 CFNetwork").unwrap();
        assert_eq!(arcgis.name, "Explorer for ArcGIS");
        assert_eq!(arcgis.parts[1].as_deref(), Some("x"));
        // A match without a name goes on to the next rule; none left.
        assert!(regexes.agent("unused").is_none());
        let mac = regexes.operating_system("Intel Mac OS X 10_15_7)").unwrap();
        assert_eq!(
            (mac.name.as_str(), mac.version().as_deref()),
            ("Mac OS X", Some("10.15.7"))
        );
        let ubuntu = regexes.operating_system("X11; Ubuntu; Linux").unwrap();
        assert_eq!((ubuntu.name.as_str(), ubuntu.version()), ("Ubuntu", None));
        assert_eq!(regexes.device("Mozilla (iPAD; CPU)").unwrap().name, "iPad");
        // Only $1 is substituted, as Elasticsearch does.
        assert_eq!(
            regexes.device("Nexus 5 Build").unwrap().name,
            "Google Nexus 5 $2"
        );
    }

    #[test]
    fn invalid_yaml_is_an_error() {
        assert!(Regexes::from_yaml("user_agent_parsers: 3").is_err());
    }
}
