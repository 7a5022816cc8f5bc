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
//!
//! Trying ~1,500 regexes one by one costs about half a millisecond per
//! user agent, so a prefilter (the idea of uap-rust's `regex-filtered`)
//! comes first: from each regex's syntax tree we take literals every match
//! must contain, as clauses ("one of these, and one of those"), find all
//! literals in the user agent in one Aho-Corasick pass (ASCII
//! case-insensitive, so it only ever admits too many), and run, in their
//! original order, only the regexes whose clauses all hold.

use std::borrow::Cow;

use std::collections::HashMap;

use aho_corasick::AhoCorasick;
use regex::bytes::{Captures, Regex, RegexBuilder};
use regex_syntax::hir::{Hir, HirKind};
use serde::Deserialize;

/// Compiled uap-core rules.
#[derive(Debug)]
pub struct Regexes {
    semantics: Semantics,
    agents: Vec<Rule>,
    operating_systems: Vec<Rule>,
    devices: Vec<Rule>,
    skipped: Vec<String>,
    prefilter: Option<Prefilter>,
}

/// Which rules can match a user agent, from the literals it contains.
#[derive(Debug)]
struct Prefilter {
    literals: AhoCorasick,
    /// Per list, per rule, its clauses as literal ids.
    clauses: [Vec<Vec<Vec<usize>>>; 3],
}

/// Literals a match must contain: every clause needs one of its literals.
type Clauses = Vec<Vec<Vec<u8>>>;

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
    Yaml(#[source] serde_norway::Error),
}

#[derive(Debug)]
struct Rule {
    regex: Regex,
    name: Option<String>,
    versions: [Option<String>; 4],
    /// What every match contains (empty: nothing known).
    clauses: Clauses,
}

impl Regexes {
    /// Compiles the rules of a `regexes.yaml` text, with Elasticsearch's
    /// semantics.
    pub fn from_yaml(text: &str) -> Result<Regexes, Error> {
        Regexes::from_yaml_with(text, Semantics::Elasticsearch)
    }

