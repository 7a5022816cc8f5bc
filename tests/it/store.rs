//! Storage and process safety (issue 8, part B), through the built binary:
//! one agent per spool, private file modes, bounded dead letters, a full
//! disk as back-pressure; the spool's format version (issue 16).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

fn client(dir: &Path) -> reqwest::Client {
    support::client(&std::fs::read_to_string(dir.join("cert.pem")).unwrap())
}

/// The built binary on `config` (under `umask` if given), its webhook URL,
/// and a client trusting the certificate in `dir`.
fn launch(dir: &Path, config: &Path, umask: Option<&str>) -> (Agent, String, reqwest::Client) {
    let mut agent = match umask {
        Some(umask) => Agent::spawn_with_umask(config, Stdio::piped(), umask),
        None => Agent::spawn(config, Stdio::piped()),
    };
    let url = agent.webhook_url();
    (agent, url, client(dir))
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
    let (first, url, client) = launch(dir.path(), &config, None);
    let response = support::post(&client, &url, support::batch(0, 100)).await;
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
    let response = support::post(&client, &url, support::batch(100, 100)).await;
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
    let (agent, url, client) = launch(dir.path(), &config, Some("000"));
    let body = format!("{}\nnot json\n", support::batch(0, 10));
    assert_eq!(
        support::post(&client, &url, body).await.status(),
        StatusCode::OK
    );
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

/// A tmpfs of `size` mounted on a directory for the life of the value
/// (CI runs as root); `None`, saying why, where mounting is not permitted.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status();
        match mounted {
            Ok(status) if status.success() => Some(Tmpfs {
                path: path.to_owned(),
            }),
            _ => {
                support::skipped("cannot mount a tmpfs here (needs root)");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the agent may still hold a file when a test fails.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Posts `support::batch` bodies of `events` events from `posters` tasks
/// until `stop`; returns the first log numbers of the acknowledged ones
/// and every status seen (with whether a 503 carried `Retry-After`).
async fn flood(
    client: &reqwest::Client,
    url: &str,
    posters: usize,
    events: usize,
    first: usize,
    until: Instant,
) -> (Vec<usize>, Vec<(u16, bool)>) {
    let mut tasks = Vec::new();
    for poster in 0..posters {
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut acknowledged, mut statuses) = (Vec::new(), Vec::new());
            let mut round = 0;
            while Instant::now() < until {
                let start = first + (poster * 1_000_000 + round) * events;
                round += 1;
                let response = support::post(&client, &url, support::batch(start, events)).await;
                let status = response.status();
                let retry_after = response.headers().contains_key("retry-after");
                statuses.push((status.as_u16(), retry_after));
                if status == StatusCode::OK {
                    acknowledged.push(start);
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            (acknowledged, statuses)
        }));
    }
    let (mut acknowledged, mut statuses) = (Vec::new(), Vec::new());
    for task in tasks {
        let (acked, seen) = task.await.unwrap();
        acknowledged.extend(acked);
        statuses.extend(seen);
    }
    (acknowledged, statuses)
}

/// A counter's value from the admin listener's `/metrics` (`admin` is its
/// base URL).
async fn metric(client: &reqwest::Client, admin: &str, series: &str) -> u64 {
    let text = client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from {text}"))
}

/// Issue 8, row "spool disk full": a 20 MiB tmpfs flooded answers only 200
/// or 503 with `Retry-After`, frees delivered segments by itself, accepts
/// again within 10 s of space coming back, keeps every acknowledged event
/// and its counters right, and warns once a minute, not per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r8_full_disk_is_503_with_retry_after_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tmpfs) = Tmpfs::mount(&dir.path().join("spool"), "20m") else {
        return;
    };
    let config = agent_config(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[webhook]\n",
        "[webhook]\nretry_after = \"1s\"\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let (agent, url, client) = launch(dir.path(), &config, None);
    let admin = agent
        .admin_url
        .clone()
        .expect("the admin listener's address");

    // 1. A flood: the 128 MiB segment outgrows the 20 MiB disk again and
    // again; each time the agent must free the delivered part by itself.
    let flood_seconds = 8;
    let until = Instant::now() + Duration::from_secs(flood_seconds);
    let (mut acknowledged, statuses) = flood(&client, &url, 4, 100, 0, until).await;
    let ok = statuses.iter().filter(|(status, _)| *status == 200).count();
    let unavailable = statuses.iter().filter(|(status, _)| *status == 503).count();
    assert!(
        statuses
            .iter()
            .all(|&(status, retry_after)| status == 200 || (status == 503 && retry_after)),
        "only 200 or 503 with Retry-After: {:?}",
        statuses
            .iter()
            .filter(|(status, _)| *status != 200 && *status != 503)
            .take(5)
            .collect::<Vec<_>>()
    );
    eprintln!("flood: {ok} x 200, {unavailable} x 503 in {flood_seconds} s");
    assert!(
        ok * 100 * 1500 > 40 << 20,
        "the flood should pass the disk's size twice: {ok} batches"
    );

    // 2. Every acknowledged event is written, and the counters agree.
    let out = dir.path().join("out");
    let drained = |acknowledged: &[usize]| {
        let expected: std::collections::BTreeSet<String> = acknowledged
            .iter()
            .flat_map(|first| (*first..first + 100).map(support::log_id))
            .collect();
        let (client, admin, out) = (client.clone(), admin.clone(), out.clone());
        async move {
            let all_written = support::eventually(Duration::from_secs(60), || {
                let written: std::collections::BTreeSet<String> = support::documents(&out)
                    .iter()
                    .map(|document| document["event"]["id"].as_str().unwrap().to_owned())
                    .collect();
                expected.is_subset(&written)
            })
            .await;
            assert!(all_written, "an acknowledged event is missing");
            let received = metric(
                &client,
                &admin,
                "auth0_ingest_events_received_total{input=\"webhook\"}",
            )
            .await;
            let mut acked = 0;
            support::eventually_async(Duration::from_secs(20), async || {
                acked = metric(&client, &admin, "auth0_ingest_spool_acked_total").await;
                acked == received
            })
            .await;
            assert_eq!(
                acked, received,
                "spool_acked_total disagrees with events received"
            );
        }
    };
    drained(&acknowledged).await;

    // 3. The disk is filled by someone else: 503, then space comes back.
    let ballast = tmpfs.path.join("ballast");
    {
        let mut file = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    }
    let response = support::post(&client, &url, support::batch(50_000_000, 100)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    std::fs::remove_file(&ballast).unwrap();
    support::wait_until_async(
        Duration::from_secs(10),
        "the agent accepting again after space came back",
        async || {
            let response = support::post(&client, &url, support::batch(60_000_000, 100)).await;
            response.status() == StatusCode::OK
        },
    )
    .await;
    acknowledged.push(60_000_000);
    drained(&acknowledged).await;
    let log = agent.log.lock().unwrap().clone();
    let warnings = log
        .iter()
        .filter(|line| line.contains("spool disk full"))
        .count();
    assert!(
        (1..=1).contains(&warnings),
        "one disk-full warning a minute, not one per request: {warnings}"
    );
    assert!(
        !log.iter().any(|line| line.contains("\"level\":\"ERROR\"")),
        "{:?}",
        log.iter()
            .filter(|line| line.contains("ERROR"))
            .take(3)
            .collect::<Vec<_>>()
    );
    assert!(agent.terminate().success());
    drop(tmpfs);
}

/// The dead-letter lines of every file in `spool`.
fn dead_letters(spool: &Path) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(spool).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("dead-letter.ndjson")
        {
            lines.extend(support::ndjson_lines(&path));
        }
    }
    lines
}

