//! A request body → one spool [`Append`]: each event pushed, each rejected
//! item dead-lettered, with the rejects of a body bounded by its size (see
//! [`Append::for_body`]). Items are judged one at a time
//! ([`framing::for_each`]), so a body of millions of bad lines costs no
//! more memory than a few of them.

use time::OffsetDateTime;

use crate::event::Input;
use crate::inputs::framing::{self, Item};
use crate::spool::Append;

/// The batch that spools `body`, received through `input` at `received_at`.
pub fn from_body(input: Input, received_at: OffsetDateTime, body: &[u8]) -> Append {
    let mut append = Append::for_body(body.len());
    framing::for_each(body, |item| match item {
        Item::Event(event) => append.push(input, received_at, event),
        Item::Rejected { reason, raw } => append.reject(input, received_at, &reason, raw),
    });
    append.finish_body(input, received_at, body);
    append
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::dead_letter::MAX_REJECTED_ITEMS;

    fn lines(append: &Append) -> Vec<serde_json::Value> {
        append
            .dead_letters()
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect()
    }

    /// `bad` one-byte bad lines and `good` events of `pad` bytes.
    fn body(bad: usize, good: usize, pad: usize) -> Vec<u8> {
        let mut body = "{\n".repeat(bad);
        for n in 0..good {
            body.push_str(&format!(
                "{{\"log_id\":\"{n}\",\"pad\":\"{}\"}}\n",
                "x".repeat(pad)
            ));
        }
        body.into_bytes()
    }

    #[test]
    fn up_to_the_bound_each_reject_is_its_own_entry() {
        // The events make the body larger than its rejects' entries.
        let body = body(MAX_REJECTED_ITEMS, 2, 100_000);
        let append = from_body(Input::Webhook, OffsetDateTime::now_utc(), &body);
        assert_eq!(
            (append.records(), append.rejected()),
            (2, MAX_REJECTED_ITEMS)
        );
        let lines = lines(&append);
        assert_eq!(lines.len(), MAX_REJECTED_ITEMS);
        assert_eq!(lines[0]["raw"], "{");
    }

    #[test]
    fn past_the_bound_the_body_is_one_entry_and_its_events_are_kept() {
        // 1,001 rejects: over the count. Small lines, so over the bytes too.
        let body = body(MAX_REJECTED_ITEMS + 1, 3, 100_000);
        let append = from_body(Input::Webhook, OffsetDateTime::now_utc(), &body);
        assert_eq!(
            (append.records(), append.rejected()),
            (3, MAX_REJECTED_ITEMS + 1)
        );
        let lines = lines(&append);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["rejected"], MAX_REJECTED_ITEMS + 1);
        assert_eq!(lines[0]["accepted"], 3);
        assert_eq!(lines[0]["reasons"].as_array().unwrap().len(), 10);
        // The body as text (escapes within 1/16) plus a fixed overhead.
        assert!(append.dead_letters().len() <= body.len() + body.len() / 16 + 1024);
    }

    #[test]
    fn rejects_that_would_outgrow_the_body_keep_it_whole_below_the_count() {
        // 600 rejects cost ~100 KB of entries: more than this 70 KB body.
        let large = body(600, 1, 68_000);
        let append = from_body(Input::Webhook, OffsetDateTime::now_utc(), &large);
        let lines = lines(&append);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["rejected"], 600);
        // A small body's few rejects stay single entries.
        assert_eq!(lines_of(&body(10, 1, 10)), 10);
    }

    fn lines_of(body: &[u8]) -> usize {
        lines(&from_body(Input::Webhook, OffsetDateTime::now_utc(), body)).len()
    }

    #[test]
    fn one_line_that_escapes_past_the_body_size_keeps_the_body_whole() {
        // 200 KiB of control characters: 6 bytes each as a JSON string.
        let mut body = vec![b'{'];
        body.extend(std::iter::repeat_n(1u8, 200 * 1024));
        body.extend_from_slice(b"\n{\"log_id\":\"1\"}\n");
        let append = from_body(Input::Webhook, OffsetDateTime::now_utc(), &body);
        assert_eq!((append.records(), append.rejected()), (1, 1));
        let lines = lines(&append);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].get("raw_gzip_base64").is_some(),
            "{}",
            lines[0]["reason"]
        );
        assert!(append.dead_letters().len() <= body.len());
    }
}
