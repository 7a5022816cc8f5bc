//! A fake Auth0 tenant on 127.0.0.1:0: the client-credentials token
//! endpoint and `GET /api/v2/logs` in checkpoint mode, with Auth0's
//! semantics (logs strictly after `from`, ordered by `log_id`, at most
//! `take`, a `Link rel="next"` even on empty pages), expiring tokens,
//! a token-bucket rate limit with `X-RateLimit-*` headers, scripted 429s
//! and occasional 503s. It records every logs request so tests can check
//! what the agent asked for and when.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::support;

/// The client id and secret the fake accepts.
pub const CLIENT_ID: &str = "agent-client";
pub const CLIENT_SECRET: &str = "right-secret";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Token lifetime (`expires_in`, whole seconds).
    pub token_ttl_seconds: u64,
    /// Token bucket: size and refill per second. `None`: no limit.
    pub bucket: Option<(f64, f64)>,
    /// Answer 503 to every n-th logs request.
    pub fail_every: Option<u64>,
    /// Answer 429 to this logs request (1-based), with a reset 2 s ahead,
    /// and count every request before the reset as a violation.
    pub rate_limit_at: Option<u64>,
    /// Time each logs answer takes.
    pub latency: Duration,
    /// Answer 403 insufficient scope to every logs request.
    pub forbidden: bool,
    /// Send no `Link rel="next"` header.
    pub no_link: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            token_ttl_seconds: 3600,
            bucket: None,
            fail_every: None,
            rate_limit_at: None,
            latency: Duration::ZERO,
            forbidden: false,
            no_link: false,
        }
    }
}

/// One logs request as the fake saw it.
#[derive(Debug, Clone)]
pub struct LogsRequest {
    pub at: SystemTime,
    pub from: Option<String>,
    pub status: u16,
    pub served: usize,
}

#[derive(Debug)]
struct State {
    options: Options,
    /// `(log_id, json)`, sorted by `log_id`.
    events: Vec<(String, String)>,
    served: HashMap<String, u32>,
    tokens: HashMap<String, Instant>,
    issued: u64,
    token_rejected: u64,
    requests: Vec<LogsRequest>,
    unauthorized: u64,
    expired_token_uses: u64,
    bucket_tokens: f64,
    bucket_refilled: Instant,
    violations: u64,
    blocked_until: Option<SystemTime>,
    /// While set, logs requests after this many served events get 503.
    hold_after: Option<usize>,
    served_total: usize,
    /// Requests received and not yet answered.
    in_flight: usize,
}

/// A running fake tenant.
pub struct FakeTenant {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTenant {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The log_id of event `sequence` indexed at `date`: Auth0's layout, `900`,
/// `YYYYMMDDhhmmss`, 39 digits.
pub fn log_id(date: OffsetDateTime, sequence: u64) -> String {
    format!(
        "900{:04}{:02}{:02}{:02}{:02}{:02}{sequence:039}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        date.hour(),
        date.minute(),
        date.second()
    )
}

/// An API log (as `GET /api/v2/logs` returns it) for `sequence` at `date`.
pub fn event(date: OffsetDateTime, sequence: u64) -> (String, String) {
    let id = log_id(date, sequence);
    let date_text = date
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let json = format!(
        r#"{{"date":"{date_text}","type":"s","description":"Success Login","client_id":"c1","client_name":"","ip":"10.0.0.{}","user_id":"auth0|{sequence}","user_name":"u{sequence}@example.com","log_id":"{id}","_id":"{id}","isMobile":false,"$event_schema":{{"version":"1.0.0"}}}}"#,
        sequence % 250
    );
    (id, json)
}

/// `count` events from `first`, one second apart, starting at `date`.
pub fn events(date: OffsetDateTime, first: u64, count: u64) -> Vec<(String, String)> {
    (first..first + count)
        .map(|sequence| {
            event(
                date + Duration::from_secs((sequence - first) / 100),
                sequence,
            )
        })
        .collect()
}

impl FakeTenant {
    /// Starts the fake with `events`.
    pub async fn start(options: Options, events: Vec<(String, String)>) -> FakeTenant {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bucket_tokens = options.bucket.map_or(0.0, |(size, _)| size);
        let mut state = State {
            options,
            events: Vec::new(),
            served: HashMap::new(),
            tokens: HashMap::new(),
            issued: 0,
            token_rejected: 0,
            requests: Vec::new(),
            unauthorized: 0,
            expired_token_uses: 0,
            bucket_tokens,
            bucket_refilled: Instant::now(),
            violations: 0,
            blocked_until: None,
            hold_after: None,
            served_total: 0,
            in_flight: 0,
        };
        state.add(events);
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(support::serve_http(listener, None, move |request| {
            let state = Arc::clone(&shared);
            async move { handle(state, addr, request).await }
        }));
        FakeTenant { addr, state, task }
    }