/// Items the dead-letter `lines` stand for: one each, or a whole body's count.
fn dead_lettered_items(lines: &[serde_json::Value]) -> u64 {
    lines
        .iter()
        .map(|line| line["rejected"].as_u64().unwrap_or(1))
        .sum()
}

/// Issue 8, row "rejected lines amplify": dead letters count against
/// `spool.max_bytes` (503 + `Retry-After`, logged, when used up), rotate
/// to numbered files, are never deleted, and moving rotated files away
/// frees the budget without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r8_dead_letters_rotate_count_against_max_bytes_and_a_full_budget_is_503() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[spool]\n",
        "[spool]\nmax_bytes = \"1MiB\"\ndead_letter_max_file_bytes = \"256KiB\"\n",
        1,
    );
    std::fs::write(
        &config,
        text.replacen("[webhook]\n", "[webhook]\nretry_after = \"1s\"\n", 1),
    )
    .unwrap();
    let (agent, url, client) = launch(dir.path(), &config, None);
    // 300 bad lines of 300 bytes and one event: ~90 KB, whose 300 single
    // entries would cost more than the body, so it is kept whole.
    let bad_line = format!("{{bad {}", "x".repeat(300));
    let body = |n: usize| {
        format!(
            "{}\n{}",
            vec![bad_line.as_str(); 300].join("\n"),
            support::event(&support::log_id(n))
        )
    };
    let mut accepted = 0u64;
    let mut refused = None;
    for n in 0..40 {
        let response = support::post(&client, &url, body(n)).await;
        match response.status() {
            StatusCode::OK => accepted += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(response);
                break;
            }
            status => panic!("unexpected {status}"),
        }
    }
    let refused = refused.expect("the dead letters never filled the 1 MiB budget");
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        (8..=12).contains(&accepted),
        "{accepted} bodies of ~90 KB before 1 MiB"
    );
    let spool = dir.path().join("spool");
    let lines = dead_letters(&spool);
    assert_eq!(lines.len() as u64, accepted, "one entry per body");
    assert_eq!(
        dead_lettered_items(&lines),
        accepted * 300,
        "nothing dropped"
    );
    assert!(spool.join("dead-letter.ndjson.1").is_file(), "rotated");
    assert!(
        support::eventually(Duration::from_secs(5), || agent
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("spool budget used up")))
        .await
    );

    // Moving the rotated files away frees the budget, without a restart.
    let kept = dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    for entry in std::fs::read_dir(&spool).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("dead-letter.ndjson.") {
            std::fs::rename(&path, kept.join(name)).unwrap();
        }
    }
    support::wait_until_async(
        Duration::from_secs(10),
        "the agent accepting again after the files were moved",
        async || support::post(&client, &url, body(1000)).await.status() == StatusCode::OK,
    )
    .await;
    assert!(agent.terminate().success());
}

