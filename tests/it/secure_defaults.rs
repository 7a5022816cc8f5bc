//! Issue 17 (items 1 to 11): secure and true defaults, checked
//! through the built binary, the listener and real files.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{eventually, skipped, Agent};

const BIN: &str = env!("CARGO_BIN_EXE_auth0-ingest");

/// `auth0-ingest check-config --config <config>` in `cwd` with `env`.
fn check_config(cwd: &Path, config: &str, env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(BIN)
        .args(["check-config", "--config", config])
        .current_dir(cwd)
        .envs(env.iter().copied())
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code().unwrap(), stderr)
}

/// A plain-HTTP agent config under `dir` with `webhook` keys and `extra`.
fn config(dir: &Path, webhook: &str, extra: &str) -> String {
    format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\n{webhook}\n[spool]\ndir = \"{}\"\n\
         [output.file]\ndir = \"{}\"\n[enrich]\nuser_agent = \"woothee\"\ngeoip_city = \"\"\ngeoip_asn = \"\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"json\"\n{extra}",
        dir.join("spool").display(),
        dir.join("out").display(),
    )
}

/// The webhook's status for `body` posted with `token`.
async fn status(url: &str, token: &str, body: &'static str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("Authorization", token)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const EVENT: &str = "{\"log_id\":\"90020261207000000000000001\",\"data\":{\"type\":\"s\",\"date\":\"2026-12-07T00:00:00Z\"}}\n";

fn hup(child: &Child) {
    let sent = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits until some line of the agent's log contains `needle`.
async fn logged(log: &Arc<std::sync::Mutex<Vec<String>>>, needle: &str) -> bool {
    eventually(Duration::from_secs(20), || {
        log.lock().unwrap().iter().any(|line| line.contains(needle))
    })
    .await
}

// Item 2: comments, blank lines and whitespace in a tokens file.
#[test]
fn i2_tokens_file_comments_are_not_tokens_and_odd_lines_warn_by_number() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokens"),
        "# prod token, rotated 2026-12\n\n  6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e  \nshort\nhas inner space 0123456789\n",
    )
    .unwrap();
    let path = dir.path().join("a.toml");
    std::fs::write(&path, config(dir.path(), "tokens_file = \"tokens\"", "")).unwrap();
    let (code, stderr) = check_config(dir.path(), path.to_str().unwrap(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("token 2 is shorter than 16 characters (line 4 of"),
        "{stderr}"
    );
    assert!(stderr.contains("shorter than 16"), "{stderr}");
    assert!(
        stderr.contains("token 3 holds whitespace (line 5 of"),
        "{stderr}"
    );
    assert!(stderr.contains("whitespace"), "{stderr}");
    for secret in ["short\n", "inner space", "6f1c0d9e", "prod token"] {
        assert!(!stderr.contains(secret), "{secret} shown: {stderr}");
    }
    // A file of comments only holds no token.
    std::fs::write(dir.path().join("tokens"), "# nothing yet\n\n").unwrap();
    let (code, stderr) = check_config(dir.path(), path.to_str().unwrap(), &[]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("holds no token"), "{stderr}");
}

/// Whether this process may run the agent as `nobody` (tests run as root).
fn can_drop_privileges() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n");
    let setpriv = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "true",
        ])
        .status()
        .is_ok_and(|status| status.success());
    root && setpriv
}

fn chown(owner: &str, path: &Path) {
    assert!(Command::new("chown")
        .arg(owner)
        .arg(path)
        .status()
        .unwrap()
        .success());
}

