//! The token check: the `Authorization` header must equal one configured
//! value exactly, compared in constant time.

use std::sync::{Arc, RwLock};

use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// Accepted tokens that SIGHUP can replace while requests are served.
#[derive(Debug, Default)]
pub struct Tokens(RwLock<Arc<Vec<Secret<String>>>>);

impl Tokens {
    /// Holds `tokens`.
    pub fn new(tokens: Vec<Secret<String>>) -> Tokens {
        Tokens(RwLock::new(Arc::new(tokens)))
    }

    /// The current tokens.
    pub fn get(&self) -> Arc<Vec<Secret<String>>> {
        Arc::clone(&self.0.read().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// Replaces the tokens (a request in flight keeps the ones it read).
    pub fn set(&self, tokens: Vec<Secret<String>>) {
        *self.0.write().unwrap_or_else(|poison| poison.into_inner()) = Arc::new(tokens);
    }
}

/// Whether `presented` matches one of `tokens`. Every token is compared, and
/// each comparison takes time independent of where the bytes differ, so
/// timing reveals neither a token nor which one matched. With no tokens
/// configured every request passes (an open endpoint, warned about at
/// start-up).
pub fn authorized(tokens: &[Secret<String>], presented: Option<&[u8]>) -> bool {
    if tokens.is_empty() {
        return true;
    }
    let Some(presented) = presented else {
        return false;
    };
    let mut matched = subtle::Choice::from(0);
    for token in tokens {
        matched |= token.expose().as_bytes().ct_eq(presented);
    }
    matched.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_of_any_token() {
        let tokens = vec![
            Secret::new("old".to_owned()),
            Secret::new("Bearer new".to_owned()),
        ];
        assert!(authorized(&tokens, Some(b"old")));
        assert!(authorized(&tokens, Some(b"Bearer new")));
        assert!(!authorized(&tokens, Some(b"new")));
        assert!(!authorized(&tokens, Some(b"old ")));
        assert!(!authorized(&tokens, None));
        assert!(authorized(&[], None));
    }
}
