//! The request body: framing headers checked strictly, the bytes read within
//! `max_body_bytes`, `body_timeout` and the memory budget
//! ([`super::budget`]), gzip decoded.
//!
//! Strict framing: one `Content-Encoding` header at most, visible ASCII,
//! `gzip`/`x-gzip`/`identity` (or empty); anything else is `415` before a
//! byte of the body is read. A declared `Content-Length` above the limit is
//! `413`, and one that does not fit the budget `503`, both at once. Bodies
//! without a length (chunked) reserve budget as they arrive; gzip output
//! reserves as it is decoded. Chunk sizes that overflow are refused by
//! hyper's decoder (a body error here, so `400`); one above the limit is
//! `413` the moment its size line arrives ([`super::chunk_watch`]).

use std::io::Read;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Request, StatusCode};

use super::budget::{Budget, Reservation};
use super::chunk_watch::ChunkAlarm;
use super::config::Config;

/// Bodies above this are decompressed on the blocking pool, so a large body
/// does not stall an async worker (compressed JSON expands ~8x).
const INLINE_GZIP_BYTES: usize = 64 * 1024;

/// The first allocation step for bodies of unknown length; later steps
/// double (and reserve budget before they are taken).
const FIRST_STEP_BYTES: usize = 64 * 1024;

/// A request body held in memory, with the budget it holds.
#[derive(Debug)]
pub(super) struct Body {
    pub bytes: Bytes,
    pub reservation: Reservation,
    /// The spool copy ([`spool_copy_bytes`]) is already reserved.
    copy_reserved: bool,
}

/// Why a body was not taken: the status and a short message for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub message: &'static str,
}

const TOO_LARGE: Refusal = Refusal {
    status: StatusCode::PAYLOAD_TOO_LARGE,
    message: "body too large",
};

/// The memory budget is used up: `503` + `Retry-After`.
pub(super) const BUSY: Refusal = Refusal {
    status: StatusCode::SERVICE_UNAVAILABLE,
    message: "too many bodies in flight, retry later",
};

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Gzip,
    Identity,
}

/// The bytes an encoded spool copy of a `length`-byte body takes (as
/// `spool::Append::with_capacity` allocates).
pub(super) fn spool_copy_bytes(length: usize) -> usize {
    crate::spool::record::frames_capacity(length)
}

/// Reads and decodes the body of `request`, or says why not.
pub(super) async fn read(
    config: &Config,
    budget: &Arc<Budget>,
    request: Request<Incoming>,
) -> Result<Body, Refusal> {
    let limit = config.max_body_bytes;
    let encoding = encoding(request.headers())?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(TOO_LARGE);
    }
    let declared = declared.and_then(|length| usize::try_from(length).ok());
    let alarm = request.extensions().get::<ChunkAlarm>().cloned();
    let mut reservation = budget.reservation();
    // A known length is reserved before a byte is read, with its spool copy
    // when nothing is decoded: a request that cannot fit is refused at once.
    let copy_reserved = match (declared, encoding) {
        (Some(length), Encoding::Identity) => {
            reservation
                .grow(length + spool_copy_bytes(length))
                .map_err(|_| BUSY)?;
            true
        }
        (Some(length), Encoding::Gzip) => {
            reservation.grow(length).map_err(|_| BUSY)?;
            false
        }
        (None, _) => false,
    };
    let collected = tokio::time::timeout(
        config.body_timeout,
        collect(
            request.into_body(),
            limit,
            declared,
            alarm,
            &mut reservation,
        ),
    )
    .await;
    let received = match collected {
        Err(_) => {
            return Err(Refusal {
                status: StatusCode::REQUEST_TIMEOUT,
                message: "body not received in time",
            })
        }
        Ok(result) => result?,
    };
    let bytes = match encoding {
        Encoding::Identity => received,
        Encoding::Gzip if received.len() <= INLINE_GZIP_BYTES => {
            gunzip(received, limit, &mut reservation)?
        }
        Encoding::Gzip => {
            let (result, returned) = tokio::task::spawn_blocking(move || {
                let result = gunzip(received, limit, &mut reservation);
                (result, reservation)
            })
            .await
            .map_err(|_| Refusal {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "decompression failed",
            })?;
            reservation = returned;
            result?
        }
    };
    Ok(Body {
        bytes,
        reservation,
        copy_reserved,
    })
}

impl Body {
    /// Reserves the spool copy of the body (unless done up front).
    pub(super) fn reserve_spool_copy(&mut self) -> Result<(), Refusal> {
        if !self.copy_reserved {
            self.reservation
                .grow(spool_copy_bytes(self.bytes.len()))
                .map_err(|_| BUSY)?;
            self.copy_reserved = true;
        }
        Ok(())
    }
}

/// The one `Content-Encoding` this request may have.
fn encoding(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    const UNSUPPORTED: Refusal = Refusal {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: "unsupported content-encoding; use gzip or none",
    };
    let mut values = headers.get_all(header::CONTENT_ENCODING).iter();
    let Some(value) = values.next() else {
        return Ok(Encoding::Identity);
    };
    if values.next().is_some() {
        return Err(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "more than one content-encoding header",
        });
    }
    // `to_str` refuses anything but visible ASCII (and tabs).
    let text = value.to_str().map_err(|_| UNSUPPORTED)?.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("identity") {
        Ok(Encoding::Identity)
    } else if text.eq_ignore_ascii_case("gzip") || text.eq_ignore_ascii_case("x-gzip") {
        Ok(Encoding::Gzip)
    } else {
        Err(UNSUPPORTED)
    }
}

