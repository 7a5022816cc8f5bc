//! The spool's on-disk format, in one place: the segment header (magic and
//! format version) and the record frame that holds one [`RawEvent`].
//!
//! ```text
//! segment header (SEGMENT_HEADER_LEN = 8 bytes):
//!   7 bytes  magic `A0SPOOL`
//!   u8       format version (FORMAT_VERSION)
//! then records, each:
//!   u32 LE   payload length
//!   u32 LE   CRC-32 (IEEE) of the payload
//!   payload:
//!     u8      input (webhook 1, api 2, file 3)
//!     i64 LE  received_at, nanoseconds since the Unix epoch
//!     …       the event's bytes
//! ```
//!
//! Every other module asks this one: the segment code for the header and
//! frame checks, the statistics for a record's receive time, the webhook for
//! the size of a body's frames ([`frames_capacity`]) and config for the
//! largest event ([`MAX_EVENT_BYTES`]). A change to anything above is a new
//! [`FORMAT_VERSION`]: an agent refuses a segment of a version it does not
//! know rather than mistake it for a torn one (see [`SegmentHeader`]).

use bytes::Bytes;
use time::OffsetDateTime;

use crate::event::{Input, RawEvent};

/// The first bytes of every segment, before the format version.
const SEGMENT_MAGIC: [u8; 7] = *b"A0SPOOL";
/// The version of the format this agent writes and reads. Bump it for any
/// change to the layout above.
pub(super) const FORMAT_VERSION: u8 = 1;
/// Bytes of the segment header: the magic and the version.
pub(super) const SEGMENT_HEADER_LEN: usize = SEGMENT_MAGIC.len() + 1;
/// Bytes of a record before the payload.
pub(super) const HEADER_LEN: usize = 8;
/// Bytes of the payload before the event.
const PAYLOAD_PREFIX_LEN: usize = 9;
/// Bytes from a record's start through its receive time.
pub(super) const RECEIVED_AT_END: usize = HEADER_LEN + PAYLOAD_PREFIX_LEN;
/// A frame claiming a larger payload is corruption, not data: no body the
/// webhook accepts comes near it.
const MAX_PAYLOAD_LEN: usize = 256 * 1024 * 1024;
/// The largest event a record holds (the payload limit less its prefix,
/// with room to spare); config keeps every input's bodies below it.
pub const MAX_EVENT_BYTES: usize = MAX_PAYLOAD_LEN - 64;

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum FrameError {
    /// The CRC does not match the payload.
    #[error("checksum mismatch")]
    Checksum,
    /// The length field is impossible.
    #[error("impossible length {0}")]
    Length(usize),
    /// The payload's prefix is invalid.
    #[error("invalid payload prefix")]
    Prefix,
}

/// What the first bytes of a segment say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SegmentHeader {
    /// This format: records follow.
    Current,
    /// Fewer bytes than a header: cut short while the segment was created.
    Short,
    /// A whole header of zeros: its bytes never reached the disk.
    Blank,
    /// The spool's magic with another format version (`found`), from a
    /// newer (or older) agent: its records are not ours to read or cut.
    Version(u8),
    /// Not a spool segment at all.
    Foreign,
}

/// The header a new segment starts with.
pub(super) fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..SEGMENT_MAGIC.len()].copy_from_slice(&SEGMENT_MAGIC);
    header[SEGMENT_MAGIC.len()] = FORMAT_VERSION;
    header
}

/// Judges the first bytes of a segment (up to [`SEGMENT_HEADER_LEN`] of them).
pub(super) fn decode_segment_header(bytes: &[u8]) -> SegmentHeader {
    let Some(header) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return SegmentHeader::Short;
    };
    let (magic, version) = header.split_at(SEGMENT_MAGIC.len());
    match version {
        _ if header.iter().all(|byte| *byte == 0) => SegmentHeader::Blank,
        _ if magic != SEGMENT_MAGIC => SegmentHeader::Foreign,
        [FORMAT_VERSION] => SegmentHeader::Current,
        [found] => SegmentHeader::Version(*found),
        _ => SegmentHeader::Foreign,
    }
}

/// The length of the frame holding an event of `event_len` bytes.
pub(super) fn frame_len(event_len: usize) -> usize {
    HEADER_LEN + PAYLOAD_PREFIX_LEN + event_len
}

/// About the bytes the frames of a body's events take, for a body of
/// `body_len` bytes (one frame header per 16 bytes of events, and a little
/// slack): what a batch reserves up front, and what the webhook counts
/// against its memory budget for the spool copy of a body.
pub fn frames_capacity(body_len: usize) -> usize {
    body_len + body_len / 16 + 64
}

/// The spool's byte for an input: part of the format.
fn input_byte(input: Input) -> u8 {
    match input {
        Input::Webhook => 1,
        Input::Api => 2,
        Input::File => 3,
    }
}

/// The input a spool byte stands for.
fn input_from_byte(byte: u8) -> Option<Input> {
    match byte {
        1 => Some(Input::Webhook),
        2 => Some(Input::Api),
        3 => Some(Input::File),
        _ => None,
    }
}

