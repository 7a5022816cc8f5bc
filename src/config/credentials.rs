//! Secrets in the file: given inline or in a file (never both), files
//! looked up in systemd's `$CREDENTIALS_DIRECTORY` first, values wrapped in
//! [`Secret`] so they never reach `Debug` output.

use std::path::{Path, PathBuf};

use super::problems::Errors;
use super::values::resolve;
use crate::secret::Secret;

/// Relative secret paths are looked up in systemd's `$CREDENTIALS_DIRECTORY`
/// (`LoadCredential=`) first, then next to the config file.
pub(crate) fn resolve_credential(base: &Path, path: &Path) -> PathBuf {
    if path.is_relative() {
        if let Some(directory) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let candidate = Path::new(&directory).join(path);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    resolve(base, path)
}

/// A secret given inline (`key`) or in a file (`key_file`), not both.
pub(crate) fn inline_or_file_secret(
    errors: &mut Errors,
    base: &Path,
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
) -> Option<Secret<String>> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            errors.push(key, format!("give `{key}` or `{key}_file`, not both"));
            None
        }
        (Some(value), None) if value.trim().is_empty() => {
            errors.push(key, "is empty".to_owned());
            None
        }
        (Some(value), None) => Some(Secret::new(value)),
        (None, Some(file)) => {
            let path = resolve_credential(base, &file);
            match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => Some(Secret::new(text.trim().to_owned())),
                Ok(_) => {
                    errors.push(
                        &format!("{key}_file"),
                        format!("`{}` is empty", path.display()),
                    );
                    None
                }
                Err(error) => {
                    errors.push(
                        &format!("{key}_file"),
                        format!("cannot read `{}`: {error}", path.display()),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}
