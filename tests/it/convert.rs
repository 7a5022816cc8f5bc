//! `auth0-ingest convert` as a user runs it: the binary, stdin or files,
//! enrich overrides, one document per line in input order, exit codes.

use std::process::Command;

use super::support;

/// Runs `convert` without GeoIP and with woothee (unless `args` sets
/// `--user-agent`).
fn convert(args: &[&str], stdin: &str) -> (i32, Vec<serde_json::Value>, String) {
    let user_agent: &[&str] = if args.contains(&"--user-agent") {
        &[]
    } else {
        &["--user-agent", "woothee"]
    };
    let output = support::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
            .arg("convert")
            .args(["--geoip-city", "", "--geoip-asn", ""])
            .args(user_agent)
            .args(args),
        stdin.as_bytes(),
    );
    let documents = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (
        output.status.code().unwrap_or(-1),
        documents,
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn json_array_on_stdin_becomes_ndjson_in_order() {
    let body = r#"[{"log_id":"1","data":{"date":"2024-03-08T04:30:29.321Z","type":"s","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36"}},
                   {"log_id":"2","data":{"date":"2024-03-08T04:30:30.000Z","type":"fp"}}]"#;
    let (code, documents, stderr) = convert(&[], body);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[0]["event"]["id"], "1");
    assert_eq!(documents[0]["user_agent"]["name"], "Chrome");
    assert_eq!(documents[1]["event"]["action"], "incorrect-password");
    assert_eq!(documents[1]["input"]["type"], "file");
}

#[test]
fn files_in_order_and_skipped_items_exit_1() {
    let directory = tempfile::tempdir().unwrap();
    let first = directory.path().join("a.jsonl");
    let second = directory.path().join("b.jsonl");
    std::fs::write(
        &first,
        "{\"log_id\":\"a1\",\"data\":{\"type\":\"s\"}}\nnot json\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        "{\"logs\":[{\"log_id\":\"b1\",\"data\":{\"type\":\"f\"}}]}",
    )
    .unwrap();
    let (code, documents, stderr) =
        convert(&[first.to_str().unwrap(), second.to_str().unwrap()], "");
    assert_eq!(code, 1);
    let ids: Vec<&str> = documents
        .iter()
        .map(|d| d["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert!(stderr.contains("a.jsonl: item 2: invalid JSON"), "{stderr}");
    assert!(
        stderr.contains("2 converted, 1 skipped, 0 unreadable"),
        "{stderr}"
    );
}

/// Regression (review): an unreadable file stopped the conversion; now it
/// is reported, the next file converted, and the exit code is 66
/// (`EX_NOINPUT`), even when items were skipped too.
#[test]
fn unreadable_file_is_skipped_and_exits_66() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("missing.jsonl");
    let present = directory.path().join("b.jsonl");
    std::fs::write(
        &present,
        "{\"log_id\":\"b1\",\"data\":{\"type\":\"s\"}}\nnot json\n",
    )
    .unwrap();
    let (code, documents, stderr) =
        convert(&[missing.to_str().unwrap(), present.to_str().unwrap()], "");
    assert_eq!(code, 66, "{stderr}");
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["event"]["id"], "b1");
    assert!(stderr.contains("missing.jsonl: cannot read: "), "{stderr}");
    assert!(stderr.contains("b.jsonl: item 2: invalid JSON"), "{stderr}");
    assert!(
        stderr.contains("1 converted, 1 skipped, 1 unreadable"),
        "{stderr}"
    );
}

#[test]
fn bad_user_agent_mode_is_a_usage_error() {
    let (code, documents, stderr) = convert(&["--user-agent", "fast"], "");
    assert_eq!(code, 64);
    assert!(documents.is_empty());
    assert!(stderr.contains("unknown --user-agent `fast`"), "{stderr}");
}