    /// The tenant URL for `poller.url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds logs (they are kept sorted by `log_id`).
    pub fn add(&self, events: Vec<(String, String)>) {
        self.state.lock().unwrap().add(events);
    }

    /// Forgets every issued token (as a signing-key rotation would).
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    /// Answers 503 to logs requests once `served` events were served, until
    /// [`FakeTenant::release`].
    pub fn hold_after(&self, served: usize) {
        self.state.lock().unwrap().hold_after = Some(served);
    }

    /// Ends a [`FakeTenant::hold_after`].
    pub fn release(&self) {
        self.state.lock().unwrap().hold_after = None;
    }

    pub fn requests(&self) -> Vec<LogsRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many times each log was served in a 200.
    pub fn served(&self) -> HashMap<String, u32> {
        self.state.lock().unwrap().served.clone()
    }

    /// Requests being answered (a killed client's request still is).
    pub fn in_flight(&self) -> usize {
        self.state.lock().unwrap().in_flight
    }

    pub fn served_total(&self) -> usize {
        self.state.lock().unwrap().served_total
    }

    pub fn tokens_issued(&self) -> u64 {
        self.state.lock().unwrap().issued
    }

    pub fn tokens_rejected(&self) -> u64 {
        self.state.lock().unwrap().token_rejected
    }

    /// Logs requests answered 401.
    pub fn unauthorized(&self) -> u64 {
        self.state.lock().unwrap().unauthorized
    }

    /// Logs requests that came with an expired token.
    pub fn expired_token_uses(&self) -> u64 {
        self.state.lock().unwrap().expired_token_uses
    }

    /// Requests that broke the rate limit: made with an empty bucket, or
    /// before the reset of a scripted 429.
    pub fn violations(&self) -> u64 {
        self.state.lock().unwrap().violations
    }

    /// When the scripted 429 said the limit resets.
    pub fn blocked_until(&self) -> Option<SystemTime> {
        self.state.lock().unwrap().blocked_until
    }
}

impl State {
    fn add(&mut self, events: Vec<(String, String)>) {
        self.events.extend(events);
        self.events.sort_by(|a, b| a.0.cmp(&b.0));
        self.events.dedup_by(|a, b| a.0 == b.0);
    }

    /// Refills the bucket; `true` if a request may pass (and takes a token).
    fn take_token(&mut self) -> Option<bool> {
        let (size, rate) = self.options.bucket?;
        let now = Instant::now();
        let elapsed = now.duration_since(self.bucket_refilled).as_secs_f64();
        self.bucket_refilled = now;
        self.bucket_tokens = (self.bucket_tokens + elapsed * rate).min(size);
        if self.bucket_tokens >= 1.0 {
            self.bucket_tokens -= 1.0;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// `X-RateLimit-*` values: limit, remaining, reset (epoch seconds when
    /// the bucket is full again, rounded up).
    fn rate_headers(&self) -> Option<(u64, u64, u64)> {
        let (size, rate) = self.options.bucket?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let full_in = (size - self.bucket_tokens) / rate;
        Some((
            size as u64,
            self.bucket_tokens.floor() as u64,
            (now + full_in).ceil() as u64,
        ))
    }
}

fn response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let authorization = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let method = request.method().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let latency = {
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.options.latency
    };
    // hyper drops this future when the client goes away: count it as
    // answered then too.
    let _in_flight = InFlight(Arc::clone(&state));
    if path == "/api/v2/logs" && !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut state = state.lock().unwrap();
    match (method.as_str(), path.as_str()) {
        ("POST", "/oauth/token") => token(&mut state, &body),
        ("GET", "/api/v2/logs") => logs(&mut state, addr, &query, authorization.as_deref()),
        _ => response(StatusCode::NOT_FOUND, "{}".to_owned()),
    }
}

struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.lock() {
            state.in_flight -= 1;
        }
    }
}

fn pairs(text: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .unwrap()
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn token(state: &mut State, body: &[u8]) -> Response<Full<Bytes>> {
    let form = pairs(std::str::from_utf8(body).unwrap_or(""));
    let get = |name: &str| form.get(name).map(String::as_str);
    if get("grant_type") != Some("client_credentials")
        || get("client_id") != Some(CLIENT_ID)
        || get("client_secret") != Some(CLIENT_SECRET)
        || !get("audience").is_some_and(|audience| audience.ends_with("/api/v2/"))
    {
        state.token_rejected += 1;
        return response(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#.to_owned(),
        );
    }
    state.issued += 1;
    let token = format!("token-{}", state.issued);
    let ttl = state.options.token_ttl_seconds;
    state
        .tokens
        .insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
    response(
        StatusCode::OK,
        format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{ttl},"scope":"read:logs read:logs_users"}}"#
        ),
    )
}

