//! Elastic Stack credentials (`[output.elasticsearch]`, `[kibana]`): an
//! API key, or a username with a password, or neither; never both. One
//! check for both sections, with each section's key names.

use super::problems::Errors;
use crate::outputs::elasticsearch::Auth;
use crate::secret::Secret;

/// A section's key names and wording.
pub(super) struct Keys {
    /// Where "not both" is reported.
    pub api_key: &'static str,
    /// Where a username without a password is reported.
    pub username: &'static str,
    /// Where a password without a username is reported.
    pub password: &'static str,
    /// The "not both" message.
    pub both: &'static str,
    /// What a username without a password needs.
    pub password_needed: &'static str,
}

/// The credentials, [`Auth::None`] when none are given; `None` (each
/// problem pushed to `errors`) when they do not go together.
pub(super) fn auth(
    errors: &mut Errors,
    keys: &Keys,
    api_key: Option<Secret<String>>,
    username: Option<String>,
    password: Option<Secret<String>>,
) -> Option<Auth> {
    let problem = match (api_key, username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => (keys.api_key, keys.both),
        (Some(key), None, None) => return Some(Auth::ApiKey(key)),
        (None, Some(username), Some(password)) => return Some(Auth::Basic { username, password }),
        (None, Some(_), None) => (keys.username, keys.password_needed),
        (None, None, Some(_)) => (keys.password, "needs `username`"),
        (None, None, None) => return Some(Auth::None),
    };
    errors.push(problem.0, problem.1.to_owned());
    None
}
