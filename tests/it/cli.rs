//! The command line: `check-config` on the shipped example and on bad files,
//! and which sections each command validates (issue 10).

use std::path::Path;
use std::process::{Command, Stdio};

fn check_config(path: &Path) -> (i32, String, String) {
    command(&["check-config", "--config"], path)
}

/// Runs `auth0-ingest <args> <path>` (no stdin), returning code, stdout, stderr.
fn command(args: &[&str], path: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(args)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The shipped example, as the package installs it: beside a generated
/// token file, its state directory under `dir`.
fn installed_example(dir: &Path) -> std::path::PathBuf {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/auth0-ingest.toml"),
    )
    .unwrap();
    let path = dir.join("auth0-ingest.toml");
    std::fs::write(
        &path,
        example
            .replace(
                "/etc/auth0-ingest/webhook-tokens",
                &dir.join("webhook-tokens").display().to_string(),
            )
            .replace(
                "/var/lib/auth0-ingest",
                &dir.join("state").display().to_string(),
            ),
    )
    .unwrap();
    std::fs::write(
        dir.join("webhook-tokens"),
        "6f1c0d9e3a5b47f28c0e1d2a3b4c5d6e\n",
    )
    .unwrap();
    path
}

#[test]
fn shipped_example_config_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = check_config(&installed_example(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with(": ok\n"));
    // Checking created nothing.
    assert!(std::fs::metadata(dir.path().join("state")).is_err());
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The secrets the bad configs below hold; none may reach the output.
const SECRETS: [&str; 4] = [
    "S3CRET-token",
    "S3CRET-apikey",
    "S3CRET-pass",
    "S3CRET-client",
];

#[test]
fn r10_all_type_errors_at_once_with_key_expected_form_and_example_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[webhook]\ntokens = \"S3CRET-token\"\nmax_connections = \"lots\"\nheader_timeout = 10\n\
         listen_adress = \"S3CRET-token\"\n\
         [poller]\nclient_secret = [\"S3CRET-client\"]\nbatch_size = true\n\
         [spool]\ndir = 7\n\
         [output.elasticsearch]\nhosts = \"https://es:9200\"\napikey = \"S3CRET-apikey\"\npassword = 5\n\
         [log]\nlevel = \"verbose\"\n",
    );
    let (code, stdout, stderr) = check_config(&path);
    assert_eq!(code, 78, "{stderr}");
    assert!(stdout.is_empty());
    for key in [
        "`webhook.tokens`",
        "`webhook.max_connections`",
        "`webhook.header_timeout`",
        "`webhook.listen_adress`",
        "`poller.client_secret`",
        "`poller.batch_size`",
        "`spool.dir`",
        "`output.elasticsearch.hosts`",
        "`output.elasticsearch.apikey`",
        "`output.elasticsearch.password`",
        "`log.level`",
    ] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }
    // Expected forms with an example, the closest valid key.
    assert!(
        stderr.contains("expected a string in quotes; e.g. `header_timeout = \"10s\"`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the closest valid key is `listen`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the closest valid key is `api_key`"),
        "{stderr}"
    );
    assert!(stderr.contains("`verbose` names no level"), "{stderr}");
    for secret in SECRETS {
        assert!(!stderr.contains(secret), "{secret} leaked:\n{stderr}");
    }
    assert!(stderr.contains("\"…\""), "{stderr}");
    // Each problem once.
    assert_eq!(stderr.matches("`spool.dir`").count(), 1, "{stderr}");
}

#[test]
fn r10_syntax_errors_show_a_position_not_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[webhook]\ntokens = [\"S3CRET-token\"\n");
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 78);
    assert!(stderr.contains("line "), "{stderr}");
    assert!(!stderr.contains("S3CRET"), "{stderr}");
}

