//! TOML text → the `Raw*` structs of [`super::raw`], reporting every problem
//! of the file at once, with no secret in any message.
//!
//! serde stops at its first error. To report them all, the text is parsed
//! into a [`toml::Table`] first, then deserialized through
//! `serde_path_to_error`, which names the key path of the failure: the
//! problem is recorded, that key is removed from the table, and
//! deserialization is retried until the rest of the file deserializes. So the
//! `Raw*` structs stay the one schema of the file (sections added to them are
//! covered without a line here).
//!
//! Messages are built here, never taken whole from toml (whose `Display`
//! quotes the source line) or serde (whose "invalid type" quotes the value):
//! a value is shown only for a known key that is not secret ([`is_secret`]);
//! secret values and the values of unknown keys are shown as `"…"`.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::hint;
use super::problems::ConfigError;

/// What stands for a value that must not be shown.
pub const REDACTED: &str = "\"…\"";

/// Values longer than this are cut in messages.
const SHOWN_VALUE_CHARS: usize = 60;

/// A file that deserialized, maybe after dropping the keys in `errors`.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The file without its failing keys; `None` when even that failed.
    pub raw: Option<T>,
    /// One problem per dropped key, in file order of discovery.
    pub errors: Vec<ConfigError>,
}

/// The file is not TOML at all: where, and toml's short description (which
/// quotes no source text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// toml's description without the source excerpt.
    pub message: String,
}

/// Parses TOML text into a table (syntax only).
pub fn table(text: &str) -> Result<toml::Table, SyntaxError> {
    text.parse::<toml::Table>().map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start).min(text.len());
        let before = text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map_or(0, |tail| tail.chars().count())
            + 1;
        SyntaxError {
            line,
            column,
            message: error.message().trim().replace('\n', "; "),
        }
    })
}

/// Deserializes `table` into `T`, dropping and reporting each key that fails
/// (unknown keys, wrong types, missing required keys) until the rest fits.
pub fn deserialize<T: DeserializeOwned>(mut table: toml::Table) -> Parsed<T> {
    let mut errors = Vec::new();
    // Each round removes one key (or gives up), so this bounds the rounds by
    // the file's size; the constant guards against a bug looping forever.
    for _ in 0..10_000 {
        let value = toml::Value::Table(table.clone());
        let error = match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(raw) => {
                return Parsed {
                    raw: Some(raw),
                    errors,
                }
            }
            Err(error) => error,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let problem = Problem::from_message(error.inner().message());
        let (key_path, remove) = match &problem {
            // serde reports a missing field at the enclosing table: name the
            // field, drop the table.
            Problem::Missing { field } => (child(&segments, field), segments.clone()),
            _ => (segments.clone(), segments.clone()),
        };
        let key = dotted(&key_path);
        let shown = match &problem {
            Problem::Unknown { .. } => Some(REDACTED.to_owned()),
            Problem::Missing { .. } => None,
            _ if is_secret(&key) => Some(REDACTED.to_owned()),
            _ => value_at(&table, &segments).map(show),
        };
        // A key dropped for its type is then missing: one problem, not two.
        if !errors.iter().any(|error: &ConfigError| error.key == key) {
            errors.push(ConfigError {
                message: problem.describe(&key_path, shown.as_deref()),
                key,
            });
        }
        if !remove_at(&mut table, &remove) {
            // The root itself failed (it cannot be removed): stop here.
            return Parsed { raw: None, errors };
        }
    }
    Parsed { raw: None, errors }
}

/// Whether a key's value is a secret that no message may show: `tokens`,
/// `password`, `api_key`/`apikey`, `*_secret` and the like.
pub fn is_secret(key: &str) -> bool {
    let leaf = leaf(key);
    matches!(
        leaf,
        "tokens" | "token" | "password" | "passphrase" | "api_key" | "apikey" | "secret"
    ) || leaf.ends_with("_secret")
        || leaf.ends_with("_token")
        || leaf.ends_with("_password")
        || leaf.ends_with("_api_key")
        || leaf.ends_with("_apikey")
}

/// The last key of a dotted path, without `[n]` indices.
pub fn leaf(key: &str) -> &str {
    let without_index = key.split('[').next().unwrap_or(key);
    without_index.rsplit('.').next().unwrap_or(without_index)
}

/// What serde said, reduced to what may be shown.
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    /// A key the schema does not have; `expected` are the valid ones.
    Unknown { expected: Vec<String> },
    /// A required key is absent.
    Missing { field: String },
    /// The value has the wrong type or form: what was found (a kind, never
    /// the value) and serde's expectation (from the code, never the file).
    Invalid {
        found: Option<String>,
        expected: Option<String>,
    },
}

