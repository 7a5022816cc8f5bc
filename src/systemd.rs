//! systemd readiness (`Type=notify`): `READY=1` once the listeners are bound
//! and the spool is open, `STOPPING=1` when shutdown starts,
//! `RELOADING=1` … `READY=1` around a SIGHUP reload, `STATUS=` and
//! `WATCHDOG=1` from `admin::ticker`. A no-op outside systemd (no
//! `$NOTIFY_SOCKET`).

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to systemd, if it is listening. Failures
/// are logged, never fatal: readiness is a courtesy, not a dependency.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let result = UnixDatagram::unbound().and_then(|socket| {
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &address)
        } else {
            socket.send_to(state.as_bytes(), &path)
        }
    });
    if let Err(error) = result {
        tracing::warn!(%error, state, "cannot notify systemd");
    }
}

/// The watchdog interval systemd expects pings within (`WatchdogSec=`, as
/// `$WATCHDOG_USEC`), when it is meant for this process (`$WATCHDOG_PID`
/// absent or ours).
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?.parse::<u64>().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| std::time::Duration::from_micros(usec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_the_state_to_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        with_notify_socket(&path, || notify("READY=1"));
        let mut buffer = [0u8; 64];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"READY=1");
    }

    /// Sets `NOTIFY_SOCKET` around `body`; no other test reads or sets it.
    fn with_notify_socket(path: &std::path::Path, body: impl FnOnce()) {
        std::env::set_var("NOTIFY_SOCKET", path);
        body();
        std::env::remove_var("NOTIFY_SOCKET");
    }
}
