//! The generated hostile-input suite: a few hundred broken or hostile
//! requests, each sent over a raw TLS socket to the real listener on the
//! real spool. For every case it asserts the status, that the server still
//! answers (`GET /healthz`), that the valid events of the same body are
//! spooled (exactly those, in order) and that the bad items are in the
//! dead-letter file verbatim. A valid JSON object is an event here, however
//! deep; the read side's parser judges it later.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncWriteExt;

use super::support::{self, TOKEN};
use super::webhook_edge::{read_answer, Edge};

/// The suite's limits: small enough that limit cases stay cheap.
const MAX_BODY: usize = 4 << 20;
// Timeouts well above what a 4 MiB body takes on a loaded machine (no case
// waits for one: incomplete requests half-close), below the 10 s read.
const CONFIG: &str = "max_body_bytes = \"4MiB\"\nbody_timeout = \"8s\"\nheader_timeout = \"8s\"";

/// One request and what must come of it.
struct Case {
    name: String,
    request: Vec<u8>,
    /// Close the sending side after the request (a body cut short).
    half_close: bool,
    status: u16,
    /// Events that must be spooled, in order.
    kept: Vec<Vec<u8>>,
    /// Items that must be dead-lettered, in order.
    dead: Vec<Vec<u8>>,
}

/// Hands out distinct valid events.
struct Events(usize);

impl Events {
    fn next(&mut self) -> Vec<u8> {
        self.0 += 1;
        support::event(&support::log_id(self.0)).into_bytes()
    }
}