// Item 3 (and 2 over the wire): the packaged setup's rotation. The agent
// runs as the unit runs it: an unprivileged user and group reading the
// tokens file where it lies (root:<group> 0640, an absolute path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_reload_rotates_a_tokens_file_read_where_it_lies_as_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    if !can_drop_privileges() {
        skipped("i3 rotation as the service user: needs root and setpriv");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tokens = dir.path().join("webhook-tokens");
    let old = "old-token-0123456789abcdef";
    let new = "new-token-0123456789abcdef";
    std::fs::write(&tokens, format!("# prod token, rotated 2026-12\n{old}\n")).unwrap();
    chown("root:nogroup", &tokens);
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o640)).unwrap();
    for state in ["spool", "out"] {
        std::fs::create_dir(dir.path().join(state)).unwrap();
        chown("nobody:nogroup", &dir.path().join(state));
    }
    let path = dir.path().join("auth0-ingest.toml");
    let webhook = format!("tokens_file = \"{}\"", tokens.display());
    std::fs::write(&path, config(dir.path(), &webhook, "")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", BIN])
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("CREDENTIALS_DIRECTORY");
    let mut agent = Agent::spawn_command(command, Stdio::piped());
    let url = agent.webhook_url();
    assert_eq!(status(&url, old, EVENT).await, 200);
    assert_eq!(
        status(&url, "# prod token, rotated 2026-12", EVENT).await,
        401
    );
    assert_eq!(status(&url, new, EVENT).await, 401);

    // The README's rotation: the new token in, reload, the old one out.
    std::fs::write(&tokens, format!("# rotated\n{old}\n{new}\n")).unwrap();
    hup(&agent.child);
    let mut accepted = false;
    for _ in 0..100 {
        if status(&url, new, EVENT).await == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "the new token was not accepted after SIGHUP");
    std::fs::write(&tokens, format!("{new}\n")).unwrap();
    hup(&agent.child);
    let mut refused = false;
    for _ in 0..100 {
        if status(&url, old, EVENT).await == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the removed token still got in after SIGHUP");
    assert_eq!(status(&url, new, EVENT).await, 200);

    // An edit that changes no token says so.
    std::fs::write(&tokens, format!("# only a comment changed\n{new}\n")).unwrap();
    hup(&agent.child);
    assert!(
        logged(&agent.log, "changed on disk but its tokens did not").await,
        "{:?}",
        agent.log.lock().unwrap()
    );
    assert!(!agent
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.contains(new)));
}

// Item 3: tokens read from systemd's credentials directory (a copy made
// at start) cannot rotate by reload, and a reload says so at warn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_a_reload_from_the_credentials_directory_warns() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(
        credentials.join("webhook-tokens"),
        "cred-token-0123456789abcdef\n",
    )
    .unwrap();
    let path = dir.path().join("auth0-ingest.toml");
    std::fs::write(
        &path,
        config(dir.path(), "tokens_file = \"webhook-tokens\"", ""),
    )
    .unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["run", "--config"])
        .arg(&path)
        .env("CREDENTIALS_DIRECTORY", &credentials);
    let mut agent = Agent::spawn_command(command, Stdio::piped());
    let url = agent.webhook_url();
    assert_eq!(
        status(&url, "cred-token-0123456789abcdef", EVENT).await,
        200
    );
    hup(&agent.child);
    assert!(
        logged(
            &agent.log,
            "CREDENTIALS_DIRECTORY, a copy systemd made at start"
        )
        .await,
        "{:?}",
        agent.log.lock().unwrap()
    );
    let log = agent.log.lock().unwrap();
    assert!(log
        .iter()
        .any(|line| line.contains("CREDENTIALS_DIRECTORY") && line.contains("WARN")));
}

// Item 5: log filters that would silence the agent.
#[test]
fn i5_log_filters_take_the_hyphenated_name_and_never_silence_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, level: &str| {
        let path = dir.path().join(name);
        let text = config(
            dir.path(),
            "tokens = [\"6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e\"]",
            "",
        )
        .replace(
            "format = \"json\"",
            &format!("format = \"json\"\nlevel = \"{level}\""),
        );
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let hyphen = write("hyphen.toml", "auth0-ingest=debug");
    let (code, stderr) = check_config(dir.path(), &hyphen, &[]);
    assert_eq!(code, 0, "{stderr}");
    for (level, needle) in [
        ("off", "`log.level`"),
        ("auth0-ingest=off", "`log.level`"),
        ("hyper=warn", "`log.level`"),
    ] {
        let path = write("bad.toml", level);
        let (code, stderr) = check_config(dir.path(), &path, &[]);
        assert_eq!(code, 78, "{level}: {stderr}");
        assert!(stderr.contains(needle), "{level}: {stderr}");
        assert!(stderr.contains("errors"), "{level}: {stderr}");
    }
    let (code, stderr) = check_config(dir.path(), &hyphen, &[("RUST_LOG", "verbose")]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("`RUST_LOG`"), "{stderr}");
    assert!(stderr.contains("names no level"), "{stderr}");
    // At start too: exit 78 before anything is opened.
    let output = Command::new(BIN)
        .args(["run", "--config", &hyphen])
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("RUST_LOG"));
    assert!(std::fs::metadata(dir.path().join("spool")).is_err());
}

