//! The token check: the `Authorization` header must equal one configured
//! value exactly, compared in constant time.

use subtle::ConstantTimeEq;

use crate::config::secret::Secret;

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
