//! The cluster check: one request to `/`, one clear log line at start-up;
//! its answer feeds the output's health at start-up and while the output
//! is idle ([`crate::outputs::probe`]).
//!
//! It never stops the agent: when the cluster is down or refuses the
//! credentials, the webhook keeps accepting into the spool and the bulk
//! path keeps retrying; the line tells the operator what to fix.

use elasticsearch::http::Method;
use serde::Deserialize;

use super::client::Client;
use super::error::Error;
use crate::error_chain::error_chain;

/// What `/` says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// `cluster_name`.
    pub name: String,
    /// `version.number`, e.g. `8.15.0`.
    pub version: String,
    /// `version.build_flavor` (`default`, `serverless`), when given.
    pub flavor: Option<String>,
}

#[derive(Deserialize)]
struct RawRoot {
    cluster_name: Option<String>,
    version: Option<RawVersion>,
}

#[derive(Deserialize)]
struct RawVersion {
    number: Option<String>,
    build_flavor: Option<String>,
}

/// Asks the cluster who it is (checks reachability, TLS and credentials).
pub async fn check(client: &Client) -> Result<Cluster, Error> {
    let value = client.json(Method::Get, "/", None).await?;
    let Some(value) = value else {
        return Err(Error::Status {
            path: "/".to_owned(),
            status: 404,
            body: String::new(),
        });
    };
    let root: RawRoot = serde_json::from_value(value).map_err(|source| Error::UnexpectedBody {
        path: "/".to_owned(),
        source,
    })?;
    let version = root.version;
    Ok(Cluster {
        name: root.cluster_name.unwrap_or_default(),
        flavor: version
            .as_ref()
            .and_then(|version| version.build_flavor.clone()),
        version: version
            .and_then(|version| version.number)
            .unwrap_or_else(|| "unknown".to_owned()),
    })
}

/// Data streams and `create` into them need Elasticsearch 7.9 or later.
pub fn supports_data_streams(version: &str) -> bool {
    let mut parts = version
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    major > 7 || (major == 7 && minor >= 9)
}

/// Runs [`check`] (logging the one start-up line when `start_up`):
/// `Ok` when the cluster answers and takes data streams, else the reason.
pub async fn probe(client: &Client, start_up: bool) -> Result<(), String> {
    let result = check(client).await;
    if start_up {
        log_start_up(&result);
    }
    match result {
        Ok(cluster) if supports_data_streams(&cluster.version) => Ok(()),
        Ok(cluster) => Err(format!(
            "elasticsearch {} is too old for data streams (7.9 or later needed)",
            cluster.version
        )),
        Err(error) => Err(error_chain(&error)),
    }
}

fn log_start_up(result: &Result<Cluster, Error>) {
    match result {
        Ok(cluster) if supports_data_streams(&cluster.version) => tracing::info!(
            cluster = %cluster.name,
            version = %cluster.version,
            flavor = cluster.flavor.as_deref().unwrap_or("default"),
            "elasticsearch reachable"
        ),
        Ok(cluster) => tracing::error!(
            cluster = %cluster.name,
            version = %cluster.version,
            "elasticsearch is too old for data streams (7.9 or later needed); documents stay in the spool"
        ),
        Err(error @ Error::Unauthorized { .. }) => tracing::error!(
            error = %error,
            "elasticsearch refused the credentials; documents stay in the spool until they are fixed"
        ),
        Err(error) => tracing::warn!(
            error = %error_chain(error),
            "elasticsearch not reachable at start-up; accepting into the spool and retrying"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_stream_support_by_version() {
        assert!(supports_data_streams("8.15.0"));
        assert!(supports_data_streams("9.0.0"));
        assert!(supports_data_streams("7.9.1"));
        assert!(!supports_data_streams("7.8.0"));
        assert!(!supports_data_streams("6.8.23"));
        assert!(!supports_data_streams("garbage"));
    }
}