// Item 6: a config named without a directory part, relative dirs not yet
// created.
#[test]
fn i6_check_config_of_a_bare_file_name_with_relative_dirs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("short.toml"),
        "[webhook]\ntokens = [\"6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e\"]\n[spool]\ndir = \"spool\"\n\
         [output.file]\ndir = \"out/files\"\n[enrich]\nuser_agent = \"woothee\"\ngeoip_city = \"\"\ngeoip_asn = \"\"\n",
    )
    .unwrap();
    let (code, stderr) = check_config(dir.path(), "short.toml", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::metadata(dir.path().join("spool")).is_err());
    // A real failure gives its reason.
    std::fs::write(dir.path().join("spool"), "a file").unwrap();
    let (code, stderr) = check_config(dir.path(), "short.toml", &[]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

// Item 7: the generated man pages name only pages that are generated
// (installed), and the README's metrics rows are in its metrics table.
#[test]
fn i7_man_pages_name_no_missing_page_and_metrics_rows_sit_in_their_table() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(BIN)
        .args(["generate-assets", "--out-dir"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    // Every generated page, nested commands' included (`assets kibana`):
    // each page it names is generated, and none is a `help` page.
    let mut named = 0;
    let mut pages = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "1") {
            continue;
        }
        pages += 1;
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(
            !page.contains("\\-help(1)"),
            "{} names a help page",
            path.display()
        );
        for piece in page.split("auth0\\-ingest\\-").skip(1) {
            let Some((name, _)) = piece.split_once("(1)") else {
                continue;
            };
            let file = format!("auth0-ingest-{}.1", name.replace("\\-", "-"));
            assert!(
                std::fs::metadata(dir.path().join(&file)).is_ok(),
                "{file} is named by {}, not generated",
                path.display()
            );
            named += 1;
        }
    }
    assert!(pages >= 8 && named >= 7, "{pages} pages naming {named}");
    assert!(std::fs::metadata(dir.path().join("auth0-ingest-assets-kibana.1")).is_ok());

    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let metrics = readme.split("\n## Metrics").nth(1).unwrap();
    let (section, rest) = metrics.split_once("\n## ").unwrap();
    assert!(
        !rest.contains("| `auth0_ingest_"),
        "a metric row outside ## Metrics"
    );
    assert!(section.contains("auth0_ingest_datadog_truncated_total"));
    assert!(readme.contains("`contrib`"));
    let cargo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for doc in ["ARCHITECTURE.md", "fields/README.md"] {
        assert!(readme.contains(doc));
        assert!(
            cargo.contains(&format!("[\"{doc}\"")),
            "{doc} is not shipped"
        );
    }
}

