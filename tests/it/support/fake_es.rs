//! A small fake of Elasticsearch on 127.0.0.1: `GET /`, `_bulk` (create
//! actions, per-item statuses, 409 for an `_id` it holds) and the template
//! APIs, with failures a test can inject (per item, per request, delays,
//! size limits, padded answers, authorization). Shared by every test that
//! needs an Elasticsearch.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support;

/// What the fake holds and how it misbehaves.
#[derive(Debug, Default)]
pub struct State {
    /// Documents by index, then `_id`.
    pub documents: HashMap<String, HashMap<String, String>>,
    /// Documents stored without `_id` (Elasticsearch would assign one).
    pub without_id: usize,
    /// `_bulk` requests answered (any status).
    pub bulk_requests: usize,
    /// Bulk items seen, by `_id`.
    pub attempts: HashMap<String, usize>,
    /// `409`s answered.
    pub conflicts: usize,
    /// Per-`_id` statuses to answer before accepting it (429, 400, 503).
    pub item_failures: HashMap<String, VecDeque<u16>>,
    /// Items whose document contains this text always get a mapping error.
    pub reject_containing: Option<String>,
    /// Whole-request answers to give first: status and `Retry-After`.
    pub request_failures: VecDeque<(u16, Option<u64>)>,
    /// Requests whose body contains this text get a whole-request `400`.
    pub reject_request_containing: Option<String>,
    /// This many `200` answers are padded past 2 MiB.
    pub padded_responses: usize,
    /// Bodies larger than this get `413`.
    pub max_body_bytes: Option<usize>,
    /// Pause before answering a `_bulk`.
    pub delay: Duration,
    /// Installed templates by path.
    pub templates: HashMap<String, Value>,
    /// Template `PUT`s answered.
    pub template_puts: usize,
    /// When set, requests without this `Authorization` value get `401`.
    pub authorization: Option<String>,
    /// `401`s answered.
    pub unauthorized: usize,
    /// `_bulk` requests that came gzipped (`Content-Encoding: gzip`).
    pub gzipped_requests: usize,
    /// `_bulk` body bytes as received (compressed when gzipped).
    pub wire_bytes: usize,
    /// The `filter_path` of the last `_bulk` request.
    pub filter_path: Option<String>,
}

