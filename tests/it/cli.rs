//! The command line: `check-config` on the shipped example and on bad files.

use std::process::Command;

fn check_config(path: &std::path::Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(["check-config", "--config"])
        .arg(path)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn shipped_example_config_passes_check_config() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/auth0-ingest.toml");
    let (code, stdout, stderr) = check_config(&example);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with(": ok\n"));
}

#[test]
fn bad_config_exits_78_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[webhook]\nlisten = \"localhost\"\nmax_body_bytes = \"12 parsecs\"\n",
    )
    .unwrap();
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 78);
    assert!(stderr.contains("max_body_bytes"), "{stderr}");

    std::fs::write(
        &path,
        "[webhook]\nlisten = \"localhost\"\ntokens_file = \"missing\"\n[webhook.tls]\ncert = \"nope.pem\"\nkey = \"nope.key\"\n[spool]\ndir = \"s\"\n",
    )
    .unwrap();
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 78);
    for key in [
        "`webhook.listen`",
        "`webhook.tokens_file`",
        "`webhook.tls`",
        "`output`",
    ] {
        assert!(stderr.contains(key), "{key} missing from: {stderr}");
    }
    let (code, _, stderr) = check_config(&dir.path().join("absent.toml"));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}
