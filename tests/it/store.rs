//! Storage and process safety (issue 8, part B), through the built binary:
//! one agent per spool, private file modes, bounded dead letters, a full
//! disk as back-pressure.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::support::{self, Agent, TOKEN};

/// A config for the built binary in `dir` with a JSON log (for the URL).
fn agent_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let tls = support::tls_files(dir);
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        support::config_text(dir, &tls, &format!("[log]\nformat = \"json\"\n{extra}")),
    )
    .unwrap();
    config
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> reqwest::Response {
    client
        .post(url)
        .header("Authorization", TOKEN)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn client(dir: &Path) -> reqwest::Client {
    support::client(&std::fs::read_to_string(dir.join("cert.pem")).unwrap())
}

/// The segment files of `spool` (name, inode), sorted.
fn segments(spool: &Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut segments: Vec<_> = std::fs::read_dir(spool)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".seg"))
        .map(|entry| {
            let inode = entry.metadata().unwrap().ino();
            (entry.file_name().to_string_lossy().into_owned(), inode)
        })
        .collect();
    segments.sort();
    segments
}

/// Issue 8, row "two agents on the same spool.dir both run".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r8_second_agent_on_the_same_spool_exits_75_and_the_first_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let mut first = Agent::spawn(&config, Stdio::piped());
    let url = first.webhook_url();
    let client = client(dir.path());
    let response = post(&client, &url, support::batch(0, 100)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let spool = dir.path().join("spool");
    let before = segments(&spool);

    let started = Instant::now();
    let second = Agent::spawn(&config, Stdio::piped());
    let output = second.child_output(Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        stderr.contains(&spool.display().to_string())
            && stderr.contains(&format!("pid {}", first.child.id())),
        "the message names the directory and the holder: {stderr}"
    );
    assert_eq!(
        before,
        segments(&spool),
        "the second agent created or deleted a segment"
    );

    // The first keeps running and loses nothing.
    let response = post(&client, &url, support::batch(100, 100)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let out = dir.path().join("out");
    assert!(
        support::eventually(Duration::from_secs(20), || support::documents(&out).len()
            == 200)
        .await,
        "documents missing"
    );
    assert!(first.terminate().success());
}

/// Issue 8, row "files are created 0644": everything is owner-only even
/// under umask 000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r8_files_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let mut agent = Agent::spawn_with_umask(&config, Stdio::piped(), "000");
    let url = agent.webhook_url();
    let client = client(dir.path());
    let body = format!("{}\nnot json\n", support::batch(0, 10));
    assert_eq!(post(&client, &url, body).await.status(), StatusCode::OK);
    let out = dir.path().join("out");
    assert!(
        support::eventually(Duration::from_secs(20), || support::documents(&out).len()
            == 10)
        .await
    );
    assert!(agent.terminate().success());

    let spool = dir.path().join("spool");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&spool), 0o700, "spool dir");
    assert_eq!(mode(&out), 0o700, "output dir");
    let mut checked = Vec::new();
    for directory in [&spool, &out] {
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for expected in ["lock", "acked", "dead-letter.ndjson"] {
        assert!(checked.iter().any(|name| name == expected), "{checked:?}");
    }
    assert!(checked.iter().any(|name| name.ends_with(".seg")));
    assert!(checked.iter().any(|name| name.starts_with("auth0-logs-")));
}