// Item 8: sizes as nginx reads them; ambiguous ones refused with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i8_sizes_are_binary_like_nginx_and_decimal_units_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = "6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e";
    let write = |size: &str| {
        let path = dir.path().join("size.toml");
        let webhook = format!("tokens = [\"{token}\"]\nmax_body_bytes = \"{size}\"");
        std::fs::write(&path, config(dir.path(), &webhook, "")).unwrap();
        path
    };
    for size in ["16MB", "16mb", "1GB"] {
        let path = write(size);
        let (code, stderr) = check_config(dir.path(), path.to_str().unwrap(), &[]);
        assert_eq!(code, 78, "{size}: {stderr}");
        assert!(stderr.contains("webhook.max_body_bytes"), "{stderr}");
        assert!(stderr.contains("ambiguous"), "{stderr}");
        assert!(stderr.contains("nginx's spelling, binary"), "{stderr}");
    }
    // The shipped example parses (sizes included).
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/auth0-ingest.toml");
    let parsed = auth0_ingest::config::parse::table(&std::fs::read_to_string(example).unwrap())
        .map(auth0_ingest::config::parse::deserialize::<auth0_ingest::config::raw::RawConfig>)
        .unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    // `1k` is 1024 bytes, as nginx's `client_max_body_size 1k`: a body of
    // 1,010 bytes gets in (10^3 would refuse it), one of 1,100 does not.
    let path = write("1k");
    let mut agent = Agent::spawn(&path, Stdio::piped());
    let url = agent.webhook_url();
    let fits: &'static str = Box::leak(format!("{:<1009}\n", EVENT.trim_end()).into_boxed_str());
    assert_eq!(fits.len(), 1010);
    assert_eq!(status(&url, token, fits).await, 200);
    let over: &'static str = Box::leak(format!("{:<1099}\n", EVENT.trim_end()).into_boxed_str());
    assert_eq!(status(&url, token, over).await, 413);
}

// Item 10: an object that is not an Auth0 event is dead-lettered at stage
// `input` and counted; the rest of the batch is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i10_an_object_without_auth0_keys_is_dead_lettered_at_input() {
    let dir = tempfile::tempdir().unwrap();
    let token = "6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e";
    let path = dir.path().join("a.toml");
    let webhook = format!("tokens = [\"{token}\"]");
    std::fs::write(&path, config(dir.path(), &webhook, "")).unwrap();
    let mut agent = Agent::spawn(&path, Stdio::piped());
    let url = agent.webhook_url();
    let body: &'static str = Box::leak(format!("{{\"foo\":1}}\n{EVENT}").into_boxed_str());
    let response = reqwest::Client::new()
        .post(&url)
        .header("Authorization", token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert_eq!(answer["rejected"], 1, "{answer}");
    let dead = std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap();
    let line: serde_json::Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(line["stage"], "input", "{line}");
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("not an Auth0 event"),
        "{line}"
    );
    assert_eq!(line["raw"], "{\"foo\":1}");
    let admin = agent.admin_url.clone().unwrap();
    let metrics = reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("auth0_ingest_events_dead_lettered_total{stage=\"input\"} 1"),
        "{metrics}"
    );
}

/// `auth0-ingest run --config <path>` until it exits by itself (20 s at
/// most): its exit code and stderr.
fn run_to_exit(path: &Path) -> (i32, String) {
    let agent = Agent::spawn(path, Stdio::piped());
    let output = agent.child_output(Duration::from_secs(20));
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code().unwrap_or(-1), stderr)
}

// Item 1: no token is a config error unless opted out on loopback; a public
// plain-HTTP listener needs its proxy declared or an explicit key.
#[test]
fn i1_no_token_and_public_plaintext_listeners_are_config_errors_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let token = "6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e";
    let path = dir.path().join("a.toml");
    let public = |text: String| text.replacen("127.0.0.1:0", "0.0.0.0:0", 1);
    let cases: [(String, i32, &[&str]); 7] = [
        (
            config(dir.path(), "", ""),
            78,
            &[
                "webhook.tokens",
                "webhook.tokens_file",
                "webhook.allow_unauthenticated = true",
            ],
        ),
        (
            config(dir.path(), "tokens = []", ""),
            78,
            &["webhook.tokens"],
        ),
        (
            config(dir.path(), "allow_unauthenticated = true", ""),
            0,
            &[],
        ),
        (
            public(config(
                dir.path(),
                "allow_unauthenticated = true\nallow_plaintext = true",
                "",
            )),
            78,
            &[
                "webhook.allow_unauthenticated",
                "non-loopback",
                "webhook.tokens_file",
            ],
        ),
        (
            public(config(dir.path(), &format!("tokens = [\"{token}\"]"), "")),
            78,
            &[
                "webhook.listen",
                "[webhook.tls]",
                "webhook.trusted_proxies",
                "webhook.allow_plaintext = true",
            ],
        ),
        (
            public(config(
                dir.path(),
                &format!("tokens = [\"{token}\"]\nallow_plaintext = true"),
                "",
            )),
            0,
            &[],
        ),
        (
            public(config(
                dir.path(),
                &format!("tokens = [\"{token}\"]\ntrusted_proxies = [\"10.0.0.1\"]"),
                "",
            )),
            0,
            &[],
        ),
    ];
    for (text, expected, needles) in cases {
        std::fs::write(&path, &text).unwrap();
        let (code, stderr) = check_config(dir.path(), path.to_str().unwrap(), &[]);
        assert_eq!(code, expected, "{text}\n{stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{needle} missing: {stderr}");
        }
        assert!(!stderr.contains(token), "token shown: {stderr}");
    }
    // `run` refuses the same file with the same exit code, before listening.
    std::fs::write(&path, config(dir.path(), "", "")).unwrap();
    let (code, stderr) = run_to_exit(&path);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("webhook.allow_unauthenticated"), "{stderr}");
    // And an unauthenticated loopback webhook, opted into, runs.
    std::fs::write(
        &path,
        config(dir.path(), "allow_unauthenticated = true", ""),
    )
    .unwrap();
    let mut agent = Agent::spawn(&path, Stdio::piped());
    agent.webhook_url();
}

