//! A small fake of Datadog's logs intake v2 on 127.0.0.1: it checks what
//! the real intake checks (the `DD-API-KEY`, gzip, at most 1,000 items and
//! 5 MB uncompressed per request, 1 MB per log), records every item, and can
//! be told to answer 400/401/403/408/413/429/5xx.

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support;

/// Datadog's documented limits.
pub const MAX_ITEMS: usize = 1000;
pub const MAX_PAYLOAD_BYTES: usize = 5_000_000;
pub const MAX_LOG_BYTES: usize = 1_000_000;

/// What the fake received and how it misbehaves.
#[derive(Debug, Default)]
pub struct State {
    /// The accepted API key.
    pub key: String,
    /// Every accepted item, in arrival order.
    pub items: Vec<Value>,
    /// Intake requests answered (any status).
    pub requests: usize,
    /// Of which gzipped.
    pub gzipped: usize,
    /// Body bytes as received.
    pub wire_bytes: usize,
    /// Item counts of accepted requests.
    pub request_sizes: Vec<usize>,
    /// Uncompressed body bytes of accepted requests.
    pub body_bytes: Vec<usize>,
    /// Requests or items past Datadog's limits (should stay empty).
    pub violations: Vec<String>,
    /// Requests refused for the key (401 missing, 403 wrong).
    pub refused_key: usize,
    /// `/api/v1/validate` calls.
    pub validations: usize,
    /// Whole-request answers to give first: status and `Retry-After`.
    pub failures: VecDeque<(u16, Option<u64>)>,
    /// While set, every intake request gets this status.
    pub always: Option<u16>,
    /// Requests with an item holding this text get `400`.
    pub reject_containing: Option<String>,
    /// Uncompressed bodies larger than this get `413`.
    pub max_body_bytes: Option<usize>,
    /// Pause before answering.
    pub delay: Duration,
}

/// The running fake.
pub struct FakeIntake {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl FakeIntake {
    pub async fn start(key: &str) -> FakeIntake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            key: key.to_owned(),
            ..State::default()
        }));
        let server = tokio::spawn(serve(listener, Arc::clone(&state)));
        FakeIntake {
            addr,
            state,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Accepted items by `log_id`, with how often each came.
    pub fn by_log_id(&self) -> std::collections::HashMap<String, usize> {
        let mut counts = std::collections::HashMap::new();
        for item in &self.state.lock().unwrap().items {
            let id = item["log_id"].as_str().unwrap_or("").to_owned();
            *counts.entry(id).or_default() += 1;
        }
        counts
    }

    pub fn item_count(&self) -> usize {
        self.state.lock().unwrap().items.len()
    }
}

impl Drop for FakeIntake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    support::serve_http(listener, None, move |request| {
        let state = Arc::clone(&state);
        async move { handle(&state, request).await }
    })
    .await;
}

fn answer(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

async fn handle(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let key = request
        .headers()
        .get("dd-api-key")
        .map(|value| value.to_str().unwrap_or("").to_owned());
    let gzipped = request
        .headers()
        .get("content-encoding")
        .is_some_and(|value| value.as_bytes() == b"gzip");
    let content_type = request
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap_or("").to_owned());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let Ok(body) = request.into_body().collect().await else {
        return answer(400, "{}");
    };
    let wire = body.to_bytes();
    let delay = state.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = state.lock().unwrap();
    let key_status = match &key {
        None => Some(401),
        Some(given) if *given != state.key => Some(403),
        Some(_) => None,
    };
    match (&method, path.as_str()) {
        (&Method::GET, "/api/v1/validate") => {
            state.validations += 1;
            match key_status {
                None => answer(200, r#"{"valid":true}"#),
                Some(status) => answer(status, r#"{"errors":["Forbidden"]}"#),
            }
        }
        (&Method::POST, "/api/v2/logs") => {
            state.requests += 1;
            state.wire_bytes += wire.len();
            if let Some(status) = key_status {
                state.refused_key += 1;
                return answer(
                    status,
                    r#"{"errors":[{"status":"403","title":"Forbidden"}]}"#,
                );
            }
            if content_type.as_deref() != Some("application/json") {
                state
                    .violations
                    .push(format!("content type {content_type:?}"));
            }
            let body = if gzipped {
                state.gzipped += 1;
                let mut inflated = Vec::new();
                flate2::read::GzDecoder::new(wire.as_ref())
                    .read_to_end(&mut inflated)
                    .unwrap();
                inflated
            } else {
                wire.to_vec()
            };
            if let Some(status) = state.always {
                return answer(status, "{}");
            }
            if let Some((status, retry_after)) = state.failures.pop_front() {
                let mut response = answer(status, r#"{"errors":["told to fail"]}"#);
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", seconds.to_string().parse().unwrap());
                }
                return response;
            }
            if body.len() > MAX_PAYLOAD_BYTES {
                state
                    .violations
                    .push(format!("payload of {} bytes", body.len()));
                return answer(413, "{}");
            }
            if state.max_body_bytes.is_some_and(|max| body.len() > max) {
                return answer(413, r#"{"errors":["payload too large"]}"#);
            }
            let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
                state.violations.push("not a JSON array".to_owned());
                return answer(400, "{}");
            };
            if items.len() > MAX_ITEMS {
                state.violations.push(format!("{} items", items.len()));
                return answer(400, "{}");
            }
            for item in &items {
                let size = item.to_string().len();
                if size > MAX_LOG_BYTES {
                    state.violations.push(format!("a log of {size} bytes"));
                }
            }
            if let Some(marker) = &state.reject_containing {
                if items
                    .iter()
                    .any(|item| item.to_string().contains(marker.as_str()))
                {
                    return answer(400, r#"{"errors":["invalid log"]}"#);
                }
            }
            state.request_sizes.push(items.len());
            state.body_bytes.push(body.len());
            state.items.extend(items);
            answer(202, "{}")
        }
        _ => answer(404, "{}"),
    }
}
