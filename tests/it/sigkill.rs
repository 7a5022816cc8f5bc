//! A SIGKILL of the built binary while an output is mid-delivery, then a
//! restart on the same port: the machinery the outputs' crash tests share.
//! Each test keeps its own fake and its own assertions on what the fake got.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::support::{free_port, wait_listening, Agent};
use super::support::{ids, post_plain};

/// The agent after a SIGKILL: what its webhook acknowledged, and where to
/// start it again.
pub struct Killed {
    /// Every log id of a batch the webhook answered 200.
    pub acked: HashSet<String>,
    path: PathBuf,
    addr: SocketAddr,
}

/// Starts the built binary on `config_text(listen)` (written to
/// `dir/agent.toml`, the webhook on a free loopback port), posts batches of
/// 100 events (`body` of the ids `{prefix}{round:04}{n:06}`) until the
/// output holds some acknowledged events but not all (`delivered()` at
/// least 300 and below the number acknowledged), then kills it with SIGKILL.
pub async fn kill_mid_delivery(
    dir: &Path,
    config_text: impl FnOnce(&str) -> String,
    prefix: &str,
    body: impl Fn(&[String]) -> String,
    mut delivered: impl FnMut() -> usize,
) -> Killed {
    let addr = free_port();
    let path = dir.join("agent.toml");
    std::fs::write(&path, config_text(&addr.to_string())).unwrap();
    let client = reqwest::Client::new();
    let agent = spawn(&path, addr).await;
    let mut acked = HashSet::new();
    let mut round = 0;
    loop {
        let batch = ids(&format!("{prefix}{round:04}"), 0..100);
        if post_plain(&client, addr, body(&batch)).await == 200 {
            acked.extend(batch);
        }
        round += 1;
        let received = delivered();
        if received >= 300 && received < acked.len() {
            break;
        }
        assert!(round < 500, "the output receives nothing");
    }
    agent.kill();
    Killed { acked, path, addr }
}

impl Killed {
    /// Starts the agent again on the same config, so on the same port.
    pub async fn restart(&self) -> Agent {
        spawn(&self.path, self.addr).await
    }
}

/// The built binary on `path`, once its webhook on `addr` accepts
/// connections.
async fn spawn(path: &Path, addr: SocketAddr) -> Agent {
    let agent = Agent::spawn(path, Stdio::null());
    wait_listening(addr).await;
    agent
}