/// `GET <admin>/status` as JSON.
async fn status_json(admin: &str) -> serde_json::Value {
    reqwest::get(format!("{admin}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `GET <admin>/metrics` as text.
async fn metrics_text(admin: &str) -> String {
    reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

// Item 4: an unreachable Elasticsearch makes `/status` degraded and
// `output_up` 0 before any event, and the idle probe sees it come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i4_an_unreachable_store_is_degraded_before_any_event_and_ok_once_back() {
    let fake = crate::support::fake_es::FakeEs::start().await;
    fake.down();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    let extra = format!(
        "[output.elasticsearch]\nhosts = [\"{}\"]\nflush_interval = \"20ms\"\n",
        fake.url()
    );
    std::fs::write(
        &path,
        config(
            dir.path(),
            "tokens = [\"6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e\"]",
            &extra,
        ),
    )
    .unwrap();
    let mut agent = Agent::spawn(&path, Stdio::piped());
    agent.webhook_url();
    let admin = agent.admin_url.clone().unwrap();
    let mut last = serde_json::Value::Null;
    let degraded = crate::support::eventually_async(Duration::from_secs(20), async || {
        last = status_json(&admin).await;
        last["status"] == "degraded"
    })
    .await;
    assert!(degraded, "{last}");
    let reasons = last["reasons"].to_string();
    assert!(
        reasons.contains("output elasticsearch is unreachable"),
        "{last}"
    );
    assert_eq!(
        last["outputs"]["elasticsearch"]["reachable"], false,
        "{last}"
    );
    assert_eq!(last["inputs"]["webhook"]["requests"]["ok"], 0, "{last}");
    let metrics = metrics_text(&admin).await;
    assert!(
        metrics.contains("auth0_ingest_output_up{output=\"elasticsearch\"} 0"),
        "{metrics}"
    );
    // /readyz is about taking events: the spool takes them (see status.rs).
    let ready = reqwest::get(format!("{admin}/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    fake.up().await;
    let ok = crate::support::eventually_async(Duration::from_secs(50), async || {
        last = status_json(&admin).await;
        last["status"] == "ok"
    })
    .await;
    assert!(ok, "{last}");
    assert_eq!(
        last["outputs"]["elasticsearch"]["reachable"], true,
        "{last}"
    );
    let metrics = metrics_text(&admin).await;
    assert!(
        metrics.contains("auth0_ingest_output_up{output=\"elasticsearch\"} 1"),
        "{metrics}"
    );
    assert_eq!(fake.state.lock().unwrap().bulk_requests, 0);
}

// Item 9: a spool directory that cannot be created exits 73, which the
// unit does not restart and `run --help` lists.
#[test]
fn i9_an_uncreatable_spool_directory_exits_73_listed_in_help_and_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), "a file, not a directory\n").unwrap();
    let path = dir.path().join("a.toml");
    let text = config(
        dir.path(),
        "tokens = [\"6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e\"]",
        "",
    )
    .replace(
        &format!("{}", dir.path().join("spool").display()),
        &format!("{}", dir.path().join("blocker/spool").display()),
    );
    std::fs::write(&path, text).unwrap();
    let (code, stderr) = run_to_exit(&path);
    assert_eq!(code, 73, "{stderr}");
    let help = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("  73  the spool directory"), "{help}");
    assert!(help.contains("RestartPreventExitStatus=73"), "{help}");
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/auth0-ingest.service"),
    )
    .unwrap();
    let prevent = unit
        .lines()
        .find(|line| line.starts_with("RestartPreventExitStatus="))
        .unwrap();
    assert!(
        prevent.split(['=', ' ']).any(|code| code == "73"),
        "{prevent}"
    );
    assert!(
        prevent.split(['=', ' ']).any(|code| code == "78"),
        "{prevent}"
    );
}

