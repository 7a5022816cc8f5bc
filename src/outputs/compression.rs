//! Request body compression shared by the HTTP outputs (Elasticsearch,
//! Datadog): `compression = "gzip" | "none"`.
//!
//! Gzip at level 1, like Beats and Elastic Agent: Auth0 events are
//! repetitive JSON, so the fastest level already cuts bodies several-fold
//! while costing a few milliseconds per megabyte. Compression runs on the
//! blocking pool so that a 5 MB body does not stall the runtime's workers
//! (the webhook shares them).

use std::io::Write;

use flate2::write::GzEncoder;

/// How request bodies are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `Content-Encoding: gzip`, level 1.
    Gzip,
    /// As is.
    None,
}

impl Compression {
    /// The config values, the default first.
    pub const CHOICES: [(&'static str, Compression); 2] =
        [("gzip", Compression::Gzip), ("none", Compression::None)];

    /// The config value for `name`: `gzip` or `none`.
    pub fn from_name(name: &str) -> Option<Compression> {
        Self::CHOICES
            .iter()
            .find(|(choice, _)| *choice == name)
            .map(|(_, compression)| *compression)
    }

    /// The `Content-Encoding` header value, when there is one.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::Gzip => Some("gzip"),
            Compression::None => None,
        }
    }

    /// `body` as sent on the wire.
    pub fn encode(self, body: Vec<u8>) -> Vec<u8> {
        match self {
            Compression::None => body,
            Compression::Gzip => gzip(&body),
        }
    }

    /// [`Compression::encode`] on the blocking pool (a no-op for `None`).
    pub async fn encode_off_runtime(self, body: Vec<u8>) -> Vec<u8> {
        match self {
            Compression::None => body,
            Compression::Gzip => match tokio::task::spawn_blocking(move || gzip(&body)).await {
                Ok(encoded) => encoded,
                // `gzip` into a `Vec` cannot fail or panic short of memory
                // exhaustion; a panic there is fatal (STYLE §3).
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            },
        }
    }
}

/// Gzip at level 1.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // `io::Write` for `Vec` never fails, so neither can this.
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_round_trips_and_shrinks_json() {
        let body: Vec<u8> = (0..2000)
            .flat_map(|n| {
                format!("{{\"log_id\":\"{n}\",\"data\":{{\"type\":\"s\"}}}}\n").into_bytes()
            })
            .collect();
        let encoded = Compression::Gzip.encode(body.clone());
        assert!(
            encoded.len() * 4 < body.len(),
            "{} vs {}",
            encoded.len(),
            body.len()
        );
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(encoded.as_slice())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        assert_eq!(Compression::None.encode(body.clone()), body);
        assert_eq!(Compression::from_name("gzip"), Some(Compression::Gzip));
        assert_eq!(Compression::from_name("zstd"), None);
    }
}
