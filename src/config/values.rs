//! The shapes of value every section validates the same way: counts and
//! sizes above zero, durations (humantime), paths relative to the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::problems::Errors;

/// A size or count that must be above zero (`default` when absent).
pub(crate) fn positive(
    errors: &mut Errors,
    key: &str,
    value: Option<impl Into<u64>>,
    default: u64,
) -> u64 {
    match value.map(Into::into) {
        Some(0) => {
            errors.push(key, "must be greater than zero".to_owned());
            default
        }
        Some(value) => value,
        None => default,
    }
}

/// Names of a closed set (`from_name` knows them), each kept once in the
/// order given; an unknown one is a problem at `key[index]`, said by
/// `unknown` (which lists the valid names).
pub(crate) fn known_names<T: PartialEq>(
    errors: &mut Errors,
    key: &str,
    names: Option<Vec<String>>,
    from_name: impl Fn(&str) -> Option<T>,
    unknown: impl Fn(&str) -> String,
) -> Vec<T> {
    let mut known = Vec::new();
    for (index, name) in names.unwrap_or_default().iter().enumerate() {
        match from_name(name) {
            Some(item) => {
                if !known.contains(&item) {
                    known.push(item);
                }
            }
            None => errors.push(&format!("{key}[{index}]"), unknown(name)),
        }
    }
    known
}

/// A count that must be at least 1 (`default` when absent).
pub(crate) fn at_least_one(
    errors: &mut Errors,
    key: &str,
    value: Option<usize>,
    default: usize,
) -> usize {
    let value = value.unwrap_or(default);
    if value == 0 {
        errors.push(key, "must be at least 1".to_owned());
    }
    value
}

/// A humantime duration above zero (`default` when absent).
pub(crate) fn duration(
    errors: &mut Errors,
    key: &str,
    value: Option<String>,
    default: Duration,
) -> Duration {
    let Some(text) = value else {
        return default;
    };
    match humantime::parse_duration(&text) {
        Ok(value) if !value.is_zero() => value,
        Ok(_) => {
            errors.push(key, "must be greater than zero".to_owned());
            default
        }
        Err(error) => {
            errors.push(
                key,
                format!("`{text}` is not a duration such as `30s` or `5m`: {error}"),
            );
            default
        }
    }
}

/// `path` relative to the config file's directory `base`.
pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}
