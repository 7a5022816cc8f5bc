//! Issue 19: `setup` against a loopback fake of Kibana's import API (and the
//! Elasticsearch fake for the templates it installs first), through the
//! built binary: success (twice: idempotent), `success: false` with
//! `missing_references`, 400 without `kbn-xsrf`, 401, an unsupported
//! version, `--dry-run`, and `assets kibana`.
//!
//! The fake checks what Kibana checks: `kbn-xsrf` on the POST (else 400
//! with Kibana's message), the credentials (else 401), a multipart body
//! with one `file` part holding NDJSON, and `overwrite=true`.

use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::support;
use super::support::fake_es::FakeEs;
use auth0_ingest::setup::assets;

const API_KEY: &str = "a2V5LWlkOmtleS1zZWNyZXQ=";

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Success,
    MissingReferences,
    /// As if a proxy stripped `kbn-xsrf` on the way.
    XsrfStripped,
}

#[derive(Debug)]
struct State {
    version: String,
    mode: Mode,
    /// `(kbn-xsrf present, overwrite=true, objects in the file)` per import.
    imports: Vec<(bool, bool, Vec<Value>)>,
    status_requests: usize,
}

struct FakeKibana {
    url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKibana {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeKibana {
    async fn start(version: &str, mode: Mode) -> FakeKibana {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            version: version.to_owned(),
            mode,
            imports: Vec::new(),
            status_requests: 0,
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(support::serve_http(listener, None, move |request| {
            let state = Arc::clone(&shared);
            async move { handle(&state, request).await }
        }));
        FakeKibana { url, state, task }
    }
}

fn answer(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization");
    let xsrf = header("kbn-xsrf").is_some();
    let content_type = header("content-type").unwrap_or_default();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    if authorization.as_deref() != Some(&format!("ApiKey {API_KEY}")) {
        return answer(
            401,
            &json!({"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]: unable to authenticate user"}),
        );
    }
    let mut state = state.lock().unwrap();
    match (&method, path.as_str()) {
        (&Method::GET, "/api/status") => {
            state.status_requests += 1;
            answer(
                200,
                &json!({"name": "kibana", "version": {"number": state.version, "build_flavor": "traditional"}, "status": {"overall": {"level": "available"}}}),
            )
        }
        (&Method::POST, "/s/sec/api/saved_objects/_import") => {
            if !xsrf || state.mode == Mode::XsrfStripped {
                return answer(
                    400,
                    &json!({"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}),
                );
            }
            let Some(boundary) = content_type.strip_prefix("multipart/form-data; boundary=") else {
                return answer(
                    415,
                    &json!({"statusCode": 415, "error": "Unsupported Media Type", "message": "Unsupported Media Type"}),
                );
            };
            let text = String::from_utf8(body.to_vec()).unwrap();
            let part = text
                .strip_prefix(&format!("--{boundary}\r\n"))
                .and_then(|rest| rest.strip_suffix(&format!("\r\n--{boundary}--\r\n")))
                .expect("one multipart part");
            let (head, ndjson) = part.split_once("\r\n\r\n").unwrap();
            assert!(
                head.contains("name=\"file\"; filename=\"auth0-ingest.ndjson\""),
                "{head}"
            );
            let objects: Vec<Value> = ndjson
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            let overwrite = query.split('&').any(|pair| pair == "overwrite=true");
            let count = objects.len();
            state.imports.push((xsrf, overwrite, objects));
            match state.mode {
                Mode::MissingReferences => answer(
                    200,
                    &json!({
                        "success": false,
                        "successCount": count - 1,
                        "errors": [{
                            "id": "auth0-ingest-overview", "type": "dashboard", "title": "Auth0 overview",
                            "meta": {"title": "Auth0 overview", "icon": "dashboardApp"},
                            "error": {"type": "missing_references", "references": [{"type": "visualization", "id": "auth0-ingest-vis-applications"}]}
                        }],
                    }),
                ),
                _ => answer(
                    200,
                    &json!({"success": true, "successCount": count, "successResults": []}),
                ),
            }
        }
        _ => answer(
            404,
            &json!({"statusCode": 404, "error": "Not Found", "message": "Not Found"}),
        ),
    }
}

/// A config for both fakes; `auth` is the `[kibana]` credentials part.
fn config(dir: &std::path::Path, es: &str, kibana: &str, auth: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("kibana-key"), format!("{API_KEY}\n")).unwrap();
    std::fs::write(dir.join("kibana-password"), "hunter2-secret\n").unwrap();
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "[output.elasticsearch]\nhosts = [\"{es}\"]\nnamespace = \"tenant_a\"\n\n\
             [kibana]\nurl = \"{kibana}\"\nspace = \"sec\"\n{auth}\n"
        ),
    )
    .unwrap();
    path
}

const API_KEY_AUTH: &str = "api_key_file = \"kibana-key\"";

fn run(args: &[&str]) -> (i32, String, String) {
    let output = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
            .args(args)
            .output()
            .unwrap()
    });
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn setup(path: &std::path::Path) -> (i32, String, String) {
    run(&["setup", "--config", path.to_str().unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_setup_imports_the_assets_after_the_templates_idempotently() {
    let es = FakeEs::start().await;
    let kibana = FakeKibana::start("8.13.4", Mode::Success).await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &es.url(), &kibana.url, API_KEY_AUTH);
    for round in 0..2 {
        let (code, stdout, stderr) = setup(&path);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains("/_index_template/auth0-ingest: "),
            "{stdout}"
        );
        assert!(
            stdout.contains("Kibana 8.13.4, space `sec`: 18 saved objects imported"),
            "{stdout}"
        );
        assert!(!stdout.contains(API_KEY) && !stderr.contains(API_KEY));
        let state = kibana.state.lock().unwrap();
        assert_eq!(state.imports.len(), round + 1);
        let (xsrf, overwrite, objects) = state.imports.last().unwrap();
        assert!(*xsrf && *overwrite);
        let data_view = objects
            .iter()
            .find(|object| object["type"] == "index-pattern")
            .unwrap();
        assert_eq!(data_view["attributes"]["title"], "logs-auth0.logs-tenant_a");
        assert_eq!(data_view["id"], assets::DATA_VIEW_ID);
    }
    let state = kibana.state.lock().unwrap();
    assert_eq!(
        state.imports[0].2, state.imports[1].2,
        "the same objects, the same ids"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_success_false_with_missing_references_exits_1_naming_each_object() {
    let es = FakeEs::start().await;
    let kibana = FakeKibana::start("9.1.0", Mode::MissingReferences).await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &es.url(), &kibana.url, API_KEY_AUTH);
    let (code, stdout, stderr) = setup(&path);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("error: dashboard auth0-ingest-overview: missing_references (needs visualization auth0-ingest-vis-applications)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Kibana did not import 1 object(s) into space `sec`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_a_400_for_a_missing_kbn_xsrf_exits_1_with_kibanas_message() {
    let es = FakeEs::start().await;
    let kibana = FakeKibana::start("8.19.0", Mode::XsrfStripped).await;
    // The fake itself refuses a POST without the header.
    let refused = reqwest::Client::new()
        .post(format!(
            "{}/s/sec/api/saved_objects/_import?overwrite=true",
            kibana.url
        ))
        .header("authorization", format!("ApiKey {API_KEY}"))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &es.url(), &kibana.url, API_KEY_AUTH);
    let (code, stdout, stderr) = setup(&path);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("answered 400 Bad Request"), "{stderr}");
    assert!(
        stderr.contains("Request must contain a kbn-xsrf header."),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_refused_credentials_exit_1_without_the_password() {
    let es = FakeEs::start().await;
    let kibana = FakeKibana::start("8.15.0", Mode::Success).await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &es.url(),
        &kibana.url,
        "username = \"elastic\"\npassword_file = \"kibana-password\"",
    );
    let (code, stdout, stderr) = setup(&path);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("Kibana refused the credentials (401 Unauthorized)"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
    assert!(kibana.state.lock().unwrap().imports.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_an_unsupported_kibana_version_is_refused_naming_both() {
    let es = FakeEs::start().await;
    let kibana = FakeKibana::start("8.12.2", Mode::Success).await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &es.url(), &kibana.url, API_KEY_AUTH);
    let (code, stdout, stderr) = setup(&path);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "Kibana 8.12.2 is not a version the assets were written for (Kibana 8.13 to 9.x)"
        ),
        "{stderr}"
    );
    let state = kibana.state.lock().unwrap();
    assert_eq!(state.status_requests, 1);
    assert!(state.imports.is_empty(), "nothing imported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_dry_run_prints_the_requests_without_sending_or_showing_secrets() {
    let es = FakeEs::start().await;
    let kibana = FakeKibana::start("8.13.0", Mode::Success).await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &es.url(), &kibana.url, API_KEY_AUTH);
    let (code, stdout, stderr) = run(&["setup", "--dry-run", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("GET {}/api/status", kibana.url)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "POST {}/s/sec/api/saved_objects/_import?overwrite=true",
            kibana.url
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Authorization: ApiKey [redacted]"),
        "{stdout}"
    );
    assert!(stdout.contains("kbn-xsrf: true"), "{stdout}");
    assert!(stdout.contains("logs-auth0.logs-tenant_a"), "{stdout}");
    assert!(!stdout.contains(API_KEY));
    let state = kibana.state.lock().unwrap();
    assert_eq!((state.status_requests, state.imports.len()), (0, 0));
}

#[test]
fn r19_assets_kibana_prints_the_import_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(["assets", "kibana"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout, assets::ndjson(assets::ALL_NAMESPACES).unwrap());
    assert_eq!(stdout.lines().count(), 18);
    let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(["assets", "kibana", "--namespace", "prod"])
        .output()
        .unwrap();
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains("\"title\":\"logs-auth0.logs-prod\""));
}

#[test]
fn r19_a_bad_kibana_section_is_a_config_error_for_setup_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "[webhook]\ntokens = [\"0123456789abcdef0123456789abcdef\"]\n[spool]\ndir = \"spool\"\n\
         [output.elasticsearch]\nhosts = [\"http://127.0.0.1:9\"]\n[kibana]\nurl = \"https://kibana:5601\"\napi_key_file = \"absent-key\"\nusername = \"u\"\n",
    )
    .unwrap();
    for command in ["setup", "check-config"] {
        let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
            .args([command, "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(78), "{command}: {stderr}");
        assert!(
            stderr.contains("`kibana.api_key_file`"),
            "{command}: {stderr}"
        );
    }
}

/// A Kibana answering `status` to `/api/status` and `import` to the import.
async fn hostile(
    status: fn() -> Response<Full<Bytes>>,
    import: fn() -> Response<Full<Bytes>>,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(support::serve_http(
        listener,
        None,
        move |request| async move {
            if request.uri().path() == "/api/status" {
                status()
            } else {
                import()
            }
        },
    ));
    (url, task)
}

fn status_ok() -> Response<Full<Bytes>> {
    answer(200, &json!({"version": {"number": "8.13.4"}}))
}

fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn install_against(
    status: fn() -> Response<Full<Bytes>>,
    import: fn() -> Response<Full<Bytes>>,
) -> auth0_ingest::setup::kibana::Error {
    use auth0_ingest::setup::kibana;
    let (url, task) = hostile(status, import).await;
    let config = kibana::Config {
        url: url.parse().unwrap(),
        space: "sec".to_owned(),
        auth: kibana::Auth::ApiKey(auth0_ingest::secret::Secret::new(API_KEY.to_owned())),
        ca_cert: None,
    };
    let ndjson = assets::ndjson(assets::ALL_NAMESPACES).unwrap();
    let error = kibana::install(&config, &ndjson).await.unwrap_err();
    task.abort();
    error
}

/// Every message is one line of bounded length, never the key.
fn assert_bounded(message: &str) {
    assert!(message.len() < 1000, "{} bytes", message.len());
    assert!(
        !message.contains('\n') && !message.contains(API_KEY),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r19_hostile_kibana_answers_are_bounded_errors() {
    use auth0_ingest::setup::kibana::{Error, MAX_BODY};
    // A huge answer: read up to MAX_BODY, then refused as such.
    let error = install_against(
        || raw(200, "application/json", vec![b' '; 8 * 1024 * 1024]),
        status_ok,
    )
    .await;
    let message = error.to_string();
    assert!(matches!(error, Error::Unexpected { .. }), "{error:?}");
    assert!(
        message.contains(&format!("larger than {MAX_BODY} bytes")),
        "{message}"
    );
    assert_bounded(&message);

    // A 500 with an HTML page: the status and one readable line of it.
    let error = install_against(status_ok, || {
        let page = format!(
            "<html>\n<head><title>500 Internal Server Error</title></head>\n\t<body>{}</body></html>",
            "x".repeat(5000)
        );
        raw(500, "text/html", page.into_bytes())
    })
    .await;
    let message = error.to_string();
    assert!(message.contains("500 Internal Server Error"), "{message}");
    assert!(message.contains("<html> <head><title>500"), "{message}");
    assert_bounded(&message);

    // A 200 HTML page (a login portal in front of Kibana).
    let error = install_against(
        || {
            raw(
                200,
                "text/html",
                b"<!DOCTYPE html><html>Sign in</html>".to_vec(),
            )
        },
        status_ok,
    )
    .await;
    let message = error.to_string();
    assert!(
        message.contains("not a JSON object: `<!DOCTYPE html>"),
        "{message}"
    );
    assert_bounded(&message);

    // `success: true` that still lists errors is a failure.
    let error = install_against(status_ok, || {
        answer(
            200,
            &json!({"success": true, "successCount": 17, "errors": [{"type": "dashboard", "id": "auth0-ingest-overview", "error": {"type": "conflict"}}]}),
        )
    })
    .await;
    match &error {
        Error::ImportFailed { problems, .. } => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].kind, "conflict");
        }
        other => panic!("{other:?}"),
    }

    // A redirect is not followed (a redirected POST loses its body).
    let error = install_against(
        || {
            Response::builder()
                .status(302)
                .header("location", "https://sso.example/login?next=%2Fapi%2Fstatus")
                .body(Full::new(Bytes::new()))
                .unwrap()
        },
        status_ok,
    )
    .await;
    let message = error.to_string();
    assert!(matches!(error, Error::Redirect { .. }), "{error:?}");
    assert!(
        message.contains("302 Found") && message.contains("https://sso.example/login"),
        "{message}"
    );
    assert_bounded(&message);
}

#[test]
fn r19_assets_kibana_refuses_an_odd_namespace_with_exit_1() {
    let long = "a".repeat(101);
    for namespace in ["a b", "*,logs-*", "x\"},{\"id", "Prod", &long, ""] {
        let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
            .args(["assets", "kibana", "--namespace", namespace])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{namespace:?}");
        assert!(output.stdout.is_empty(), "{namespace:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains("is not a data stream namespace"),
            "{stderr}"
        );
    }
}
