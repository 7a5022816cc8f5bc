//! Installs the Kibana assets: `GET /api/status` (the version must be one
//! the assets were written for), then `POST /s/<space>/api/saved_objects/_import?overwrite=true`
//! with the NDJSON as a multipart file, `kbn-xsrf` and the configured
//! credentials. A `success: false` answer is an error listing every
//! object's problem, never a quiet 200.
//!
//! Response bodies are read up to [`MAX_BODY`]; secrets never appear in an
//! error or in the `--dry-run` text.

use std::fmt;

use reqwest::{header, StatusCode, Url};
use serde_json::Value;

pub use crate::outputs::elasticsearch::Auth;

/// Kibana versions the assets were written for, as printed in messages.
pub const SUPPORTED: &str = "8.13 to 9.x";
/// Most bytes of a Kibana response read (the import's answer lists at most
/// one entry per object).
pub const MAX_BODY: usize = 1024 * 1024;
/// How long one request may take, its answer's body included (a Kibana
/// trickling its answer is cut off).
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The multipart boundary (checked absent from the NDJSON).
const BOUNDARY: &str = "auth0-ingest-kibana-import-2f6b1d9e";

/// The validated `[kibana]` section.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kibana's base URL (with its `server.basePath`, if any).
    pub url: Url,
    /// The space the objects go into (`default` unless configured).
    pub space: String,
    /// How to authenticate.
    pub auth: Auth,
    /// PEM CA certificate(s) to trust besides the system roots.
    pub ca_cert: Option<Vec<u8>>,
}

/// What an install did.
#[derive(Debug)]
pub struct Installed {
    /// Kibana's version (`/api/status`).
    pub version: String,
    /// Objects imported (`successCount`).
    pub imported: u64,
}

/// One object Kibana did not import, as its answer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// The object's type, e.g. `dashboard`.
    pub object_type: String,
    /// The object's id.
    pub id: String,
    /// Kibana's error type, e.g. `missing_references`, `conflict`.
    pub kind: String,
    /// What else Kibana said (missing references, a message).
    pub detail: String,
}

/// Installing the assets failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be built (bad CA file).
    #[error("cannot build the HTTP client for Kibana")]
    Client(#[source] reqwest::Error),
    /// Kibana answered an error status.
    #[error("Kibana answered {status} to `{url}`: {message}")]
    Status {
        /// The request's URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// Kibana's `message` (or the start of the body).
        message: String,
    },
    /// The import answered `success: false`.
    #[error("Kibana did not import {} object(s) into space `{space}`", problems.len())]
    ImportFailed {
        /// The space.
        space: String,
        /// Each object's problem.
        problems: Vec<ImportProblem>,
    },
    /// The NDJSON contains the multipart boundary (cannot happen with the
    /// embedded assets).
    #[error("the import file contains the multipart boundary")]
    Boundary,
    /// An answer that is not the JSON Kibana sends.
    #[error("Kibana's answer to `{url}` is not what Kibana sends: {why}")]
    Unexpected {
        /// The request's URL.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// Kibana could not be reached.
    #[error("cannot reach Kibana at `{url}`")]
    Unreachable {
        /// The request's URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// Kibana answered with a redirect (not followed: a redirected POST
    /// loses its body, and credentials must not travel elsewhere).
    #[error("Kibana answered {status} to `{url}`, redirecting to `{location}`: set [kibana] url to Kibana's own address (with its server.basePath)")]
    Redirect {
        /// The request's URL.
        url: String,
        /// The 3xx status.
        status: StatusCode,
        /// The `Location` header (empty if none).
        location: String,
    },
    /// Kibana refused the credentials.
    #[error("Kibana refused the credentials ({status}) at `{url}`")]
    Unauthorized {
        /// The request's URL.
        url: String,
        /// 401 or 403.
        status: StatusCode,
    },
    /// A Kibana version the assets were not written for.
    #[error("Kibana {found} is not a version the assets were written for (Kibana {SUPPORTED})")]
    UnsupportedVersion {
        /// The version Kibana reported.
        found: String,
    },
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}: {}", self.object_type, self.id, self.kind)?;
        if !self.detail.is_empty() {
            write!(formatter, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Whether the assets were written for Kibana `version` (`8.13.0` and up,
/// every `9.x`).
pub fn is_supported(version: &str) -> bool {
    let mut parts = version
        .split(['.', '-'])
        .map(|part| part.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(8), Some(minor)) => minor >= 13,
        (Some(9), Some(_)) => true,
        _ => false,
    }
}

/// The status URL.
pub fn status_url(config: &Config) -> String {
    format!("{}/api/status", base(config))
}

/// The import URL (`overwrite=true`: the fixed ids make it idempotent).
pub fn import_url(config: &Config) -> String {
    format!(
        "{}/s/{}/api/saved_objects/_import?overwrite=true",
        base(config),
        config.space
    )
}

/// The requests [`install`] would send, the credentials redacted.
pub fn dry_run(config: &Config, ndjson: &str) -> String {
    let auth = match &config.auth {
        Auth::ApiKey(_) => "ApiKey [redacted]".to_owned(),
        Auth::Basic { username, .. } => format!("Basic [redacted] (user `{username}`)"),
        Auth::None => "(none)".to_owned(),
    };
    format!(
        "GET {status}\nAuthorization: {auth}\n\n\
         POST {import}\nAuthorization: {auth}\nkbn-xsrf: true\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\n\
         (file `auth0-ingest.ndjson`, {count} objects:)\n{ndjson}",
        status = status_url(config),
        import = import_url(config),
        count = ndjson.lines().count(),
    )
}

/// Checks Kibana's version, then imports `ndjson` into the space.
pub async fn install(config: &Config, ndjson: &str) -> Result<Installed, Error> {
    if ndjson.contains(BOUNDARY) {
        return Err(Error::Boundary);
    }
    let client = client(config)?;
    let url = status_url(config);
    let status = send(authorized(client.get(&url), config), &url).await?;
    let version = status
        .pointer("/version/number")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Unexpected {
            url: url.clone(),
            why: "no `version.number`".to_owned(),
        })?
        .to_owned();
    if !is_supported(&version) {
        return Err(Error::UnsupportedVersion { found: version });
    }
    let url = import_url(config);
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"auth0-ingest.ndjson\"\r\n\
         Content-Type: application/ndjson\r\n\r\n{ndjson}\r\n--{BOUNDARY}--\r\n"
    );
    let request = authorized(client.post(&url), config)
        .header("kbn-xsrf", "true")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    let answer = send(request, &url).await?;
    let imported = answer
        .get("successCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let listed = problems(&answer);
    match answer.get("success").and_then(Value::as_bool) {
        Some(true) if listed.is_empty() => Ok(Installed { version, imported }),
        // `success: true` that still lists errors is a failure too.
        Some(_) => Err(Error::ImportFailed {
            space: config.space.clone(),
            problems: listed,
        }),
        None => Err(Error::Unexpected {
            url,
            why: "no `success`".to_owned(),
        }),
    }
}

fn base(config: &Config) -> &str {
    config.url.as_str().trim_end_matches('/')
}

fn client(config: &Config) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10));
    if let Some(pem) = &config.ca_cert {
        for certificate in reqwest::Certificate::from_pem_bundle(pem).map_err(Error::Client)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(Error::Client)
}

fn authorized(request: reqwest::RequestBuilder, config: &Config) -> reqwest::RequestBuilder {
    match &config.auth {
        Auth::ApiKey(key) => {
            request.header(header::AUTHORIZATION, format!("ApiKey {}", key.expose()))
        }
        Auth::Basic { username, password } => request.basic_auth(username, Some(password.expose())),
        Auth::None => request,
    }
}

/// Sends `request` and reads its JSON answer (at most [`MAX_BODY`] bytes).
async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<Value, Error> {
    let mut response = request.send().await.map_err(|source| Error::Unreachable {
        url: url.to_owned(),
        source,
    })?;
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| snippet(value.as_bytes()))
            .unwrap_or_default();
        return Err(Error::Redirect {
            url: url.to_owned(),
            status,
            location,
        });
    }
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| Error::Unreachable {
            url: url.to_owned(),
            source,
        })?
    {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            truncated = true;
            break;
        }
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(Error::Unauthorized {
            url: url.to_owned(),
            status,
        });
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if !status.is_success() {
        let message = parsed
            .as_ref()
            .and_then(|value| value.get("message"))
            .and_then(Value::as_str)
            .map(|message| snippet(message.as_bytes()))
            .unwrap_or_else(|| snippet(&body));
        return Err(Error::Status {
            url: url.to_owned(),
            status,
            message,
        });
    }
    if truncated {
        return Err(Error::Unexpected {
            url: url.to_owned(),
            why: format!("the answer is larger than {MAX_BODY} bytes"),
        });
    }
    match parsed {
        Some(value) if value.is_object() => Ok(value),
        _ => Err(Error::Unexpected {
            url: url.to_owned(),
            why: format!("not a JSON object: `{}`", snippet(&body)),
        }),
    }
}