fn logs(
    state: &mut State,
    addr: SocketAddr,
    query: &str,
    authorization: Option<&str>,
) -> Response<Full<Bytes>> {
    let parameters = pairs(query);
    let from = parameters.get("from").cloned();
    let take = parameters
        .get("take")
        .and_then(|take| take.parse::<usize>().ok())
        .unwrap_or(50)
        .min(100);
    let number = state.requests.len() as u64 + 1;
    let now = SystemTime::now();
    let mut record = LogsRequest {
        at: now,
        from: from.clone(),
        status: 200,
        served: 0,
    };
    let result = serve_logs(state, addr, number, from, take, authorization, &mut record);
    record.status = result.status().as_u16();
    state.requests.push(record);
    result
}

fn serve_logs(
    state: &mut State,
    addr: SocketAddr,
    number: u64,
    from: Option<String>,
    take: usize,
    authorization: Option<&str>,
    record: &mut LogsRequest,
) -> Response<Full<Bytes>> {
    let now = record.at;
    let valid = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| state.tokens.get(token).copied());
    match valid {
        None => {
            state.unauthorized += 1;
            return response(
                StatusCode::UNAUTHORIZED,
                r#"{"statusCode":401,"error":"Unauthorized","message":"Invalid token"}"#.to_owned(),
            );
        }
        Some(expiry) if expiry <= Instant::now() => {
            state.unauthorized += 1;
            state.expired_token_uses += 1;
            return response(
                StatusCode::UNAUTHORIZED,
                r#"{"statusCode":401,"error":"Unauthorized","message":"Expired token"}"#.to_owned(),
            );
        }
        Some(_) => {}
    }
    if state.options.forbidden {
        return response(
            StatusCode::FORBIDDEN,
            r#"{"statusCode":403,"error":"Forbidden","message":"Insufficient scope; expected any of: read:logs, read:logs_users","errorCode":"insufficient_scope"}"#.to_owned(),
        );
    }
    let too_many = |reset: u64| {
        let mut response = response(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}"#.to_owned(),
        );
        response
            .headers_mut()
            .insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        response
    };
    if let Some(until) = state.blocked_until {
        if now < until {
            state.violations += 1;
            let reset = until.duration_since(UNIX_EPOCH).unwrap().as_secs();
            return too_many(reset);
        }
    }
    if state.options.rate_limit_at == Some(number) {
        let reset = now.duration_since(UNIX_EPOCH).unwrap().as_secs() + 2;
        state.blocked_until = Some(UNIX_EPOCH + Duration::from_secs(reset));
        return too_many(reset);
    }
    if state.take_token() == Some(false) {
        state.violations += 1;
        let (_, _, reset) = state.rate_headers().unwrap();
        let mut response = too_many(reset);
        add_rate_headers(state, &mut response);
        return response;
    }
    if state
        .options
        .fail_every
        .is_some_and(|every| number.is_multiple_of(every))
        || state
            .hold_after
            .is_some_and(|hold| state.served_total >= hold)
    {
        let mut response = response(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"statusCode":503,"error":"Service Unavailable","message":"try again"}"#.to_owned(),
        );
        add_rate_headers(state, &mut response);
        return response;
    }
    let start = match &from {
        Some(from) => state.events.partition_point(|(id, _)| id <= from),
        None => 0,
    };
    let page: Vec<(String, String)> = state.events[start..].iter().take(take).cloned().collect();
    for (id, _) in &page {
        *state.served.entry(id.clone()).or_default() += 1;
    }
    state.served_total += page.len();
    record.served = page.len();
    let next_from = page.last().map(|(id, _)| id.clone()).or(from);
    let body = format!(
        "[{}]",
        page.iter()
            .map(|(_, json)| json.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut response = response(StatusCode::OK, body);
    if let Some(next_from) = next_from.filter(|_| !state.options.no_link) {
        let link =
            format!("<http://{addr}/api/v2/logs?from={next_from}&take={take}>; rel=\"next\"");
        response
            .headers_mut()
            .insert(hyper::header::LINK, link.parse().unwrap());
    }
    add_rate_headers(state, &mut response);
    response
}

fn add_rate_headers(state: &State, response: &mut Response<Full<Bytes>>) {
    if let Some((limit, remaining, reset)) = state.rate_headers() {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", limit.to_string().parse().unwrap());
        headers.insert(
            "x-ratelimit-remaining",
            remaining.to_string().parse().unwrap(),
        );
        headers.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
    }
}