    /// Compiles the rules of a `regexes.yaml` text.
    pub fn from_yaml_with(text: &str, semantics: Semantics) -> Result<Regexes, Error> {
        let file: File = serde_norway::from_str(text).map_err(Error::Yaml)?;
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
                        Ok(regex) => {
                            let clauses = required_literals(&entry.regex);
                            Some(kind.rule(regex, clauses, entry))
                        }
                        Err(_) => {
                            skipped.push(entry.regex);
                            None
                        }
                    }
                })
                .collect()
        };
        let agents = compile(file.user_agent_parsers, Kind::Agent);
        let operating_systems = compile(file.os_parsers, Kind::Os);
        let devices = compile(file.device_parsers, Kind::Device);
        let prefilter = Prefilter::build([&agents, &operating_systems, &devices]);
        Ok(Regexes {
            semantics,
            agents,
            operating_systems,
            devices,
            skipped,
            prefilter,
        })
    }

    /// Agent, OS and device of `agent` at once (one prefilter pass).
    pub fn parse(
        &self,
        agent: &str,
    ) -> (
        Option<VersionedName>,
        Option<VersionedName>,
        Option<VersionedName>,
    ) {
        let candidates = self.candidates(agent);
        let lists = [&self.agents, &self.operating_systems, &self.devices];
        let mut found = lists.iter().enumerate().map(|(list, rules)| {
            first_match(
                rules,
                agent,
                self.semantics,
                candidates.as_ref().map(|c| c[list].as_slice()),
            )
        });
        (
            found.next().flatten(),
            found.next().flatten(),
            found.next().flatten(),
        )
    }

    /// Per list, which rules may match (`None`: no prefilter, all may).
    fn candidates(&self, agent: &str) -> Option<[Vec<bool>; 3]> {
        let prefilter = self.prefilter.as_ref()?;
        let mut found = vec![false; prefilter.literals.patterns_len()];
        for literal in prefilter.literals.find_overlapping_iter(agent.as_bytes()) {
            found[literal.pattern().as_usize()] = true;
        }
        let holds = |clauses: &Vec<Vec<usize>>| {
            clauses.iter().all(|clause| {
                clause
                    .iter()
                    .any(|&id| found.get(id).copied().unwrap_or(true))
            })
        };
        Some(
            prefilter
                .clauses
                .each_ref()
                .map(|rules| rules.iter().map(holds).collect()),
        )
    }

    /// The regexes that could not be compiled.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The user agent (browser, app, bot) of `agent`.
    pub fn agent(&self, agent: &str) -> Option<VersionedName> {
        self.parse(agent).0
    }

    /// The operating system of `agent`.
    pub fn operating_system(&self, agent: &str) -> Option<VersionedName> {
        self.parse(agent).1
    }

    /// The device of `agent`.
    pub fn device(&self, agent: &str) -> Option<VersionedName> {
        self.parse(agent).2
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

fn first_match(
    rules: &[Rule],
    agent: &str,
    semantics: Semantics,
    candidates: Option<&[bool]>,
) -> Option<VersionedName> {
    rules
        .iter()
        .enumerate()
        .filter(|(index, _)| candidates.is_none_or(|c| c.get(*index).copied().unwrap_or(true)))
        .find_map(|(_, rule)| match semantics {
            Semantics::Elasticsearch => rule.apply(agent.as_bytes()),
            Semantics::Reference => rule.apply_reference(agent.as_bytes()),
        })
}

impl Prefilter {
    /// `None` when the literals cannot be compiled (then every rule runs).
    fn build(lists: [&Vec<Rule>; 3]) -> Option<Prefilter> {
        let mut ids: HashMap<&[u8], usize> = HashMap::new();
        let mut literals: Vec<&[u8]> = Vec::new();
        let clauses = lists.map(|rules| {
            rules
                .iter()
                .map(|rule| {
                    rule.clauses
                        .iter()
                        .map(|clause| {
                            clause
                                .iter()
                                .map(|literal| {
                                    *ids.entry(literal.as_slice()).or_insert_with(|| {
                                        literals.push(literal.as_slice());
                                        literals.len() - 1
                                    })
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect()
        });
        let literals = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&literals)
            .ok()?;
        Some(Prefilter { literals, clauses })
    }
}

/// What every match of `pattern` contains, compared ASCII-case-
/// insensitively (empty when nothing useful is known).
fn required_literals(pattern: &str) -> Clauses {
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
    else {
        return Vec::new();
    };
    necessary(&hir)
        .into_iter()
        // A one-byte literal (`/`, `;`) is in nearly every user agent.
        .filter(|clause| clause.iter().all(|literal| literal.len() >= 2))
        .collect()
}

/// Most literals in one clause; a bigger clause is dropped.
const MAX_CLAUSE: usize = 256;

/// Sound by construction: a concatenation's match contains each part's
/// match (all their clauses hold), an alternation's one branch's (the union
/// of one clause per branch holds), a repetition of at least one its
/// body's. Consecutive exact parts of a concatenation are joined into one
/// longer literal.
fn necessary(hir: &Hir) -> Clauses {
    match hir.kind() {
        HirKind::Literal(_) | HirKind::Class(_) => exact(hir)
            .map(|literal| vec![vec![literal]])
            .unwrap_or_default(),
        HirKind::Capture(capture) => necessary(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min >= 1 => necessary(&repetition.sub),
        HirKind::Concat(parts) => {
            let mut clauses = Vec::new();
            let mut run: Vec<u8> = Vec::new();
            for part in parts {
                match exact(part) {
                    Some(bytes) => run.extend(bytes),
                    None => {
                        if !run.is_empty() {
                            clauses.push(vec![std::mem::take(&mut run)]);
                        }
                        clauses.extend(necessary(part));
                    }
                }
            }
            if !run.is_empty() {
                clauses.push(vec![run]);
            }
            clauses
        }
        HirKind::Alternation(branches) => {
            let mut union = Vec::new();
            for branch in branches {
                // The branch's most selective clause: longest shortest literal.
                let Some(best) = necessary(branch)
                    .into_iter()
                    .filter(|clause| clause.iter().all(|literal| literal.len() >= 2))
                    .max_by_key(|clause| clause.iter().map(Vec::len).min().unwrap_or(0))
                else {
                    return Vec::new();
                };
                union.extend(best);
                if union.len() > MAX_CLAUSE {
                    return Vec::new();
                }
            }
            vec![union]
        }
        _ => Vec::new(),
    }
}

/// The exact bytes `hir` matches, when it matches just one string (ASCII
/// case aside: `[Dd]` is `d`), looking through captures.
fn exact(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(literal.0.to_vec()),
        HirKind::Class(class) => {
            let ranges: Vec<(u32, u32)> = match class {
                regex_syntax::hir::Class::Bytes(bytes) => bytes
                    .ranges()
                    .iter()
                    .map(|range| (u32::from(range.start()), u32::from(range.end())))
                    .collect(),
                regex_syntax::hir::Class::Unicode(unicode) => unicode
                    .ranges()
                    .iter()
                    .map(|range| (u32::from(range.start()), u32::from(range.end())))
                    .collect(),
            };
            let members: Vec<u32> = ranges
                .iter()
                .flat_map(|&(start, end)| start..=end.min(start + 2))
                .collect();
            let byte = |value: u32| u8::try_from(value).ok().filter(u8::is_ascii);
            match members[..] {
                [single] => byte(single).map(|b| vec![b]),
                [a, b] => {
                    let (a, b) = (byte(a)?, byte(b)?);
                    a.eq_ignore_ascii_case(&b).then(|| vec![a])
                }
                _ => None,
            }
        }
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Concat(parts) => {
            let mut bytes = Vec::new();
            for part in parts {
                bytes.extend(exact(part)?);
            }
            Some(bytes)
        }
        _ => None,
    }
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
    fn rule(self, regex: Regex, clauses: Clauses, entry: Entry) -> Rule {
        match self {
            Kind::Agent => Rule {
                regex,
                clauses,
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
                clauses,
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
                clauses,
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

    /// The prefilter never changes a result: uap-core's own rules over its
    /// agent test strings, with and without it.
    #[test]
    fn prefilter_changes_nothing() {
        let rules = std::fs::read_to_string(crate::pipeline::enrich::DEFAULT_UAP_REGEXES)
            .expect("Debian's uap-core must be installed (apt-get install uap-core)");
        let filtered = Regexes::from_yaml(&rules).unwrap();
        assert!(filtered.prefilter.is_some());
        let filtered_rules = [
            &filtered.agents,
            &filtered.operating_systems,
            &filtered.devices,
        ];
        let with_literals: usize = filtered_rules
            .iter()
            .flat_map(|l| l.iter())
            .filter(|r| !r.clauses.is_empty())
            .count();
        let total: usize = filtered_rules.iter().map(|l| l.len()).sum();
        assert!(
            with_literals * 2 > total,
            "only {with_literals} of {total} rules prefiltered"
        );
        println!("uap prefilter: {with_literals} of {total} rules have literals");
        for (name, list) in ["agents", "os", "devices"].iter().zip(filtered_rules) {
            for rule in list.iter().filter(|r| r.clauses.is_empty()) {
                println!("uap prefilter: unfiltered {name}: {}", rule.regex.as_str());
            }
        }
        let mut plain = Regexes::from_yaml(&rules).unwrap();
        plain.prefilter = None;
        let suite = std::fs::read_to_string("/usr/share/uap-core/tests/test_ua.yaml").unwrap();
        let agents: Vec<&str> = suite
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- user_agent_string: "))
            .map(|agent| agent.trim_matches(|c| c == '\'' || c == '"'))
            .step_by(3)
            .collect();
        assert!(agents.len() > 400);
        let candidates: usize = agents
            .iter()
            .map(|agent| {
                filtered.candidates(agent).map_or(0, |lists| {
                    lists
                        .iter()
                        .flatten()
                        .filter(|&&candidate| candidate)
                        .count()
                })
            })
            .sum();
        println!(
            "uap prefilter: {:.1} candidate rules per user agent",
            candidates as f64 / agents.len() as f64
        );
        for agent in agents {
            assert_eq!(filtered.parse(agent), plain.parse(agent), "{agent}");
        }
    }

    #[test]
    fn required_literals_are_necessary() {
        let clauses = |pattern: &str| -> Vec<Vec<String>> {
            required_literals(pattern)
                .into_iter()
                .map(|clause| {
                    clause
                        .into_iter()
                        .map(|literal| String::from_utf8(literal).unwrap())
                        .collect()
                })
                .collect()
        };
        // Exact parts join; `[Dd]` is `d` (matching is case-insensitive).
        assert_eq!(clauses(r"(Firefox)/(\d+)"), [["Firefox/"]]);
        assert_eq!(clauses(r"[Dd]roid (\d+) Build"), [["Droid "], [" Build"]]);
        // An alternation gives one clause with a literal per branch.
        assert_eq!(clauses(r"(?:Edge|Chrome)/(\d+)").len(), 1);
        // Optional parts, classes and one-byte literals give no clause.
        assert!(clauses(r"(?:Foo)?(\d+)").is_empty());
        assert!(clauses(r"[A-Z]+/(\d+)").is_empty());
        assert!(clauses(r"(?:Foo|[a-z])x").is_empty());
    }

    #[test]
    fn invalid_yaml_is_an_error() {
        assert!(Regexes::from_yaml("user_agent_parsers: 3").is_err());
    }
}