/// At most [`SNIPPET_CHARS`] characters of `bytes` for a message, control
/// characters and runs of white space as one space (an HTML error page
/// stays one readable line).
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= SNIPPET_CHARS {
            return out.chars().take(SNIPPET_CHARS).chain(['…']).collect();
        }
    }
    out
}

/// Characters of a body quoted in an error.
const SNIPPET_CHARS: usize = 200;

/// Each entry of the import answer's `errors`.
fn problems(answer: &Value) -> Vec<ImportProblem> {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or("").to_owned();
    let mut problems = Vec::new();
    for entry in answer
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let error = entry.get("error");
        let mut detail = Vec::new();
        for reference in error
            .and_then(|error| error.get("references"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            detail.push(format!(
                "needs {} {}",
                text(reference.get("type")),
                text(reference.get("id"))
            ));
        }
        if let Some(message) = error
            .and_then(|error| error.get("message"))
            .and_then(Value::as_str)
        {
            detail.push(message.to_owned());
        }
        problems.push(ImportProblem {
            object_type: text(entry.get("type")),
            id: text(entry.get("id")),
            kind: text(error.and_then(|error| error.get("type"))),
            detail: detail.join(", "),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn supported_versions() {
        for version in ["8.13.0", "8.19.4", "9.0.0", "9.2.1-SNAPSHOT"] {
            assert!(is_supported(version), "{version}");
        }
        for version in ["8.12.2", "7.17.0", "10.0.0", "", "x"] {
            assert!(!is_supported(version), "{version}");
        }
    }

    #[test]
    fn dry_run_redacts_credentials() {
        let config = Config {
            url: Url::parse("https://kibana.example:5601/base/").unwrap(),
            space: "sec".to_owned(),
            auth: Auth::Basic {
                username: "elastic".to_owned(),
                password: Secret::new("hunter2".to_owned()),
            },
            ca_cert: None,
        };
        let text = dry_run(&config, "{}\n");
        assert!(text.contains(
            "POST https://kibana.example:5601/base/s/sec/api/saved_objects/_import?overwrite=true"
        ));
        assert!(text.contains("kbn-xsrf: true"));
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("ZWxhc3RpYzpodW50ZXIy"));
    }
}
