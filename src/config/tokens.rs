//! `tokens` / `tokens_file` pairs (the webhook's and the admin listener's):
//! inline values plus one value per line of a file, each non-empty.

use std::path::{Path, PathBuf};

use super::credentials::resolve_credential;
use super::problems::Errors;
use crate::secret::Secret;

/// Reads `<section>.tokens` and `<section>.tokens_file`, pushing a problem
/// for an empty token, an unreadable file or a file without a token.
pub(super) fn read(
    section: &str,
    inline: Option<Vec<String>>,
    file: Option<PathBuf>,
    base: &Path,
    errors: &mut Errors,
) -> Vec<Secret<String>> {
    let mut tokens: Vec<Secret<String>> = Vec::new();
    for (index, token) in inline.unwrap_or_default().into_iter().enumerate() {
        if token.trim().is_empty() {
            errors.push(&format!("{section}.tokens[{index}]"), "is empty".to_owned());
        } else {
            tokens.push(Secret::new(token));
        }
    }
    if let Some(tokens_file) = file {
        let key = format!("{section}.tokens_file");
        let path = resolve_credential(base, &tokens_file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let before = tokens.len();
                tokens.extend(
                    text.lines()
                        .map(|line| line.trim_end_matches('\r'))
                        .filter(|line| !line.trim().is_empty())
                        .map(|line| Secret::new(line.to_owned())),
                );
                if tokens.len() == before {
                    errors.push(&key, format!("`{}` holds no token", path.display()));
                }
            }
            Err(error) => errors.push(&key, format!("cannot read `{}`: {error}", path.display())),
        }
    }
    tokens
}