// Item 9: a stop that leaves a backlog says how much stays spooled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i9_a_stop_with_a_backlog_logs_what_stays_spooled() {
    let fake = crate::support::fake_es::FakeEs::start().await;
    fake.down();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    let token = "6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e";
    let extra = format!("[output.elasticsearch]\nhosts = [\"{}\"]\n", fake.url());
    std::fs::write(
        &path,
        config(dir.path(), &format!("tokens = [\"{token}\"]"), &extra),
    )
    .unwrap();
    let mut agent = Agent::spawn(&path, Stdio::piped());
    let url = agent.webhook_url();
    assert_eq!(status(&url, token, EVENT).await, 200);
    // Stop once the output has tried and failed: the agent is past its
    // start-up (its SIGTERM handler is in place) and the event is waiting.
    let admin = agent.admin_url.clone().unwrap();
    let mut last = serde_json::Value::Null;
    let waiting = crate::support::eventually_async(Duration::from_secs(20), async || {
        last = status_json(&admin).await;
        last["spool"]["backlog_events"] == 1
            && last["outputs"]["elasticsearch"]["consecutive_failures"].as_u64() >= Some(1)
    })
    .await;
    assert!(waiting, "{last}");
    let log = Arc::clone(&agent.log);
    let exit = agent.terminate();
    assert!(exit.success(), "{exit:?}");
    assert!(
        logged(
            &log,
            "stopped; 1 events left in the spool, delivered at next start"
        )
        .await,
        "{:?}",
        log.lock().unwrap()
    );
}

// Item 11: `/status` and the `status` command name the agent: config
// file, pid and version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i11_status_names_the_agent_s_config_pid_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    // The default admin address when it is free (then `status` runs
    // without `--config`, as the issue describes), else an ephemeral one.
    let default_free = std::net::TcpListener::bind("127.0.0.1:8384").is_ok();
    let admin_listen = if default_free {
        "127.0.0.1:8384".to_owned()
    } else {
        crate::support::free_port().to_string()
    };
    let text = config(
        dir.path(),
        "tokens = [\"6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e\"]",
        "",
    )
    .replace(
        "[admin]\nlisten = \"127.0.0.1:0\"",
        &format!("[admin]\nlisten = \"{admin_listen}\""),
    );
    std::fs::write(&path, text).unwrap();
    let mut agent = Agent::spawn(&path, Stdio::piped());
    agent.webhook_url();
    let admin = agent.admin_url.clone().unwrap();
    let pid = agent.child.id();
    let document = status_json(&admin).await;
    assert_eq!(document["pid"], pid, "{document}");
    assert_eq!(document["config"], path.display().to_string(), "{document}");
    assert_eq!(document["version"], env!("CARGO_PKG_VERSION"), "{document}");
    let mut command = Command::new(BIN);
    command.arg("status");
    if !default_free {
        command.arg("--config").arg(&path);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with(&format!("auth0-ingest {}: ", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "agent:        pid {pid}, config {}\n",
            path.display()
        )),
        "{stdout}"
    );
}
