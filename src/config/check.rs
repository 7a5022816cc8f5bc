//! What `check-config` verifies beyond the file itself: that the agent, run
//! as the current user, can create and write its directories and read the
//! files the config names.
//!
//! Directories are errors (the agent would fail at start); enrichment files
//! are warnings (the agent runs without them, with fewer fields), naming how
//! to install them. Nothing is left behind: a probe file or directory is
//! created and removed at once.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::problems::ConfigError;
use super::Config;
use crate::pipeline::enrich::ua;

/// Problems (the agent would not run) and warnings (it would, worse).
#[derive(Debug, Default)]
pub struct Report {
    /// Make `check-config` fail.
    pub errors: Vec<ConfigError>,
    /// Printed; `check-config` still succeeds.
    pub warnings: Vec<ConfigError>,
}

/// Checks directories and files of a valid `config` on this machine.
pub fn environment(config: &Config) -> Report {
    let mut report = Report::default();
    let mut directories = vec![("spool.dir", config.spool.dir.as_path())];
    if let Some(file) = &config.file_output {
        directories.push(("output.file.dir", file.dir.as_path()));
    }
    if let Some(poller) = &config.poller {
        directories.push(("poller.state_dir", poller.state_dir.as_path()));
    }
    for (key, directory) in directories {
        if let Err(message) = writable(directory) {
            report.errors.push(ConfigError {
                key: key.to_owned(),
                message,
            });
        }
    }
    let geoip = "install GeoLite2 databases with Debian's `geoipupdate` (see the README) or set it to \"\" to turn the lookups off";
    for (key, path) in [
        ("enrich.geoip_city", config.enrich.geoip_city.as_deref()),
        ("enrich.geoip_asn", config.enrich.geoip_asn.as_deref()),
    ] {
        if let Some(path) = path {
            if let Err(error) = fs::File::open(path) {
                report.warnings.push(ConfigError {
                    key: key.to_owned(),
                    message: format!("cannot read `{}` ({error}): {geoip}", path.display()),
                });
            }
        }
    }
    if config.enrich.user_agent == ua::Mode::Uap {
        if let Err(error) = fs::File::open(&config.enrich.uap_regexes) {
            report.warnings.push(ConfigError {
                key: "enrich.uap_regexes".to_owned(),
                message: format!(
                    "cannot read `{}` ({error}): install the Debian package `uap-core`, or set `enrich.user_agent = \"woothee\"`",
                    config.enrich.uap_regexes.display()
                ),
            });
        }
    }
    report
}

/// `Ok` when `directory` exists and takes a new file, or can be created
/// (its nearest existing ancestor takes a new directory).
pub fn writable(directory: &Path) -> Result<(), String> {
    let mut existing = directory;
    loop {
        match fs::metadata(existing) {
            Ok(metadata) if metadata.is_dir() => break,
            Ok(_) => return Err(format!("`{}` is not a directory", existing.display())),
            Err(error)
                if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) =>
            {
                // A relative path's last ancestor is the empty path: the
                // working directory, where `run` would create it.
                match existing.parent() {
                    Some(parent) if parent.as_os_str().is_empty() => existing = Path::new("."),
                    Some(parent) => existing = parent,
                    None => {
                        return Err(format!(
                            "`{}` cannot be created: {error}, and no parent directory exists",
                            directory.display()
                        ))
                    }
                }
            }
            Err(error) => return Err(format!("cannot inspect `{}`: {error}", existing.display())),
        }
    }
    let probe = existing.join(format!(".auth0-ingest-check-{}", std::process::id()));
    let result = if existing == directory {
        fs::File::create_new(&probe).and_then(|_| fs::remove_file(&probe))
    } else {
        fs::create_dir(&probe).and_then(|()| fs::remove_dir(&probe))
    };
    result.map_err(|error| {
        if existing == directory {
            format!(
                "`{}` is not writable by this user: {error}",
                directory.display()
            )
        } else {
            format!(
                "`{}` cannot be created by this user: `{}` is not writable: {error}",
                directory.display(),
                existing.display()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_must_be_creatable_and_writable() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(writable(dir.path()), Ok(()));
        assert_eq!(writable(&dir.path().join("a/b/c")), Ok(()));
        // The probe left nothing behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(writable(&file.join("sub"))
            .unwrap_err()
            .contains("is not a directory"));
        // A relative path without a directory part lies in the working
        // directory (`check-config --config short.toml`).
        let relative = Path::new("auth0-ingest-check-relative/spool");
        assert_eq!(writable(relative), Ok(()));
        assert!(fs::metadata(relative.parent().unwrap()).is_err());
        // /proc takes no new directories, even for root.
        assert!(writable(Path::new("/proc/auth0-ingest/spool")).is_err());
    }
}