/// Issue 8, acceptance "one 16 KB gzip body of 8 M bad lines" at a CI
/// scale (the release measurement is bench/hardening-store.sh): a gzip
/// body of a million bad lines becomes one dead-letter entry no larger
/// than the body, and its count is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r8_a_gzip_body_of_a_million_bad_lines_is_one_entry_no_larger_than_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let (agent, url, client) = launch(dir.path(), &config, None);
    let lines = 1_000_000;
    let body = "x\n".repeat(lines);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, body.as_bytes()).unwrap();
    let gzip = encoder.finish().unwrap();
    let response = client
        .post(&url)
        .header("Authorization", TOKEN)
        .header("Content-Encoding", "gzip")
        .body(gzip)
        .send()
        .await
        .unwrap();
    // No event in it: 400, but every item is kept.
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["rejected"], lines);
    let spool = dir.path().join("spool");
    let entries = dead_letters(&spool);
    assert_eq!(entries.len(), 1);
    assert_eq!(dead_lettered_items(&entries), lines as u64);
    let bytes = std::fs::metadata(spool.join("dead-letter.ndjson"))
        .unwrap()
        .len();
    assert!(
        bytes <= body.len() as u64,
        "{bytes} bytes of dead letter for a {} byte body",
        body.len()
    );
    assert!(agent.terminate().success());
}