/// The running fake.
pub struct FakeEs {
    /// Its address (kept across `down`/`up`).
    pub addr: SocketAddr,
    /// Its state; lock it to read or to set failures.
    pub state: Arc<Mutex<State>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl FakeEs {
    /// Starts on a free loopback port.
    pub async fn start() -> FakeEs {
        FakeEs::start_with(None).await
    }

    /// Starts serving HTTPS with `tls`.
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> FakeEs {
        FakeEs::start_with(Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> FakeEs {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let server = tokio::spawn(serve(listener, Arc::clone(&state), tls.clone()));
        FakeEs {
            addr,
            state,
            tls,
            server: Mutex::new(Some(server)),
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening and drops every connection: clients get
    /// connection refused or reset.
    pub fn down(&self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let server = tokio::spawn(serve(listener, Arc::clone(&self.state), self.tls.clone()));
        *self.server.lock().unwrap() = Some(server);
    }

    /// The `_id`s stored in `index`.
    pub fn ids(&self, index: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .documents
            .get(index)
            .map(|documents| documents.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The number of documents in `index`.
    pub fn count(&self, index: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.documents.get(index).map_or(0, HashMap::len)
    }
}

impl Drop for FakeEs {
    fn drop(&mut self) {
        self.down();
    }
}

async fn serve(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    // Aborting the server drops every connection.
    support::serve_http(listener, tls, move |request| {
        let state = Arc::clone(&state);
        async move { handle(&state, request).await }
    })
    .await;
}

fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-elastic-product", "Elasticsearch")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    {
        let mut state = state.lock().unwrap();
        if let Some(expected) = &state.authorization {
            let given = request
                .headers()
                .get("authorization")
                .map(|value| value.as_bytes());
            if given != Some(expected.as_bytes()) {
                state.unauthorized += 1;
                return json_response(
                    401,
                    &json!({"error": {"type": "security_exception", "reason": "unable to authenticate"}, "status": 401}),
                );
            }
        }
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let filter_path = request.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("filter_path="))
            .map(|value| value.replace("%2C", ",").replace("%2c", ","))
    });
    let gzipped = request
        .headers()
        .get("content-encoding")
        .is_some_and(|value| value.as_bytes() == b"gzip");
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(body) = request.into_body().collect().await else {
        return json_response(400, &json!({"error": "body"}));
    };
    let body = body.to_bytes();
    let wire_bytes = body.len();
    // Elasticsearch inflates gzipped bodies before any limit applies.
    let body = if gzipped {
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(body.as_ref()),
            &mut inflated,
        )
        .expect("a gzip body");
        Bytes::from(inflated)
    } else {
        body
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, [""]) => json_response(
            200,
            &json!({
                "name": "fake", "cluster_name": "fake-es",
                "version": {"number": "8.15.0", "build_flavor": "default"},
                "tagline": "You Know, for Search"
            }),
        ),
        (&Method::POST, [index, "_bulk"]) => {
            let delay = state.lock().unwrap().delay;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            assert!(
                content_type.starts_with("application/x-ndjson")
                    || content_type.starts_with("application/json"),
                "bulk content type {content_type}"
            );
            let mut state = state.lock().unwrap();
            state.gzipped_requests += usize::from(gzipped);
            state.wire_bytes += wire_bytes;
            state.filter_path = filter_path;
            bulk(&mut state, index, &body)
        }
        (&Method::GET, [kind @ ("_component_template" | "_index_template"), name]) => {
            let state = state.lock().unwrap();
            match state.templates.get(&path) {
                Some(template) => {
                    let (list, field) = if *kind == "_component_template" {
                        ("component_templates", "component_template")
                    } else {
                        ("index_templates", "index_template")
                    };
                    json_response(200, &json!({ list: [{ "name": name, field: template }] }))
                }
                None => json_response(404, &json!({"error": "missing", "status": 404})),
            }
        }
        (&Method::PUT, ["_component_template" | "_index_template", _]) => {
            let mut state = state.lock().unwrap();
            let template: Value = serde_json::from_slice(&body).unwrap();
            state.templates.insert(path.clone(), template);
            state.template_puts += 1;
            json_response(200, &json!({"acknowledged": true}))
        }
        _ => json_response(404, &json!({"error": format!("no route {method} {path}")})),
    }
}

fn bulk(state: &mut State, index: &str, body: &[u8]) -> Response<Full<Bytes>> {
    state.bulk_requests += 1;
    if let Some((status, retry_after)) = state.request_failures.pop_front() {
        let mut response = json_response(
            status,
            &json!({"error": {"type": "fake_failure", "reason": "told to fail"}, "status": status}),
        );
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
        }
        return response;
    }
    if let Some(marker) = &state.reject_request_containing {
        if body
            .windows(marker.len())
            .any(|window| window == marker.as_bytes())
        {
            return json_response(
                400,
                &json!({"error": {"type": "x_content_parse_exception", "reason": "[1:2] unexpected token"}, "status": 400}),
            );
        }
    }
    if state.max_body_bytes.is_some_and(|max| body.len() > max) {
        return json_response(413, &json!({"error": "request entity too large"}));
    }
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.ends_with('\n'), "bulk bodies end with a newline");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len().is_multiple_of(2),
        "action and document lines pair up"
    );
    let mut items = Vec::new();
    let mut errors = false;
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).unwrap();
        let create = action.get("create").expect("only create actions");
        let target = create
            .get("_index")
            .and_then(Value::as_str)
            .unwrap_or(index)
            .to_owned();
        let document = pair[1];
        serde_json::from_str::<Value>(document).expect("documents are JSON");
        let Some(id) = create.get("_id").and_then(Value::as_str).map(str::to_owned) else {
            state.without_id += 1;
            let id = format!("auto-{}", state.without_id);
            state
                .documents
                .entry(target)
                .or_default()
                .insert(id, document.to_owned());
            items.push(json!({"create": {"status": 201}}));
            continue;
        };
        *state.attempts.entry(id.clone()).or_default() += 1;
        let injected = state
            .item_failures
            .get_mut(&id)
            .and_then(VecDeque::pop_front);
        let poisoned = state
            .reject_containing
            .as_ref()
            .is_some_and(|marker| document.contains(marker.as_str()));
        let status = if poisoned { Some(400) } else { injected };
        if let Some(status) = status {
            errors = true;
            let (kind, reason) = match status {
                429 => (
                    "es_rejected_execution_exception",
                    "rejected execution of coordinating operation",
                ),
                400 => (
                    "mapper_parsing_exception",
                    "failed to parse field [auth0.logs.data.date] of type [date]",
                ),
                _ => (
                    "unavailable_shards_exception",
                    "primary shard is not active",
                ),
            };
            items.push(json!({"create": {"_id": id, "status": status, "error": {"type": kind, "reason": reason}}}));
            continue;
        }
        let documents = state.documents.entry(target).or_default();
        if documents.contains_key(&id) {
            state.conflicts += 1;
            errors = true;
            items.push(json!({"create": {"_id": id, "status": 409, "error": {
                "type": "version_conflict_engine_exception",
                "reason": format!("[{id}]: version conflict, document already exists (current version [1])")
            }}}));
        } else {
            documents.insert(id.clone(), document.to_owned());
            items.push(json!({"create": {"_id": id, "status": 201, "result": "created"}}));
        }
    }
    if state.padded_responses > 0 {
        state.padded_responses -= 1;
        let padding = "x".repeat(2 << 20);
        return json_response(
            200,
            &json!({"took": 1, "errors": errors, "items": items, "padding": padding}),
        );
    }
    json_response(200, &json!({"took": 1, "errors": errors, "items": items}))
}
