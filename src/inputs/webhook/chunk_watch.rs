//! Spots a chunk size above `max_body_bytes` the moment it arrives.
//!
//! Hyper decodes chunked bodies and refuses sizes that overflow `u64`, but
//! a size such as `8000000000000000` is accepted and then waited for: the
//! handler only sees data frames, never the declared size, so a client
//! that declares a huge chunk and stops would hold the request until
//! `body_timeout`. This watch follows the HTTP/1.1 message framing of the
//! bytes hyper reads (request heads parsed with `httparse`, as hyper does;
//! `Content-Length` bodies skipped; chunk-size lines read) and reports the
//! request whose chunk size exceeds the limit, so the handler answers `413`
//! at once ([`ChunkAlarm`]).
//!
//! It never decides alone: anything it does not follow exactly as hyper
//! does (a head `httparse` refuses, `CONNECT`, `Upgrade`, HTTP/1.0 with
//! `Transfer-Encoding`, a malformed size line) switches it off for the
//! connection, leaving hyper's checks and `body_timeout` in charge.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Hyper's limit on header lines.
const MAX_HEADERS: usize = 100;

/// Heads longer than this are not followed (hyper's own limit is larger;
/// the watch simply stops).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// No request flagged.
const NONE: u64 = u64::MAX;

/// Where the watch is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head.
    Head,
    /// Inside a `Content-Length` body: bytes left.
    Fixed(u64),
    /// Reading a chunk-size line: the value so far, digits seen, and
    /// whether the size ended (extension or whitespace follows).
    Size { value: u64, digits: u8, ended: bool },
    /// Inside chunk data: bytes left.
    Data(u64),
    /// The line end after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk: bytes in the current line.
    Trailers(usize),
    /// Not following this connection any more.
    Off,
}

/// The framing follower of one connection's request bytes.
#[derive(Debug)]
pub(super) struct ChunkWatch {
    limit: u64,
    state: State,
    head: Vec<u8>,
    /// Heads parsed so far.
    parsed: u64,
    /// Index of the request whose body is being followed.
    current: u64,
    alarm: Arc<Alarm>,
}

/// Shared between the watch and the requests of its connection.
#[derive(Debug)]
struct Alarm {
    /// Index of the request with an oversized chunk, or `NONE`.
    request: AtomicU64,
    rung: Notify,
}

/// What one request's handler waits on: rings when that request declared a
/// chunk larger than the limit. Put into the request's extensions by the
/// server.
#[derive(Debug, Clone)]
pub(super) struct ChunkAlarm {
    alarm: Arc<Alarm>,
    request: u64,
}

impl ChunkWatch {
    pub(super) fn new(limit: usize) -> ChunkWatch {
        ChunkWatch {
            limit: limit as u64,
            state: State::Head,
            head: Vec::new(),
            parsed: 0,
            current: 0,
            alarm: Arc::new(Alarm {
                request: AtomicU64::new(NONE),
                rung: Notify::new(),
            }),
        }
    }

    /// A handle that makes alarms for later requests (the service holds it).
    pub(super) fn alarms(&self) -> Alarms {
        Alarms {
            alarm: Arc::clone(&self.alarm),
            next: AtomicU64::new(0),
        }
    }

    /// Follows `bytes`, just read from the client.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Off => return,
                State::Head => self.head_bytes(bytes),
                State::Fixed(left) | State::Data(left) => {
                    let taken = left.min(bytes.len() as u64);
                    let left = left - taken;
                    self.state = match (self.state, left) {
                        (State::Fixed(_), 0) => State::Head,
                        (State::Fixed(_), left) => State::Fixed(left),
                        (_, 0) => State::DataEnd,
                        (_, left) => State::Data(left),
                    };
                    &bytes[usize::try_from(taken).unwrap_or(bytes.len())..]
                }
                State::Size {
                    value,
                    digits,
                    ended,
                } => {
                    let byte = bytes[0];
                    self.size_byte(byte, value, digits, ended);
                    &bytes[1..]
                }
                State::DataEnd => {
                    if bytes[0] == b'\n' {
                        self.state = State::Size {
                            value: 0,
                            digits: 0,
                            ended: false,
                        };
                    } else if bytes[0] != b'\r' {
                        self.state = State::Off;
                    }
                    &bytes[1..]
                }
                State::Trailers(line) => {
                    self.state = match bytes[0] {
                        b'\n' if line == 0 => State::Head,
                        b'\n' => State::Trailers(0),
                        b'\r' => State::Trailers(line),
                        _ => State::Trailers(line + 1),
                    };
                    &bytes[1..]
                }
            };
        }
    }

    fn size_byte(&mut self, byte: u8, value: u64, digits: u8, ended: bool) {
        let digit = (byte as char).to_digit(16);
        self.state = match (byte, digit) {
            (_, Some(digit)) if !ended => {
                // The limit is far below u64::MAX: a size passes it (and
                // rings) before it could overflow.
                let value = value.saturating_mul(16).saturating_add(u64::from(digit));
                if value > self.limit {
                    self.ring();
                    State::Off
                } else {
                    State::Size {
                        value,
                        digits: digits.saturating_add(1),
                        ended,
                    }
                }
            }
            (b'\n', _) if digits > 0 && value == 0 => State::Trailers(0),
            (b'\n', _) if digits > 0 => State::Data(value),
            (b'\n', _) => State::Off,
            (b'\r', _) => State::Size {
                value,
                digits,
                ended,
            },
            (b';' | b' ' | b'\t', _) if digits > 0 => State::Size {
                value,
                digits,
                ended: true,
            },
            (_, _) if ended => State::Size {
                value,
                digits,
                ended,
            },
            _ => State::Off,
        };
    }

    fn ring(&self) {
        self.alarm.request.store(self.current, Ordering::Release);
        self.alarm.rung.notify_waiters();
    }

    /// Takes head bytes; returns the bytes after the head, if it ended.
    fn head_bytes<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let before = self.head.len();
        self.head.extend_from_slice(bytes);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let length = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if self.head.len() <= MAX_HEAD_BYTES => return &[],
            Ok(httparse::Status::Partial) | Err(_) => {
                self.state = State::Off;
                return &[];
            }
        };
        self.state = framing(&request);
        self.current = self.parsed;
        self.parsed += 1;
        self.head.clear();
        &bytes[length.saturating_sub(before).min(bytes.len())..]
    }
}

