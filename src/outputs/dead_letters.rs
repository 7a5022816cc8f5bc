//! Dead letters of the outputs: a document an output refuses for good is
//! kept as the event was received (so `auth0-ingest replay` can re-drive it
//! through the pipeline once the cause is fixed), with the output's reason,
//! in the spool's dead-letter file.
//!
//! **Invariant:** a delivery is finished only after its dead letters are
//! fsynced; [`write`] therefore retries until the file takes them.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::backoff::Backoff;
use crate::event::Document;
use crate::spool::dead_letter::{self, DeadLetters, Stage};

/// Appends the dead letter of `document`, whose event as received is
/// `original`, to `out`: `refused` says who refused what (`"elasticsearch
/// refused the document"`), `reason` why.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    document: &Document,
    original: &[u8],
    refused: &str,
    reason: &str,
) {
    dead_letter::encode_named(
        out,
        OffsetDateTime::now_utc(),
        &input_name(&document.json),
        Stage::Output,
        &format!("{refused}: {reason}"),
        original,
    );
}

/// Appends and fsyncs the dead letters `dead`; retried on `backoff` until
/// it works, since the documents cannot be acknowledged before they are
/// safe.
pub(crate) async fn write(dead_letters: &Arc<DeadLetters>, backoff: &Backoff, dead: Vec<u8>) {
    let dead = Arc::new(dead);
    let mut attempt = 0u32;
    loop {
        let file = Arc::clone(dead_letters);
        let lines = Arc::clone(&dead);
        let written = tokio::task::spawn_blocking(move || file.append(&lines)).await;
        match written {
            Ok(Ok(())) => return,
            Ok(Err(error)) => {
                tracing::error!(%error, path = %dead_letters.path().display(), "cannot write the dead-letter file; retrying");
            }
            Err(error) => {
                tracing::error!(%error, "dead-letter write task failed; retrying");
            }
        }
        tokio::time::sleep(backoff.delay(attempt, None)).await;
        attempt = attempt.saturating_add(1);
    }
}

/// The document's `input.type` when it has one (rare path: dead letters).
fn input_name(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|value| value.pointer("/input/type")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_name_comes_from_the_document() {
        assert_eq!(input_name(r#"{"input":{"type":"webhook"}}"#), "webhook");
        assert_eq!(input_name("{}"), "unknown");
    }
}