/// The body's bytes as received, at most `limit`, growing `reservation`
/// before each allocation (a declared length was reserved by the caller).
async fn collect(
    mut body: Incoming,
    limit: usize,
    declared: Option<usize>,
    alarm: Option<ChunkAlarm>,
    reservation: &mut Reservation,
) -> Result<Bytes, Refusal> {
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0));
    let mut reserved = declared.unwrap_or(0);
    let oversized_chunk = async {
        match &alarm {
            Some(alarm) => alarm.rung().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(oversized_chunk);
    loop {
        // The alarm first: it rings while hyper reads the size line, before
        // hyper's own decoder could report an overflow of the same line.
        let frame = tokio::select! {
            biased;
            () = &mut oversized_chunk => return Err(TOO_LARGE),
            frame = body.frame() => frame,
        };
        let Some(frame) = frame else {
            break;
        };
        let frame = frame.map_err(|error| {
            tracing::debug!(%error, "request body could not be read");
            Refusal {
                status: StatusCode::BAD_REQUEST,
                message: "body could not be read",
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let needed = buffer.len() + data.len();
        if needed > limit {
            return Err(TOO_LARGE);
        }
        if needed > reserved {
            let wanted = needed.max(reserved * 2).max(FIRST_STEP_BYTES).min(limit);
            reservation.grow(wanted - reserved).map_err(|_| BUSY)?;
            buffer.reserve(wanted - buffer.len());
            reserved = wanted;
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer.freeze())
}

/// Decodes a gzip (or multi-member gzip) body of at most `limit` decoded
/// bytes, reserving the output as it grows; the compressed bytes are given
/// back to the budget once decoded.
fn gunzip(
    compressed: Bytes,
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Bytes, Refusal> {
    let mut decoder = flate2::read::MultiGzDecoder::new(&compressed[..]);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0_u8; 32 * 1024];
    loop {
        let read = decoder.read(&mut chunk).map_err(|_| Refusal {
            status: StatusCode::BAD_REQUEST,
            message: "invalid gzip body",
        })?;
        if read == 0 {
            break;
        }
        let needed = out.len() + read;
        if needed > limit {
            return Err(TOO_LARGE);
        }
        if needed > out.capacity() {
            let wanted = needed
                .max(out.capacity() * 2)
                .max(FIRST_STEP_BYTES)
                .min(limit);
            reservation
                .grow(wanted - out.capacity())
                .map_err(|_| BUSY)?;
            out.reserve_exact(wanted - out.len());
        }
        out.extend_from_slice(&chunk[..read]);
    }
    let compressed_bytes = compressed.len();
    drop(compressed);
    reservation.shrink(compressed_bytes);
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use hyper::header::HeaderValue;

    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::CONTENT_ENCODING,
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn content_encoding_is_strict() {
        for (values, expected) in [
            (&[][..], Ok(Encoding::Identity)),
            (&[&b""[..]][..], Ok(Encoding::Identity)),
            (&[&b" Identity "[..]][..], Ok(Encoding::Identity)),
            (&[&b"GZIP"[..]][..], Ok(Encoding::Gzip)),
            (&[&b"x-gzip"[..]][..], Ok(Encoding::Gzip)),
        ] {
            assert_eq!(encoding(&headers(values)), expected, "{values:?}");
        }
        for values in [
            &[&b"br"[..]][..],
            &[&b"gzip, identity"[..]][..],
            &[&b"gzip\xc3\xa9"[..]][..],
            &[&b"\xff"[..]][..],
            &[&b"gzip"[..], &b"gzip"[..]][..],
            &[&b"identity"[..], &b"gzip"[..]][..],
        ] {
            let refusal = encoding(&headers(values)).unwrap_err();
            assert_eq!(
                refusal.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{values:?}"
            );
        }
    }

    fn gzipped(bytes: &[u8]) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        Bytes::from(encoder.finish().unwrap())
    }

    #[test]
    fn gunzip_reserves_its_output_and_gives_back_the_input() {
        let budget = Budget::new(1 << 30);
        let mut reservation = budget.reservation();
        let compressed = gzipped(&vec![b'a'; 1 << 20]);
        reservation.grow(compressed.len()).unwrap();
        let out = gunzip(compressed, 2 << 20, &mut reservation).unwrap();
        assert_eq!(out.len(), 1 << 20);
        assert!(reservation.bytes() >= 1 << 20 && reservation.bytes() <= 2 << 20);
        assert_eq!(budget.used(), reservation.bytes());
    }

    #[test]
    fn gunzip_stops_at_the_limit_and_the_budget() {
        let bomb = gzipped(&vec![b' '; 4 << 20]);
        let budget = Budget::new(1 << 30);
        let refusal = gunzip(bomb.clone(), 1 << 20, &mut budget.reservation()).unwrap_err();
        assert_eq!(refusal, TOO_LARGE);
        let small = Budget::new(256 * 1024);
        let refusal = gunzip(bomb, 8 << 20, &mut small.reservation()).unwrap_err();
        assert_eq!(refusal, BUSY);
        assert_eq!(small.used(), 0);
        let refusal = gunzip(
            Bytes::from_static(b"not gzip"),
            1024,
            &mut budget.reservation(),
        )
        .unwrap_err();
        assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
    }
}
