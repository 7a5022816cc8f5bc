//! The record frame: how one [`RawEvent`] is laid out in a segment.
//!
//! ```text
//! u32 LE  payload length
//! u32 LE  CRC-32 (IEEE) of the payload
//! payload:
//!   u8      input (see `Input::to_byte`)
//!   i64 LE  received_at, nanoseconds since the Unix epoch
//!   …       the event's bytes
//! ```

use bytes::Bytes;
use time::OffsetDateTime;

use crate::event::{Input, RawEvent};

/// Bytes before the payload.
pub const HEADER_LEN: usize = 8;
/// Bytes of the payload before the event.
const PAYLOAD_PREFIX_LEN: usize = 9;
/// A frame claiming a larger payload is corruption, not data: no body the
/// webhook accepts comes near it.
pub const MAX_PAYLOAD_LEN: usize = 256 * 1024 * 1024;

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
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

/// The length of the frame holding an event of `event_len` bytes.
pub fn frame_len(event_len: usize) -> usize {
    HEADER_LEN + PAYLOAD_PREFIX_LEN + event_len
}

/// Appends the frame of one event to `out`.
pub fn encode(out: &mut Vec<u8>, input: Input, received_at: OffsetDateTime, event: &[u8]) {
    let payload_len = PAYLOAD_PREFIX_LEN + event.len();
    let nanos = i64::try_from(received_at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    let mut hasher = crc32fast::Hasher::new();
    let input_byte = [input.to_byte()];
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
pub fn decode_header(header: [u8; HEADER_LEN]) -> Result<(usize, u32), FrameError> {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if !(PAYLOAD_PREFIX_LEN..=MAX_PAYLOAD_LEN).contains(&len) {
        return Err(FrameError::Length(len));
    }
    Ok((len, u32::from_le_bytes([c0, c1, c2, c3])))
}

/// Checks a payload against its CRC and decodes it.
pub fn decode_payload(payload: Bytes, crc: u32) -> Result<RawEvent, FrameError> {
    if crc32fast::hash(&payload) != crc {
        return Err(FrameError::Checksum);
    }
    let input = payload
        .first()
        .copied()
        .and_then(Input::from_byte)
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
    }
}
