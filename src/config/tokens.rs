//! `tokens` / `tokens_file` pairs (the webhook's and the admin listener's):
//! inline values plus one value per line of a file.
//!
//! A tokens file is edited by hand during a rotation, so it reads like one:
//! blank lines and lines starting with `#` are ignored and whitespace around
//! a token is trimmed (an `Authorization` header never carries it). A token
//! that still looks wrong (whitespace inside, or shorter than
//! [`MIN_TOKEN_CHARS`]) is a warning naming its position or line, never
//! its value.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::credentials::resolve_credential;
use super::problems::{ConfigError, Errors};
use crate::secret::Secret;

/// Tokens shorter than this get a warning: Auth0's stream token is the only
/// thing between the internet and the spool.
pub const MIN_TOKEN_CHARS: usize = 16;

/// A tokens file as read, so a reload can tell what it saw
/// (`crate::reload`): a copy in `$CREDENTIALS_DIRECTORY` never changes
/// under a running agent, and an edit that changes no token rotates none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokensFile {
    /// `webhook.tokens_file` or `admin.tokens_file`.
    pub key: String,
    /// The file read.
    pub path: PathBuf,
    /// Whether `path` is systemd's copy in `$CREDENTIALS_DIRECTORY`.
    pub credential: bool,
    /// A digest of the file's bytes (not shown: it is of a secret).
    digest: Secret<u64>,
}

impl TokensFile {
    /// Whether `other` is the same file with other bytes.
    pub fn edited_since(&self, other: &TokensFile) -> bool {
        self.key == other.key && self.path == other.path && self.digest != other.digest
    }
}

/// Where `<section>.tokens` problems go, and which files were read.
pub(super) struct Report<'a> {
    /// Problems (the agent would not run).
    pub errors: &'a mut Errors,
    /// Likely mistakes; `None` for tokens that are whole `Authorization`
    /// values such as `Bearer …` (the admin's).
    pub warnings: Option<&'a mut Vec<ConfigError>>,
    /// The tokens files read.
    pub files: &'a mut Vec<TokensFile>,
}

/// Reads `<section>.tokens` and `<section>.tokens_file`, pushing a problem
/// for an empty token, an unreadable file or a file without a token, and
/// likely mistakes to `report.warnings`.
pub(super) fn read(
    section: &str,
    inline: Option<Vec<String>>,
    file: Option<PathBuf>,
    base: &Path,
    report: Report<'_>,
) -> Vec<Secret<String>> {
    let Report {
        errors,
        mut warnings,
        files,
    } = report;
    let mut tokens: Vec<Secret<String>> = Vec::new();
    let key = format!("{section}.tokens");
    for (index, token) in inline.unwrap_or_default().into_iter().enumerate() {
        if token.trim().is_empty() {
            errors.push(&format!("{section}.tokens[{index}]"), "is empty".to_owned());
        } else {
            if let Some(warnings) = warnings.as_deref_mut() {
                check(&token, tokens.len() + 1, "", &key, warnings);
            }
            tokens.push(Secret::new(token));
        }
    }
    if let Some(tokens_file) = file {
        let file_key = format!("{section}.tokens_file");
        let path = resolve_credential(base, &tokens_file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut hasher);
                files.push(TokensFile {
                    key: file_key.clone(),
                    credential: path != super::values::resolve(base, &tokens_file),
                    path: path.clone(),
                    digest: Secret::new(hasher.finish()),
                });
                let before = tokens.len();
                for (number, token) in lines(&text) {
                    if let Some(warnings) = warnings.as_deref_mut() {
                        let place = format!(" (line {number} of `{}`)", path.display());
                        check(token, tokens.len() + 1, &place, &key, warnings);
                    }
                    tokens.push(Secret::new(token.to_owned()));
                }
                if tokens.len() == before {
                    errors.push(
                        &file_key,
                        format!(
                            "`{}` holds no token (blank lines and `#` comments are ignored)",
                            path.display()
                        ),
                    );
                }
            }
            Err(error) => errors.push(
                &file_key,
                format!("cannot read `{}`: {error}", path.display()),
            ),
        }
    }
    tokens
}

/// The tokens of a tokens file with their 1-based line numbers: trimmed,
/// without blank lines and `#` comments.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// Warns about `token` (the `number`th of its section, found at `place`)
/// when it cannot be what the operator meant. Never shows the value.
fn check(token: &str, number: usize, place: &str, key: &str, warnings: &mut Vec<ConfigError>) {
    let token = token.trim();
    if token.contains(char::is_whitespace) {
        warnings.push(ConfigError {
            key: key.to_owned(),
            message: format!(
                "token {number} holds whitespace{place}: an Auth0 token never does, so this line is probably not the token"
            ),
        });
    } else if token.chars().count() < MIN_TOKEN_CHARS {
        warnings.push(ConfigError {
            key: key.to_owned(),
            message: format!(
                "token {number} is shorter than {MIN_TOKEN_CHARS} characters{place}: easy to guess; use `openssl rand -hex 32`"
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped_and_tokens_trimmed() {
        let text = "# prod token, rotated 2026-12\n\n  abc \r\n\t#indented comment\ndef\n";
        assert_eq!(lines(text).collect::<Vec<_>>(), [(3, "abc"), (5, "def")]);
    }

    #[test]
    fn warnings_name_the_line_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(
            &file,
            "# comment\nshort-one\nwith inner space 0123456789\n0123456789abcdef0123\n",
        )
        .unwrap();
        let mut errors = Errors::default();
        let mut warnings = Vec::new();
        let mut files = Vec::new();
        let report = Report {
            errors: &mut errors,
            warnings: Some(&mut warnings),
            files: &mut files,
        };
        let tokens = read("webhook", None, Some(file), dir.path(), report);
        assert_eq!(files.len(), 1);
        assert!(!files[0].credential);
        assert_eq!(tokens.len(), 3);
        assert!(errors.0.is_empty());
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].message.contains("token 1 is"));
        assert!(warnings[0].message.contains("(line 2 of"));
        assert!(warnings[0].message.contains("shorter than 16"));
        assert!(warnings[1].message.contains("token 2 holds"));
        assert!(warnings[1].message.contains("(line 3 of"));
        assert!(warnings[1].message.contains("whitespace"));
        for warning in &warnings {
            assert!(!warning.message.contains("short-one"));
            assert!(!warning.message.contains("inner"));
        }
    }
}
