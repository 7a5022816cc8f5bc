//! `user.name` and `user.domain` from a `user@host` text, as Elastic's
//! grok pattern splits it. A leaf of the pipeline: [`super::users`] (and
//! through it the mapping) uses it; it uses nothing of theirs.

/// Elastic's grok: `%{USERNAME:user.name}@%{HOSTNAME:user.domain}`
/// (unanchored), else the whole text as `user.name`.
///
/// Hand-written for speed; the unit tests check it against the regex the
/// grok patterns expand to. USERNAME is `[a-zA-Z0-9._-]+`, HOSTNAME is
/// `\b(?:L)(?:\.(?:L))*(\.?|\b)` with `L = [0-9A-Za-z][0-9A-Za-z-]{0,62}`.
/// The leftmost match starts at the run of USERNAME characters before the
/// first `@` that has such a run and a host after it.
pub(crate) fn split(text: &str) -> (Option<&str>, Option<&str>) {
    let bytes = text.as_bytes();
    let is_user = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    for (at, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'@') {
        let start = bytes[..at]
            .iter()
            .rposition(|&b| !is_user(b))
            .map_or(0, |p| p + 1);
        if start == at {
            continue;
        }
        let Some(end) = host_end(bytes, at + 1) else {
            continue;
        };
        return (Some(&text[start..at]), Some(&text[at + 1..end]));
    }
    (Some(text), None)
}

/// The end of the HOSTNAME starting at `from`, if one does.
fn host_end(bytes: &[u8], from: usize) -> Option<usize> {
    // One label: an alphanumeric then up to 62 of [0-9A-Za-z-], greedy.
    let label = |at: usize| -> Option<usize> {
        if !bytes.get(at)?.is_ascii_alphanumeric() {
            return None;
        }
        let rest = bytes[at + 1..]
            .iter()
            .take(62)
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        Some(at + 1 + rest)
    };
    let mut end = label(from)?;
    while bytes.get(end) == Some(&b'.') {
        match label(end + 1) {
            Some(next) => end = next,
            None => break,
        }
    }
    // `\.?`: a trailing dot belongs to the host.
    if bytes.get(end) == Some(&b'.') {
        end += 1;
    }
    Some(end)
}