/// The body framing hyper gives a request head (its server rules):
/// `Transfer-Encoding` ending in `chunked` wins over `Content-Length`;
/// anything hyper refuses or upgrades is not followed.
fn framing(request: &httparse::Request<'_, '_>) -> State {
    if request.method == Some("CONNECT") {
        return State::Off;
    }
    let mut chunked = None;
    let mut length: Option<u64> = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if request.version != Some(1) {
                return State::Off;
            }
            let last = header
                .value
                .rsplit(|&byte| byte == b',')
                .next()
                .unwrap_or(b"");
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let parsed = std::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok());
            match (parsed, length) {
                (Some(value), None) => length = Some(value),
                (Some(value), Some(previous)) if value == previous => {}
                _ => return State::Off,
            }
        } else if header.name.eq_ignore_ascii_case("upgrade") {
            return State::Off;
        }
    }
    match (chunked, length) {
        (Some(true), _) => State::Size {
            value: 0,
            digits: 0,
            ended: false,
        },
        (Some(false), _) => State::Off,
        (None, Some(0) | None) => State::Head,
        (None, Some(length)) => State::Fixed(length),
    }
}

/// Makes the alarm of each request of a connection, in order.
#[derive(Debug)]
pub(super) struct Alarms {
    alarm: Arc<Alarm>,
    next: AtomicU64,
}

impl Alarms {
    /// The alarm of the next request hyper hands over.
    pub(super) fn next(&self) -> ChunkAlarm {
        ChunkAlarm {
            alarm: Arc::clone(&self.alarm),
            request: self.next.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl ChunkAlarm {
    /// Resolves once this request declared a chunk above the limit.
    pub(super) async fn rung(&self) {
        loop {
            let notified = self.alarm.rung.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.alarm.request.load(Ordering::Acquire) == self.request {
                return;
            }
            notified.await;
        }
    }

    #[cfg(test)]
    fn is_rung(&self) -> bool {
        self.alarm.request.load(Ordering::Acquire) == self.request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    /// Feeds `stream` in pieces of `step` bytes; the requests that rang.
    fn rung(stream: &[u8], step: usize) -> Vec<u64> {
        let mut watch = ChunkWatch::new(LIMIT);
        let alarms = watch.alarms();
        let requests: Vec<ChunkAlarm> = (0..8).map(|_| alarms.next()).collect();
        for piece in stream.chunks(step) {
            watch.feed(piece);
        }
        requests
            .iter()
            .filter(|alarm| alarm.is_rung())
            .map(|alarm| alarm.request)
            .collect()
    }

    const CHUNKED: &str = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

    #[test]
    fn a_chunk_size_above_the_limit_rings_for_its_request() {
        for step in [1, 3, 7, 1000] {
            let oversized = format!("{CHUNKED}8000000000000000\r\nabc");
            assert_eq!(rung(oversized.as_bytes(), step), [0], "step {step}");
            let just_over = format!("{CHUNKED}100001;ext=1\r\n");
            assert_eq!(rung(just_over.as_bytes(), step), [0]);
            let at_limit = format!("{CHUNKED}100000\r\n");
            assert!(rung(at_limit.as_bytes(), step).is_empty());
        }
    }

    #[test]
    fn pipelined_requests_are_followed_to_the_one_that_rings() {
        let small = "POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n0123456789ab";
        let get = "\r\nGET /healthz HTTP/1.1\r\n\r\n";
        let chunked = format!(
            "{CHUNKED}5\r\nhello\r\n1a; x=y\r\n{}\r\n0\r\nTrailer: t\r\n\r\n",
            "z".repeat(26)
        );
        let bad = format!("{CHUNKED}3\r\nabc\r\nFFFFFFFFFF\r\n");
        let stream = format!("{small}{get}{chunked}{small}{bad}");
        for step in [1, 2, 5, 64, 10_000] {
            assert_eq!(rung(stream.as_bytes(), step), [4], "step {step}");
        }
    }

    #[test]
    fn what_hyper_refuses_or_upgrades_is_not_followed() {
        for head in [
            "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "CONNECT x:1 HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
            "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "\x01\x02 nonsense\r\n\r\n",
        ] {
            let stream = format!("{head}{CHUNKED}FFFFFFFF\r\n");
            assert!(rung(stream.as_bytes(), 3).is_empty(), "{head:?}");
        }
        // A size that would overflow passes the limit first: an alarm.
        let overflow = format!("{CHUNKED}1FFFFFFFFFFFFFFFFF\r\n");
        assert_eq!(rung(overflow.as_bytes(), 1), [0]);
    }

    #[tokio::test]
    async fn the_alarm_wakes_a_waiting_handler() {
        let mut watch = ChunkWatch::new(LIMIT);
        let alarms = watch.alarms();
        let alarm = alarms.next();
        let waiter = tokio::spawn(async move { alarm.rung().await });
        tokio::task::yield_now().await;
        watch.feed(format!("{CHUNKED}FFFFFFFF\r\n").as_bytes());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
