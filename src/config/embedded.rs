//! The embedded default: what `auth0-ingest run` without `--config` runs, so
//! a newcomer sees events flow at once.
//!
//! Everything lives under one local data directory: a development TLS
//! certificate (self-signed, generated on first start, reused after), a
//! random webhook token (same), the spool, and the NDJSON output.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::problems::FromTomlError;
use super::Config;
use crate::inputs::webhook::tls;

/// The data directory, relative to the working directory.
pub const DATA_DIR: &str = "auth0-ingest-data";

/// The embedded default, ready to run.
#[derive(Debug)]
pub struct Embedded {
    /// The configuration.
    pub config: Config,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The webhook token to send (shown to the user at start).
    pub token: String,
    /// The development certificate, for `curl --cacert`.
    pub certificate: PathBuf,
}

/// Why the embedded default could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A file in the data directory could not be read or written.
    #[error("cannot prepare `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate could not be generated.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The built-in configuration is invalid (a bug).
    #[error("embedded configuration is invalid: {0}")]
    Config(#[from] FromTomlError),
    /// No randomness for the token.
    #[error("no system randomness for the token: {0}")]
    Random(String),
}

/// Prepares `data_dir` (certificate, token) and returns the configuration.
pub fn prepare(data_dir: &Path) -> Result<Embedded, EmbeddedError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| EmbeddedError::Io { path, source }
    };
    let certs = data_dir.join("certs");
    fs::create_dir_all(&certs).map_err(io(&certs))?;
    let certificate = certs.join("dev-cert.pem");
    let key = certs.join("dev-key.pem");
    if !(certificate.is_file() && key.is_file()) {
        let (cert_pem, key_pem) = tls::generate_development_certificate()?;
        write_private(&key, key_pem.as_bytes()).map_err(io(&key))?;
        fs::write(&certificate, cert_pem).map_err(io(&certificate))?;
    }
    let token_path = data_dir.join("token");
    let token = match fs::read_to_string(&token_path) {
        Ok(token) if !token.trim().is_empty() => token.trim().to_owned(),
        _ => {
            let mut bytes = [0u8; 24];
            getrandom::fill(&mut bytes)
                .map_err(|error| EmbeddedError::Random(error.to_string()))?;
            let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
            write_private(&token_path, format!("{token}\n").as_bytes()).map_err(io(&token_path))?;
            token
        }
    };
    let text = r#"
[webhook]
listen = "127.0.0.1:8383"
path = "/auth0/logs"
tokens_file = "token"
[webhook.tls]
cert = "certs/dev-cert.pem"
key = "certs/dev-key.pem"
[spool]
dir = "spool"
max_bytes = "1GiB"
[output.file]
dir = "out"
max_file_bytes = "256MiB"
[admin]
listen = "127.0.0.1:8384"
"#;
    let config = Config::from_toml(text, data_dir)?;
    Ok(Embedded {
        config,
        data_dir: data_dir.to_owned(),
        token,
        certificate,
    })
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}