/// Segment files of `spool` with their bytes, sorted by name.
fn segment_bytes(spool: &Path) -> Vec<(String, Vec<u8>)> {
    segments(spool)
        .into_iter()
        .map(|(name, _)| {
            let bytes = std::fs::read(spool.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Spools events `0..count` in `spool` through the library, as an agent
/// that crashed before delivering them would have left them.
async fn spool_events(spool: &Path, count: usize) {
    use auth0_ingest::event::Input;
    use auth0_ingest::spool;
    let opened = spool::open(&spool::Config {
        dir: spool.to_owned(),
        max_bytes: 1 << 30,
        dead_letter_max_file_bytes: spool::dead_letter::DEFAULT_MAX_FILE_BYTES,
    })
    .unwrap();
    let mut append = spool::Append::new();
    for n in 0..count {
        let event = support::event(&support::log_id(n));
        append.push(
            Input::Webhook,
            time::OffsetDateTime::now_utc(),
            event.as_bytes(),
        );
    }
    opened.writer.append(append).await.unwrap();
    drop(opened.writer);
    opened.writer_thread.join().unwrap();
}

/// Issue 16: a downgrade (or the next format change) must not delete
/// acknowledged events. A segment of format version 2 makes the agent exit
/// 65 naming the file and both versions, and every segment stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r16_a_segment_of_a_newer_format_version_exits_65_and_stays_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let spool = dir.path().join("spool");
    spool_events(&spool, 5).await;
    // A newer agent's segment after ours: what follows its header would be
    // a torn record to this version, so it used to be cut and removed.
    let forged = spool.join(format!("{:020}.seg", 1000));
    let mut bytes = b"A0SPOOL\x02".to_vec();
    bytes.extend_from_slice(&[0xff; 5]);
    bytes.extend_from_slice(support::event(&support::log_id(99)).as_bytes());
    std::fs::write(&forged, &bytes).unwrap();
    let before = segment_bytes(&spool);

    let output = Agent::spawn(&config, Stdio::piped()).child_output(Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains(&forged.display().to_string())
            && stderr.contains("format version 2")
            && stderr.contains("reads version 1"),
        "the message names the file and both versions: {stderr}"
    );
    assert_eq!(
        std::fs::read(&forged).unwrap(),
        bytes,
        "the forged segment changed"
    );
    assert_eq!(before, segment_bytes(&spool), "a segment changed or went");
    assert!(
        support::documents(&dir.path().join("out")).is_empty(),
        "nothing is delivered from a spool that was refused"
    );

    // Moved away, the agent starts and delivers this version's events.
    std::fs::rename(&forged, dir.path().join("forged.seg")).unwrap();
    let (agent, _url, _client) = launch(dir.path(), &config, None);
    let out = dir.path().join("out");
    assert!(
        support::eventually(Duration::from_secs(20), || support::documents(&out).len()
            == 5)
        .await,
        "documents missing"
    );
    assert!(agent.terminate().success());
}

/// Issue 16: a genuinely torn tail of this version (a record cut short by a
/// crash) is still cut at start-up, and the whole records before it are
/// delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r16_a_torn_tail_of_this_version_is_cut_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let spool = dir.path().join("spool");
    spool_events(&spool, 7).await;
    let (last, whole) = segment_bytes(&spool)
        .into_iter()
        .rfind(|(_, bytes)| bytes.len() > 8)
        .unwrap();
    // The first 40 bytes of a record again: its header and part of it.
    let mut torn = whole.clone();
    torn.extend_from_slice(&whole[8..48]);
    std::fs::write(spool.join(&last), &torn).unwrap();

    let log = dir.path().join("agent.log");
    let agent = Agent::spawn(&config, std::fs::File::create(&log).unwrap());
    let out = dir.path().join("out");
    assert!(
        support::eventually(Duration::from_secs(20), || support::documents(&out).len()
            == 7)
        .await,
        "documents missing"
    );
    assert!(agent.terminate().success());
    let log = std::fs::read_to_string(&log).unwrap();
    let cut = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| {
            line["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("torn tail")
        });
    assert_eq!(
        cut.map(|line| line["fields"]["bytes"].clone()),
        Some(serde_json::json!(40)),
        "no torn tail of 40 bytes cut: {log}"
    );
    assert!(
        !log.contains("corrupt spool record"),
        "the torn bytes were read as a record: {log}"
    );
}