fn request(head_extra: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\n{head_extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A JSON Lines body: a valid event, `bad` items, another valid event.
fn sandwich(events: &mut Events, name: String, bad: Vec<Vec<u8>>) -> Case {
    let (first, last) = (events.next(), events.next());
    let mut body = first.clone();
    for item in &bad {
        body.push(b'\n');
        body.extend_from_slice(item);
    }
    body.push(b'\n');
    body.extend_from_slice(&last);
    Case {
        name,
        request: request("", &body),
        half_close: false,
        status: 200,
        kept: vec![first, last],
        dead: bad
            .into_iter()
            .map(|item| item.trim_ascii().to_vec())
            .collect(),
    }
}

/// A request that must be refused whole: nothing kept, nothing dead-lettered.
fn refused(name: impl Into<String>, request: Vec<u8>, status: u16) -> Case {
    Case {
        name: name.into(),
        request,
        half_close: false,
        status,
        kept: Vec::new(),
        dead: Vec::new(),
    }
}

fn body_cases(events: &mut Events) -> Vec<Case> {
    let mut cases = Vec::new();
    // Truncated JSON at 60 places.
    let template = events.next();
    let step = template.len() / 60;
    for cut in (1..template.len()).step_by(step).take(60) {
        let item = template[..cut].to_vec();
        if item.trim_ascii().is_empty() {
            continue;
        }
        cases.push(sandwich(events, format!("truncated at {cut}"), vec![item]));
    }
    // Invalid UTF-8 in keys, values and between tokens.
    let sequences: [&[u8]; 10] = [
        b"\xff",
        b"\xfe\xff",
        b"\xc3\x28",
        b"\xa0\xa1",
        b"\xe2\x28\xa1",
        b"\xe2\x82\x28",
        b"\xf0\x28\x8c\xbc",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf8\xa1\xa1\xa1\xa1",
    ];
    for (index, sequence) in sequences.iter().enumerate() {
        for (place, item) in [
            (
                "value",
                [&b"{\"log_id\":\"u"[..], sequence, b"\"}"].concat(),
            ),
            ("key", [&b"{\""[..], sequence, b"\":1}"].concat()),
            ("outside", [&b"{\"a\":1}"[..], sequence].concat()),
        ] {
            cases.push(sandwich(
                events,
                format!("invalid UTF-8 #{index} in {place}"),
                vec![item],
            ));
        }
    }
    // NUL bytes.
    for (name, item) in [
        ("NUL in a string", &b"{\"log_id\":\"a\x00b\"}"[..]),
        ("NUL alone", b"\x00"),
        ("NUL after an object", b"{\"a\":1}\x00"),
        ("NUL before an object", b"\x00{\"a\":1}"),
        ("NULs", b"\x00\x00\x00\x00"),
    ] {
        cases.push(sandwich(events, name.to_owned(), vec![item.to_vec()]));
    }
    // An escaped NUL is valid JSON: kept.
    let escaped = b"{\"log_id\":\"nul\\u0000\",\"data\":{\"type\":\"s\"}}".to_vec();
    let mut case = sandwich(events, "escaped NUL".to_owned(), Vec::new());
    let body = [&case.kept[0][..], b"\n", &escaped, b"\n", &case.kept[1]].concat();
    case.request = request("", &body);
    case.kept.insert(1, escaped);
    cases.push(case);
    // Deep nesting: a complete object is an event at the input, whatever its
    // depth (the read side's parser has a depth limit and salvages or
    // dead-letters it there); an unclosed one is rejected.
    for depth in [1, 10, 120, 200, 1000, 200_000] {
        let item = format!(
            "{{\"log_id\":\"deep{depth}\",\"a\":{}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .into_bytes();
        let mut case = sandwich(events, format!("nesting {depth}"), Vec::new());
        let body = [&case.kept[0][..], b"\n", &item, b"\n", &case.kept[1]].concat();
        case.request = request("", &body);
        case.kept.insert(1, item);
        cases.push(case);
    }
    for depth in [200, 1000, 10_000, 200_000] {
        let item = format!("{{\"a\":{}", "{\"a\":".repeat(depth)).into_bytes();
        cases.push(sandwich(
            events,
            format!("unclosed nesting {depth}"),
            vec![item],
        ));
    }
    // Huge lines.
    cases.push(sandwich(
        events,
        "3 MiB garbage line".to_owned(),
        vec![vec![b'x'; 3 << 20]],
    ));
    cases.push(sandwich(
        events,
        "3 MiB unterminated string".to_owned(),
        vec![[&b"{\"a\":\""[..], &vec![b'y'; 3 << 20]].concat()],
    ));
    let big = format!(
        "{{\"log_id\":\"big\",\"data\":{{\"type\":\"s\",\"description\":\"{}\"}}}}",
        "z".repeat(3 << 20)
    )
    .into_bytes();
    let mut case = sandwich(events, "3 MiB valid event".to_owned(), Vec::new());
    let body = [&case.kept[0][..], b"\n", &big, b"\n", &case.kept[1]].concat();
    case.request = request("", &body);
    case.kept.insert(1, big);
    cases.push(case);
    let mut case = sandwich(events, "3 MiB of blank lines".to_owned(), Vec::new());
    let body = [&case.kept[0][..], &b" \r\n".repeat(1 << 20), &case.kept[1]].concat();
    case.request = request("", &body);
    cases.push(case);
    cases.push(refused(
        "a line beyond max_body_bytes",
        request("", &vec![b'{'; MAX_BODY + 1]),
        413,
    ));
    // Byte order marks.
    let bom = b"\xef\xbb\xbf";
    for (name, item) in [
        (
            "BOM before an event",
            [&bom[..], b"{\"log_id\":\"bom\"}"].concat(),
        ),
        ("BOM alone", bom.to_vec()),
        ("UTF-16 BOM", b"\xff\xfe{\"a\":1}".to_vec()),
    ] {
        cases.push(sandwich(events, name.to_owned(), vec![item]));
    }
    // Not objects.
    for item in [
        "42",
        "\"text\"",
        "null",
        "true",
        "[]",
        "[{\"a\":1}]",
        "-0.5e3",
    ] {
        cases.push(sandwich(
            events,
            format!("not an object: {item}"),
            vec![item.into()],
        ));
    }
    // Only bad items: 400, still dead-lettered.
    for items in [
        vec!["nope"],
        vec!["{", "}}"],
        vec!["[1,2"],
        vec!["\"x\"", "1"],
    ] {
        let body = items.join("\n");
        let name = format!("only bad: {body:?}");
        cases.push(Case {
            name,
            request: request("", body.as_bytes()),
            half_close: false,
            status: 400,
            kept: Vec::new(),
            dead: if body.starts_with('[') {
                vec![body.clone().into_bytes()]
            } else {
                items.iter().map(|item| item.as_bytes().to_vec()).collect()
            },
        });
    }
    // Empty and blank bodies.
    for body in ["", " ", "\r\n\r\n", "\t \n "] {
        cases.push(refused(
            format!("blank body {body:?}"),
            request("", body.as_bytes()),
            400,
        ));
    }
    // Arrays and the `logs` object with bad elements.
    for wrap in ["array", "logs"] {
        let (first, last) = (events.next(), events.next());
        let elements = format!(
            "{},7,\"s\",null,{}",
            String::from_utf8_lossy(&first),
            String::from_utf8_lossy(&last)
        );
        let body = match wrap {
            "array" => format!("[{elements}]"),
            _ => format!("{{\"logs\":[{elements}]}}"),
        };
        cases.push(Case {
            name: format!("{wrap} with bad elements"),
            request: request("", body.as_bytes()),
            half_close: false,
            status: 200,
            kept: vec![first, last],
            dead: vec![b"7".to_vec(), b"\"s\"".to_vec(), b"null".to_vec()],
        });
    }
    cases
}

fn gzip_cases(events: &mut Events) -> Vec<Case> {
    let mut cases = Vec::new();
    for encoding in ["gzip", "x-gzip", "GZip", " gzip "] {
        let (first, last) = (events.next(), events.next());
        let body = gzip(&[&first[..], b"\nnot json\n", &last].concat());
        cases.push(Case {
            name: format!("gzip as {encoding:?}"),
            request: request(&format!("Content-Encoding: {encoding}\r\n"), &body),
            half_close: false,
            status: 200,
            kept: vec![first, last],
            dead: vec![b"not json".to_vec()],
        });
    }
    // Two gzip members.
    let (first, last) = (events.next(), events.next());
    let body = [gzip(&first), gzip(&[&b"\n"[..], &last].concat())].concat();
    cases.push(Case {
        name: "two gzip members".to_owned(),
        request: request("Content-Encoding: gzip\r\n", &body),
        half_close: false,
        status: 200,
        kept: vec![first, last],
        dead: Vec::new(),
    });
    let header = "Content-Encoding: gzip\r\n";
    for (name, bytes) in [
        ("bomb of spaces", gzip(&vec![b' '; MAX_BODY + 1])),
        ("bomb of a bad line", gzip(&vec![b'x'; 8 << 20])),
        (
            "bomb of valid lines",
            gzip("{\"log_id\":\"1\"}\n".repeat(MAX_BODY / 10).as_bytes()),
        ),
    ] {
        assert!(bytes.len() < 200_000, "{name}");
        cases.push(refused(
            format!("gzip {name}"),
            request(header, &bytes),
            413,
        ));
    }
    let valid = gzip(&events.next());
    for (name, bytes) in [
        ("truncated gzip", valid[..valid.len() / 2].to_vec()),
        ("gzip header only", valid[..10].to_vec()),
        ("not gzip", b"{\"log_id\":\"plain\"}".to_vec()),
        ("gzip with a bad checksum", {
            let mut bytes = valid.clone();
            let at = bytes.len() - 6;
            bytes[at] ^= 0xff;
            bytes
        }),
        ("gzip then garbage", [&valid[..], b"garbage!"].concat()),
    ] {
        cases.push(refused(name, request(header, &bytes), 400));
    }
    // Gzip inside gzip: decoded once, the inner gzip is bytes of no JSON.
    let inner = gzip(&events.next());
    cases.push(Case {
        name: "gzip of gzip".to_owned(),
        request: request(header, &gzip(&inner)),
        half_close: false,
        status: 400,
        kept: Vec::new(),
        dead: inner
            .split(|&byte| byte == b'\n')
            .map(|line| {
                line.strip_suffix(b"\r")
                    .unwrap_or(line)
                    .trim_ascii()
                    .to_vec()
            })
            .filter(|line| !line.is_empty())
            .collect(),
    });
    for encoding in [
        "br",
        "deflate",
        "gzip, gzip",
        "identity, gzip",
        "compress",
        "gzip;q=1",
    ] {
        cases.push(refused(
            format!("Content-Encoding {encoding:?}"),
            request(&format!("Content-Encoding: {encoding}\r\n"), b"{}"),
            415,
        ));
    }
    let twice = request(
        "Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n",
        b"{}",
    );
    cases.push(refused("two Content-Encoding headers", twice, 415));
    let mut non_ascii = b"POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: ".to_vec();
    non_ascii.extend_from_slice(TOKEN.as_bytes());
    non_ascii
        .extend_from_slice(b"\r\nContent-Encoding: gzi\xc3\xa9\r\nContent-Length: 2\r\n\r\n{}");
    cases.push(refused("non-ASCII Content-Encoding", non_ascii, 415));
    cases
}

fn framing_cases(events: &mut Events) -> Vec<Case> {
    let mut cases = Vec::new();
    let chunked_head = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    // Valid chunked bodies, in pieces of several sizes, with extensions and trailers.
    for (name, piece, extension, trailer) in [
        ("chunked in 1-byte chunks", 1, "", ""),
        ("chunked in 7-byte chunks", 7, ";a=b", ""),
        ("chunked in 4 KiB chunks", 4096, "", "X-Trailer: 1\r\n"),
        ("chunked in one chunk", 1 << 20, " ; x", ""),
    ] {
        let (first, last) = (events.next(), events.next());
        let body = [&first[..], b"\n", &last].concat();
        let mut request = chunked_head.clone().into_bytes();
        for chunk in body.chunks(piece) {
            let mut line = String::new();
            write!(line, "{:x}{extension}\r\n", chunk.len()).unwrap();
            request.extend_from_slice(line.as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
        cases.push(Case {
            name: name.to_owned(),
            request,
            half_close: false,
            status: 200,
            kept: vec![first, last],
            dead: Vec::new(),
        });
    }
    for (name, chunks, status) in [
        ("chunk size not hex", "zz\r\n{}\r\n0\r\n\r\n", 400),
        ("chunk size empty", "\r\n{}\r\n0\r\n\r\n", 400),
        ("chunk size negative", "-2\r\n{}\r\n0\r\n\r\n", 400),
        (
            "chunk data longer than its size",
            "1\r\n{}\r\n0\r\n\r\n",
            400,
        ),
        ("chunk size above the limit", "400001\r\n{", 413),
        ("chunk size 2^63", "8000000000000000\r\n{", 413),
        ("chunk size overflowing u64", "10000000000000000\r\n", 413),
        ("chunks adding up beyond the limit", "", 413),
    ] {
        let mut request = chunked_head.clone().into_bytes();
        if chunks.is_empty() {
            let chunk = vec![b' '; 1 << 20];
            for _ in 0..5 {
                request.extend_from_slice(b"100000\r\n");
                request.extend_from_slice(&chunk);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"0\r\n\r\n");
        } else {
            request.extend_from_slice(chunks.as_bytes());
        }
        cases.push(refused(name, request, status));
    }
    // Cut short, then the client closes its sending side.
    for (name, tail) in [
        ("chunked without the last chunk", "2\r\n{}\r\n"),
        ("chunked cut inside a chunk", "10\r\n{\"a\""),
        ("chunked cut inside a size line", "1"),
    ] {
        let mut case = refused(
            name,
            [chunked_head.as_bytes(), tail.as_bytes()].concat(),
            400,
        );
        case.half_close = true;
        cases.push(case);
    }
    // Content-Length mismatches.
    let event = events.next();
    let mut short = request("", &event);
    short.extend_from_slice(b"extra bytes after the body");
    cases.push(Case {
        name: "bytes beyond Content-Length".to_owned(),
        request: short,
        half_close: false,
        status: 200,
        kept: vec![event],
        dead: Vec::new(),
    });
    let event = events.next();
    let mut cut = request("", &event);
    let at = cut.len() - 10;
    cut.truncate(at);
    let mut case = refused("body shorter than Content-Length", cut, 400);
    case.half_close = true;
    cases.push(case);
    let event = events.next();
    let mut understated = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        event.len() - 5
    )
    .into_bytes();
    understated.extend_from_slice(&event);
    cases.push(Case {
        name: "Content-Length cuts the event".to_owned(),
        request: understated,
        half_close: false,
        status: 400,
        kept: Vec::new(),
        dead: vec![event[..event.len() - 5].to_vec()],
    });
    for (name, header, status) in [
        (
            "Content-Length not a number",
            "Content-Length: ten\r\n",
            400,
        ),
        ("Content-Length negative", "Content-Length: -1\r\n", 400),
        ("Content-Length with a plus", "Content-Length: +2\r\n", 400),
        (
            "two different Content-Lengths",
            "Content-Length: 2\r\nContent-Length: 3\r\n",
            400,
        ),
        (
            "Content-Length beyond u64",
            "Content-Length: 99999999999999999999999\r\n",
            400,
        ),
        (
            "Content-Length beyond the limit",
            "Content-Length: 4194305\r\n",
            413,
        ),
        (
            "Content-Length of 2^63",
            "Content-Length: 9223372036854775808\r\n",
            413,
        ),
        (
            "Transfer-Encoding not chunked",
            "Transfer-Encoding: gzip\r\n",
            400,
        ),
        (
            "Transfer-Encoding chunked, then gzip",
            "Transfer-Encoding: chunked, gzip\r\n",
            400,
        ),
    ] {
        let request = format!(
            "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\n{header}\r\n{{}}"
        );
        cases.push(refused(name, request.into_bytes(), status));
    }
    cases
}

fn method_and_path_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for method in [
        "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "post",
    ] {
        let request = format!(
            "{method} /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        cases.push(refused(
            format!("method {method}"),
            request.into_bytes(),
            405,
        ));
    }
    for path in [
        "/auth0/logs/",
        "/AUTH0/LOGS",
        "//auth0/logs",
        "/auth0/logs/../logs",
        "/auth0/./logs",
        "/auth0%2Flogs",
        "/auth0/logs%00",
        "/",
        "*",
        "/metricsx",
        "/healthz/../auth0/logs",
        "/auth0/l\u{f6}gs",
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        cases.push(refused(format!("path {path}"), request.into_bytes(), 404));
    }
    let long = format!("/{}", "a".repeat(70_000));
    cases.push(refused(
        "path of 70000 bytes",
        format!("GET {long} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
        414,
    ));
    for (name, line) in [
        ("space in the method", "PO ST /auth0/logs HTTP/1.1"),
        ("no version", "POST /auth0/logs"),
        ("HTTP/2 version", "POST /auth0/logs HTTP/2.0"),
        ("HTTP/1.2 version", "POST /auth0/logs HTTP/1.2"),
        ("control byte in the path", "POST /auth0/\x01logs HTTP/1.1"),
    ] {
        let request = format!("{line}\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}");
        cases.push(refused(name, request.into_bytes(), 400));
    }
    for (name, headers) in [
        ("header without a colon", "Broken header\r\n"),
        ("header folded over lines", "X-A: 1\r\n  folded\r\n"),
        ("space before the colon", "X-A : 1\r\n"),
    ] {
        let request = format!(
            "POST /auth0/logs HTTP/1.1\r\nHost: x\r\n{headers}Authorization: {TOKEN}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        cases.push(refused(name, request.into_bytes(), 400));
    }
    let many: String = (0..150).map(|n| format!("X-H{n}: v\r\n")).collect();
    cases.push(refused(
        "150 headers",
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").into_bytes(),
        431,
    ));
    let huge = format!("X-Big: {}\r\n", "b".repeat(1 << 20));
    cases.push(refused(
        "a 1 MiB header",
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{huge}\r\n").into_bytes(),
        431,
    ));
    cases
}

fn token_cases(events: &mut Events) -> Vec<Case> {
    let mut cases = Vec::new();
    let event = events.next();
    for (name, header) in [
        ("no Authorization", String::new()),
        ("empty token", "Authorization: \r\n".to_owned()),
        ("wrong token", "Authorization: wrong\r\n".to_owned()),
        (
            "Bearer prefix",
            format!("Authorization: Bearer {TOKEN}\r\n"),
        ),
        (
            "Basic scheme",
            "Authorization: Basic dGVzdA==\r\n".to_owned(),
        ),
        (
            "token upper case",
            format!("Authorization: {}\r\n", TOKEN.to_uppercase()),
        ),
        (
            "token with a suffix",
            format!("Authorization: {TOKEN}x\r\n"),
        ),
        (
            "token prefix only",
            format!("Authorization: {}\r\n", &TOKEN[..TOKEN.len() - 1]),
        ),
        (
            "token inside quotes",
            format!("Authorization: \"{TOKEN}\"\r\n"),
        ),
        (
            "a 16 KiB token",
            format!("Authorization: {}\r\n", "t".repeat(16 << 10)),
        ),
        (
            "wrong token first, right one second",
            format!("Authorization: wrong\r\nAuthorization: {TOKEN}\r\n"),
        ),
        (
            "token in another header",
            format!("X-Authorization: {TOKEN}\r\n"),
        ),
    ] {
        let request = format!(
            "POST /auth0/logs HTTP/1.1\r\nHost: x\r\n{header}Content-Length: {}\r\n\r\n{}",
            event.len(),
            String::from_utf8_lossy(&event)
        );
        cases.push(refused(format!("token: {name}"), request.into_bytes(), 401));
    }
    let non_ascii = b"POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: t\xc3\xa9st\r\nContent-Length: 2\r\n\r\n{}".to_vec();
    cases.push(refused("token: non-ASCII", non_ascii, 401));
    // Header names are case-insensitive: these pass.
    for (name, header) in [
        (
            "lower-case header name",
            format!("authorization: {TOKEN}\r\n"),
        ),
        (
            "spaces before the token",
            format!("Authorization:   {TOKEN}\r\n"),
        ),
    ] {
        let event = events.next();
        let request = format!(
            "POST /auth0/logs HTTP/1.1\r\nHost: x\r\n{header}Content-Length: {}\r\n\r\n{}",
            event.len(),
            String::from_utf8_lossy(&event)
        );
        cases.push(Case {
            name: format!("token: {name}"),
            request: request.into_bytes(),
            half_close: false,
            status: 200,
            kept: vec![event],
            dead: Vec::new(),
        });
    }
    cases
}

/// The dead-lettered bytes of a dead-letter entry.
fn dead_raw(entry: &serde_json::Value) -> Vec<u8> {
    let engine = &base64::engine::general_purpose::STANDARD;
    if let Some(text) = entry["raw"].as_str() {
        text.as_bytes().to_vec()
    } else if let Some(encoded) = entry["raw_base64"].as_str() {
        engine.decode(encoded).unwrap()
    } else if let Some(encoded) = entry["raw_gzip_base64"].as_str() {
        // A whole body kept gzipped (smaller than its escaped text).
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&engine.decode(encoded).unwrap()[..]),
            &mut body,
        )
        .unwrap();
        body
    } else {
        panic!("dead letter without raw bytes: {entry}")
    }
}

/// Whether the new dead letters `dead` keep the `expected` bad items: one
/// entry each, verbatim and in order, or (where the dead-letter file keeps
/// a body's rejects as one entry of the raw body) every item inside one.
fn dead_lettered(dead: &[Vec<u8>], expected: &[Vec<u8>]) -> bool {
    if dead == expected {
        return true;
    }
    !expected.is_empty()
        && dead.len() == 1
        && expected.iter().all(|item| {
            dead[0]
                .windows(item.len().max(1))
                .any(|window| window == &item[..])
        })
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 120 {
        let start: String = text.chars().take(120).collect();
        format!("{start}… ({} bytes)", bytes.len())
    } else {
        text.into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_their_status_and_lose_no_valid_event() {
    let mut events = Events(1_000_000);
    let mut cases = body_cases(&mut events);
    cases.extend(gzip_cases(&mut events));
    cases.extend(framing_cases(&mut events));
    cases.extend(method_and_path_cases());
    cases.extend(token_cases(&mut events));
    assert!(cases.len() >= 200, "only {} cases", cases.len());

    let mut edge = Edge::start(CONFIG, true).await;
    let mut dead_seen = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let mut stream = edge.connect().await;
        // The server may answer and stop reading early; the lingering close
        // lets the whole request be written anyway.
        let _ = stream.write_all(&case.request).await;
        if case.half_close {
            let _ = stream.shutdown().await;
        }
        let answer = read_answer(&mut stream, Duration::from_secs(10)).await;
        drop(stream);
        let status = answer.as_ref().map(|answer| answer.status);
        if status != Some(case.status) {
            failures.push(format!(
                "{}: status {status:?}, expected {} ({:?})",
                case.name,
                case.status,
                answer.map(|answer| answer.body)
            ));
        }
        // Still serving.
        let mut probe = edge.connect().await;
        probe
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let health = read_answer(&mut probe, Duration::from_secs(10)).await;
        assert_eq!(
            health.map(|answer| answer.status),
            Some(200),
            "dead after {}",
            case.name
        );
        let kept = edge.spooled();
        if kept != case.kept {
            failures.push(format!(
                "{}: kept {:?}, expected {:?}",
                case.name,
                kept.iter().map(|event| shown(event)).collect::<Vec<_>>(),
                case.kept
                    .iter()
                    .map(|event| shown(event))
                    .collect::<Vec<_>>()
            ));
        }
        let dead_letters = edge.dead_letters();
        let dead: Vec<Vec<u8>> = dead_letters[dead_seen..].iter().map(dead_raw).collect();
        dead_seen = dead_letters.len();
        if !dead_lettered(&dead, &case.dead) {
            failures.push(format!(
                "{}: dead-lettered {:?}, expected {:?}",
                case.name,
                dead.iter().map(|raw| shown(raw)).collect::<Vec<_>>(),
                case.dead.iter().map(|raw| shown(raw)).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
