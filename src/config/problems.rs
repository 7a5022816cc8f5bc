//! What validating a configuration can report: one key's problem
//! ([`ConfigError`]), all of them ([`ConfigErrors`]), a file's
//! ([`LoadError`], [`FromTomlError`]), the accumulator every section's
//! validation pushes into ([`Errors`]), and reading the file itself.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `webhook.listen`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every problem found in a configuration; never empty.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "  `{}`: {}", error.key, error.message)?;
        }
        Ok(())
    }
}

/// Loading a configuration file failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read config file `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML (unknown keys and wrong types are `Invalid`).
    #[error("config file `{path}` is not valid TOML: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what, without the source text (which may hold a secret).
        message: String,
    },
    /// The file parsed but some values are invalid.
    #[error("config file `{path}` has {} problem(s):\n{errors}", errors.0.len())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem.
        errors: ConfigErrors,
    },
}

/// Errors of [`Config::from_toml`].
#[derive(Debug, thiserror::Error)]
pub enum FromTomlError {
    /// Not TOML, or unknown keys or wrong types.
    #[error("{0}")]
    Parse(String),
    /// Values are invalid.
    #[error("{0}")]
    Invalid(ConfigErrors),
}

/// Accumulates problems.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<ConfigError>);

impl Errors {
    pub(crate) fn push(&mut self, key: &str, message: String) {
        self.0.push(ConfigError {
            key: key.to_owned(),
            message,
        });
    }

    pub(crate) fn into_result(self) -> Result<(), ConfigErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.0))
        }
    }
}

/// Reads a config file; a missing or unreadable file is a configuration
/// problem like any other (exit 78).
pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A file's problem, from the problem of its text.
pub(crate) fn load_error(path: &Path, error: FromTomlError) -> LoadError {
    match error {
        FromTomlError::Parse(message) => LoadError::Parse {
            path: path.to_owned(),
            message,
        },
        FromTomlError::Invalid(errors) => LoadError::Invalid {
            path: path.to_owned(),
            errors,
        },
    }
}

/// Whether `error` (from validation) is a consequence of a key already
/// reported and dropped while parsing: the same key, or one inside or
/// around it (a dropped `[spool]` makes validation say `spool` is missing).
pub(crate) fn follows_from(error: &ConfigError, reported: &[ConfigError]) -> bool {
    let within = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    reported.iter().any(|earlier| {
        let dropped = earlier.key.as_str();
        within(&error.key, dropped) || within(dropped, &error.key)
    })
}