#[test]
fn r10_missing_or_unreadable_config_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    for path in [dir.path().join("absent.toml"), dir.path().to_owned()] {
        for args in [
            &["check-config", "--config"][..],
            &["run", "--config"],
            &["setup", "--dry-run", "--config"],
            &["convert", "--config"],
        ] {
            let (code, _, stderr) = command(args, &path);
            assert_eq!(code, 78, "{args:?} {stderr}");
            assert!(stderr.contains("cannot read config file"), "{stderr}");
        }
    }
}

#[test]
fn r10_placeholder_token_is_refused_and_short_tokens_warned() {
    let dir = tempfile::tempdir().unwrap();
    let path = installed_example(dir.path());
    std::fs::write(
        dir.path().join("webhook-tokens"),
        "change-me-to-the-output-of-openssl-rand-hex-32\n",
    )
    .unwrap();
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("`webhook.tokens`: token 1 is the placeholder"),
        "{stderr}"
    );
    assert!(!stderr.contains("change-me-to"), "{stderr}");
    // The agent itself refuses it too: exit 78 from the main process.
    let (code, _, stderr) = command(&["run", "--config"], &path);
    assert_eq!(code, 78, "{stderr}");

    std::fs::write(dir.path().join("webhook-tokens"), "short\n").unwrap();
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: `webhook.tokens`: token 1 is shorter than 16"),
        "{stderr}"
    );
    assert!(!stderr.contains("short\n"), "{stderr}");
}

#[test]
fn r10_check_config_checks_directories_and_files_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let path = installed_example(dir.path());
    // A state "directory" below a regular file can be neither created nor written.
    std::fs::write(dir.path().join("state"), "not a directory").unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "/var/lib/GeoIP",
            &dir.path().join("no-geoip").display().to_string(),
        )
        .replace(
            "/usr/share/uap-core",
            &dir.path().join("no-uap").display().to_string(),
        );
    std::fs::write(&path, text).unwrap();
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("`spool.dir`"), "{stderr}");
    assert!(stderr.contains("`output.file.dir`"), "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
    assert!(stderr.contains("warning: `enrich.geoip_city`"), "{stderr}");
    assert!(stderr.contains("geoipupdate"), "{stderr}");
    assert!(stderr.contains("warning: `enrich.uap_regexes`"), "{stderr}");
    assert!(stderr.contains("uap-core"), "{stderr}");
}

#[test]
fn r10_each_command_validates_only_the_sections_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    // convert: [enrich] only (other sections are not even type-checked).
    let path = write(
        dir.path(),
        "[enrich]\nuser_agent = \"off\"\ngeoip_city = \"\"\ngeoip_asn = \"\"\n[webhook]\nlisten = 5\n",
    );
    let (code, stdout, stderr) = command(&["convert", "--config"], &path);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    let path = write(dir.path(), "[enrich]\nuser_agent = 5\nfoo = 1\n");
    let (code, _, stderr) = command(&["convert", "--config"], &path);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("`enrich.user_agent`") && stderr.contains("`enrich.foo`"),
        "{stderr}"
    );
    // setup: [output.elasticsearch] only, and it must be there.
    let path = write(
        dir.path(),
        "[output.elasticsearch]\nhosts = [\"https://127.0.0.1:9\"]\napi_key = \"S3CRET-apikey\"\n",
    );
    let (code, stdout, stderr) = command(&["setup", "--dry-run", "--config"], &path);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("_index_template"), "{stdout}");
    let path = write(dir.path(), "[enrich]\n");
    let (code, _, stderr) = command(&["setup", "--dry-run", "--config"], &path);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("`output.elasticsearch`"), "{stderr}");
    // run and check-config: the whole file.
    let (code, _, stderr) = check_config(&path);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("`spool`") && stderr.contains("`output`"),
        "{stderr}"
    );
}

#[test]
fn run_help_points_to_the_example_config_rust_log_and_exit_codes() {
    let output = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "auth0-ingest.toml",
        "RUST_LOG",
        "78",
        "RestartPreventExitStatus",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
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
    assert_eq!(code, 78);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}
