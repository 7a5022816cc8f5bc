//! `tokens` / `tokens_file` pairs (the webhook's and the admin listener's):
//! inline values plus one value per line of a file.
//!
//! A tokens file is edited by hand during a rotation, so it reads like one:
//! blank lines and lines starting with `#` are ignored and whitespace around
//! a token is trimmed (an `Authorization` header never carries it). A token
//! that still looks wrong (whitespace inside, or shorter than
//! [`MIN_TOKEN_CHARS`]) is a warning naming its position or line, never
//! its value.

use std::path::{Path, PathBuf};

use super::{resolve_credential, ConfigError, Errors, MIN_TOKEN_CHARS};
use crate::secret::Secret;

/// Reads `<section>.tokens` and `<section>.tokens_file`, pushing a problem
/// for an empty token, an unreadable file or a file without a token. With
/// `warnings`, likely mistakes are pushed there (the webhook's tokens; the
/// admin's are whole `Authorization` values such as `Bearer …`).
pub(super) fn read(
    section: &str,
    inline: Option<Vec<String>>,
    file: Option<PathBuf>,
    base: &Path,
    errors: &mut Errors,
    mut warnings: Option<&mut Vec<ConfigError>>,
) -> Vec<Secret<String>> {
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
                "token {number}{place} holds whitespace: an Auth0 token never does, so this line is probably not the token"
            ),
        });
    } else if token.chars().count() < MIN_TOKEN_CHARS {
        warnings.push(ConfigError {
            key: key.to_owned(),
            message: format!(
                "token {number}{place} is shorter than {MIN_TOKEN_CHARS} characters: easy to guess; use `openssl rand -hex 32`"
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
        let tokens = read(
            "webhook",
            None,
            Some(file),
            dir.path(),
            &mut errors,
            Some(&mut warnings),
        );
        assert_eq!(tokens.len(), 3);
        assert!(errors.0.is_empty());
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].message.contains("token 1 (line 2 of"));
        assert!(warnings[0].message.contains("shorter than 16"));
        assert!(warnings[1].message.contains("token 2 (line 3 of"));
        assert!(warnings[1].message.contains("whitespace"));
        for warning in &warnings {
            assert!(!warning.message.contains("short-one"));
            assert!(!warning.message.contains("inner"));
        }
    }
}