impl Problem {
    fn from_message(message: &str) -> Problem {
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let expected = rest
                .split_once(", expected ")
                .map(|(_, list)| backticked(list))
                .unwrap_or_default();
            return Problem::Unknown { expected };
        }
        if let Some(rest) = message.strip_prefix("missing field ") {
            let field = backticked(rest).into_iter().next().unwrap_or_default();
            return Problem::Missing { field };
        }
        let kind = ["invalid type: ", "invalid value: "]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix));
        match kind {
            Some(rest) => {
                let (found, expected) = match rest.rsplit_once(", expected ") {
                    Some((found, expected)) => (found, Some(expected.trim().to_owned())),
                    None => (rest, None),
                };
                Problem::Invalid {
                    found: Some(kind_of(found)),
                    expected,
                }
            }
            None => Problem::Invalid {
                found: None,
                expected: message
                    .strip_prefix("invalid length ")
                    .and_then(|rest| rest.split_once(", expected "))
                    .map(|(_, expected)| expected.trim().to_owned()),
            },
        }
    }

    fn describe(&self, path: &[Segment], shown: Option<&str>) -> String {
        let key = dotted(path);
        match self {
            Problem::Unknown { expected } => {
                let name = leaf(&key);
                let section = key.strip_suffix(name).unwrap_or("").trim_end_matches('.');
                let place = if section.is_empty() {
                    "at the top level".to_owned()
                } else {
                    format!("in [{section}]")
                };
                match closest(name, expected) {
                    Some(best) => format!(
                        "unknown key {place} (value {}); the closest valid key is `{best}`",
                        shown.unwrap_or(REDACTED)
                    ),
                    None => format!("unknown key {place}: this section takes no keys"),
                }
            }
            Problem::Missing { .. } => {
                format!("is required{}", example_suffix(&key))
            }
            Problem::Invalid { found, expected } => {
                let mut message = String::from("invalid value");
                if let Some(shown) = shown {
                    message.push_str(&format!(" `{shown}`"));
                }
                if let Some(found) = found {
                    message.push_str(&format!(" ({found})"));
                }
                match expected {
                    Some(expected) => {
                        message.push_str(&format!(": expected {}", friendly(expected)))
                    }
                    None => message.push_str(": not the expected form"),
                }
                message.push_str(&example_suffix(&key));
                message
            }
        }
    }
}

/// `; e.g. key = value` from the shipped example config, when it has the key.
fn example_suffix(key: &str) -> String {
    match hint::example(key) {
        Some(line) => format!("; e.g. `{line}`"),
        None => String::new(),
    }
}

/// serde's expectations (type names from the code) in operators' words.
fn friendly(expected: &str) -> String {
    match expected {
        "a sequence" => "a list such as `[\"a\", \"b\"]`".to_owned(),
        "a string" | "path string" => "a string in quotes".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        expected if expected.starts_with("struct ") => "a table (`[section]`)".to_owned(),
        expected => expected.to_owned(),
    }
}

/// The kind of a serde "unexpected" description, without its value:
/// ``string "S3CRET"`` → `a string`, `` integer `5` `` → `an integer`.
fn kind_of(found: &str) -> String {
    let kind = found
        .split(['"', '`', '\''])
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches(':');
    match kind {
        "string" => "a string",
        "integer" => "an integer",
        "floating point" => "a number",
        "boolean" => "a boolean",
        "sequence" => "a list",
        "map" => "a table",
        "unit value" | "unit" => "an empty value",
        "character" => "a character",
        _ => "a value of another type",
    }
    .to_owned()
}

/// The `backticked` names in a serde message.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The valid key closest to `name`.
fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| {
            (
                strsim::normalized_damerau_levenshtein(name, candidate),
                candidate.as_str(),
            )
        })
        .max_by(|left, right| left.0.total_cmp(&right.0))
        .map(|(_, candidate)| candidate)
}

fn child(path: &[Segment], field: &str) -> Vec<Segment> {
    let mut path = path.to_vec();
    path.push(Segment::Map {
        key: field.to_owned(),
    });
    path
}

/// `webhook.tokens[1]` from path segments.
fn dotted(path: &[Segment]) -> String {
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    key
}