/// Appends the frame of one event to `out`.
pub(super) fn encode(out: &mut Vec<u8>, input: Input, received_at: OffsetDateTime, event: &[u8]) {
    let payload_len = PAYLOAD_PREFIX_LEN + event.len();
    let nanos = i64::try_from(received_at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    let mut hasher = crc32fast::Hasher::new();
    let input_byte = [input_byte(input)];
    let nanos_bytes = nanos.to_le_bytes();
    hasher.update(&input_byte);
    hasher.update(&nanos_bytes);
    hasher.update(event);
    // Lengths are bounded by the body limit, far below u32::MAX.
    out.extend_from_slice(&u32::try_from(payload_len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&input_byte);
    out.extend_from_slice(&nanos_bytes);
    out.extend_from_slice(event);
}

/// Reads a frame header: the payload length and expected CRC.
pub(super) fn decode_header(header: [u8; HEADER_LEN]) -> Result<(usize, u32), FrameError> {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if !(PAYLOAD_PREFIX_LEN..=MAX_PAYLOAD_LEN).contains(&len) {
        return Err(FrameError::Length(len));
    }
    Ok((len, u32::from_le_bytes([c0, c1, c2, c3])))
}

/// The receive time in the first [`RECEIVED_AT_END`] bytes of a record
/// (unchecked: the CRC covers the whole payload).
pub(super) fn received_at(start: &[u8; RECEIVED_AT_END]) -> Option<OffsetDateTime> {
    let nanos = start.get(HEADER_LEN + 1..RECEIVED_AT_END)?;
    let nanos = i64::from_le_bytes(nanos.try_into().ok()?);
    OffsetDateTime::from_unix_timestamp_nanos(nanos.into()).ok()
}

/// Checks a payload against its CRC and decodes it.
pub(super) fn decode_payload(payload: Bytes, crc: u32) -> Result<RawEvent, FrameError> {
    if crc32fast::hash(&payload) != crc {
        return Err(FrameError::Checksum);
    }
    let input = payload
        .first()
        .copied()
        .and_then(input_from_byte)
        .ok_or(FrameError::Prefix)?;
    let mut nanos = [0u8; 8];
    nanos.copy_from_slice(
        payload
            .get(1..PAYLOAD_PREFIX_LEN)
            .ok_or(FrameError::Prefix)?,
    );
    let received_at = OffsetDateTime::from_unix_timestamp_nanos(i64::from_le_bytes(nanos).into())
        .map_err(|_| FrameError::Prefix)?;
    Ok(RawEvent {
        input,
        received_at,
        bytes: payload.slice(PAYLOAD_PREFIX_LEN..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_detect_corruption() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let mut out = Vec::new();
        encode(&mut out, Input::Api, at, br#"{"log_id":"1"}"#);
        let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().unwrap();
        let (len, crc) = decode_header(header).unwrap();
        assert_eq!(len, out.len() - HEADER_LEN);
        let payload = Bytes::copy_from_slice(&out[HEADER_LEN..]);
        let event = decode_payload(payload, crc).unwrap();
        assert_eq!(event.input, Input::Api);
        assert_eq!(event.received_at, at);
        assert_eq!(&event.bytes[..], br#"{"log_id":"1"}"#);

        let mut flipped = out[HEADER_LEN..].to_vec();
        flipped[12] ^= 1;
        assert_eq!(
            decode_payload(Bytes::from(flipped), crc),
            Err(FrameError::Checksum)
        );
        assert_eq!(decode_header([0; 8]), Err(FrameError::Length(0)));
        let start: [u8; RECEIVED_AT_END] = out[..RECEIVED_AT_END].try_into().unwrap();
        assert_eq!(received_at(&start), Some(at));
    }

    #[test]
    fn input_bytes_are_fixed() {
        for (input, byte) in [(Input::Webhook, 1), (Input::Api, 2), (Input::File, 3)] {
            assert_eq!(input_byte(input), byte);
            assert_eq!(input_from_byte(byte), Some(input));
        }
        assert_eq!(input_from_byte(0), None);
    }

    #[test]
    fn segment_headers_name_their_version() {
        let header = segment_header();
        assert_eq!(&header, b"A0SPOOL\x01");
        assert_eq!(decode_segment_header(&header), SegmentHeader::Current);
        assert_eq!(
            decode_segment_header(b"A0SPOOL\x01records"),
            SegmentHeader::Current
        );
        assert_eq!(
            decode_segment_header(b"A0SPOOL\x02"),
            SegmentHeader::Version(2)
        );
        assert_eq!(
            decode_segment_header(b"A0SPOOL\x00"),
            SegmentHeader::Version(0)
        );
        assert_eq!(decode_segment_header(b"A0SPOOL"), SegmentHeader::Short);
        assert_eq!(decode_segment_header(b""), SegmentHeader::Short);
        assert_eq!(decode_segment_header(&[0; 8]), SegmentHeader::Blank);
        assert_eq!(
            decode_segment_header(b"{\"log_id\""),
            SegmentHeader::Foreign
        );
    }
}