fn value_at<'a>(table: &'a toml::Table, path: &[Segment]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let Segment::Map { key } = first else {
        return None;
    };
    let mut value = table.get(key)?;
    for segment in rest {
        value = match segment {
            Segment::Map { key } => value.as_table()?.get(key)?,
            Segment::Seq { index } => value.as_array()?.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Removes the key named by `path`; a failing list element takes its whole
/// list with it (so later indices keep meaning what the file says).
fn remove_at(table: &mut toml::Table, path: &[Segment]) -> bool {
    let keys: Vec<&str> = path
        .iter()
        .map_while(|segment| match segment {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut current = table;
    for key in parents {
        current = match current.get_mut(*key).and_then(toml::Value::as_table_mut) {
            Some(next) => next,
            None => return false,
        };
    }
    current.remove(*last).is_some()
}

fn show(value: &toml::Value) -> String {
    let text = match value {
        toml::Value::Table(_) => return "{…}".to_owned(),
        value => value.to_string(),
    };
    if text.chars().count() > SHOWN_VALUE_CHARS {
        let cut: String = text.chars().take(SHOWN_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawConfig;

    fn problems(text: &str) -> Vec<(String, String)> {
        let parsed = deserialize::<RawConfig>(table(text).unwrap());
        parsed
            .errors
            .into_iter()
            .map(|error| (error.key, error.message))
            .collect()
    }

    #[test]
    fn every_type_error_is_reported_in_one_pass() {
        let found = problems(
            "[webhook]\nmax_connections = \"many\"\nheader_timeout = 10\ntokens = \"S3CRET-abc\"\n\
             [spool]\ndir = 5\n[output.file]\ndir = \"/o\"\nmax_files = -1\n[log]\nlevel = 3\n",
        );
        let keys: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "log.level",
                "output.file.max_files",
                "spool.dir",
                "webhook.header_timeout",
                "webhook.max_connections",
                "webhook.tokens",
            ]
        );
        let message = |key: &str| &found.iter().find(|(k, _)| k == key).unwrap().1;
        assert_eq!(
            message("output.file.max_files"),
            "invalid value `-1` (an integer): expected a whole number, 0 or more; e.g. `max_files = 0`"
        );
        assert_eq!(
            message("webhook.header_timeout"),
            "invalid value `10` (an integer): expected a string in quotes; e.g. `header_timeout = \"10s\"`"
        );
        assert_eq!(
            message("webhook.max_connections"),
            "invalid value `\"many\"` (a string): expected a whole number, 0 or more; e.g. `max_connections = 512`"
        );
        assert!(message("webhook.tokens")
            .starts_with("invalid value `\"…\"` (a string): expected a list"));
        for (_, message) in &found {
            assert!(!message.contains("S3CRET"), "{message}");
        }
    }

    #[test]
    fn sizes_are_explained_in_operators_words() {
        for value in ["\"12 parsecs\"", "-5", "true"] {
            let found = problems(&format!("[spool]\ndir = \"/s\"\nmax_bytes = {value}\n"));
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].1.ends_with(
                    "expected a size such as `\"16MiB\"`, or a number of bytes; e.g. `max_bytes = \"1GiB\"`"
                ),
                "{found:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_name_the_closest_valid_key_and_hide_their_value() {
        let found = problems(
            "[webhook]\nlisten_adress = \"127.0.0.1:1\"\ntoken = \"S3CRET\"\n[output.elasticsearch]\nhosts = []\napikey = \"S3CRET\"\n[loggin]\nlevel = \"x\"\n",
        );
        assert_eq!(
            found,
            [
                (
                    "webhook.listen_adress".to_owned(),
                    "unknown key in [webhook] (value \"…\"); the closest valid key is `listen`"
                        .to_owned()
                ),
                (
                    "webhook.token".to_owned(),
                    "unknown key in [webhook] (value \"…\"); the closest valid key is `tokens`"
                        .to_owned()
                ),
                (
                    "output.elasticsearch.apikey".to_owned(),
                    "unknown key in [output.elasticsearch] (value \"…\"); the closest valid key is `api_key`"
                        .to_owned()
                ),
                (
                    "loggin".to_owned(),
                    "unknown key at the top level (value \"…\"); the closest valid key is `log`"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_missing_required_key_is_named_and_its_table_dropped() {
        let parsed = deserialize::<RawConfig>(
            table("[spool]\nmax_bytes = \"1GiB\"\n[log]\nlevel = \"info\"\n").unwrap(),
        );
        let raw = parsed.raw.unwrap();
        assert!(raw.spool.is_none());
        assert_eq!(raw.log.level.as_deref(), Some("info"));
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].key, "spool.dir");
        assert!(parsed.errors[0]
            .message
            .starts_with("is required; e.g. `dir = "));
    }

    #[test]
    fn secret_values_are_redacted_everywhere() {
        for text in [
            "[webhook]\ntokens = [\"ok-token-1234567\", 42]\n",
            "[poller]\nclient_secret = 12345\n",
            "[output.elasticsearch]\nhosts = []\npassword = 1234\n",
            "[output.elasticsearch]\nhosts = []\napi_key = [\"1234\"]\n",
        ] {
            for (key, message) in problems(text) {
                assert!(is_secret(&key), "{key}");
                assert!(message.contains(REDACTED), "{message}");
                assert!(!message.contains("1234"), "{message}");
            }
        }
    }

    #[test]
    fn syntax_errors_give_a_position_and_no_source_text() {
        let error = table("[webhook]\ntokens = [\"S3CRET\"\nlisten = 1\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(!error.to_string().contains("S3CRET"), "{error}");
    }

    #[test]
    fn secret_keys() {
        for key in [
            "webhook.tokens[0]",
            "poller.client_secret",
            "a.password",
            "x.apikey",
            "x.api_key",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in ["webhook.tokens_file", "webhook.listen", "poller.client_id"] {
            assert!(!is_secret(key), "{key}");
        }
    }
}
