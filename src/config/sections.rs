//! Loading for commands that use part of the file: each validates only the
//! sections it reads, so `convert --config F` works with a file holding only
//! `[enrich]` (and `[filter]`/`[pii]`), and `setup --config F` with only `[output.elasticsearch]`.
//!
//! The other sections are not even type-checked: they are cut from the
//! TOML table before it is deserialized (with the same every-problem
//! reporting as [`super::Config::load`]).

use std::path::Path;

use super::problems::{
    follows_from, load_error, read, ConfigError, ConfigErrors, Errors, FromTomlError, LoadError,
};
use super::raw::RawConfig;
use super::{enrich as enrich_section, filter, kibana, output_elasticsearch, parse, pii};
use crate::outputs::elasticsearch;
use crate::pipeline::{self, enrich};
use crate::setup;

/// What `convert` reads: `[enrich]`, `[filter]` and `[pii]` (and the ES
/// namespace documents name, when the file has one). A file without them
/// gives the defaults.
pub fn convert(path: &Path) -> Result<(pipeline::Config, enrich::Config), LoadError> {
    let (raw, base, mut errors) = sections(path, &[&["enrich"], &["filter"], &["pii"]])?;
    let (mut pipeline, enrich) = enrich_section::build(raw.enrich, base, &mut errors);
    if let Some(raw_filter) = raw.filter {
        pipeline.filter = filter::build(raw_filter, &mut errors);
    }
    if let Some(raw_pii) = raw.pii {
        pipeline.pii = pii::build(raw_pii, base, &mut errors);
    }
    finish(path, errors)?;
    // Documents name their data stream's namespace, as the agent's do; read
    // leniently (`setup` and `check-config` validate it).
    if let Some(namespace) = namespace(path) {
        pipeline.namespace = namespace;
    }
    Ok((pipeline, enrich))
}

/// What `setup` reads: `[output.elasticsearch]`, which must be there.
pub fn setup(path: &Path) -> Result<elasticsearch::Config, LoadError> {
    let (raw, base, mut errors) = sections(path, &[&["output", "elasticsearch"]])?;
    let config = match raw.output.elasticsearch {
        Some(raw) => output_elasticsearch::build(raw, base, &mut errors),
        None => {
            if errors.0.is_empty() {
                errors.push(
                    "output.elasticsearch",
                    "`setup` needs an [output.elasticsearch] section with `hosts`".to_owned(),
                );
            }
            None
        }
    };
    finish(path, errors)?;
    // `finish` returned Ok, so no problem was pushed: `build` returned Some.
    config.ok_or_else(|| LoadError::Invalid {
        path: path.to_owned(),
        errors: ConfigErrors(Vec::new()),
    })
}

/// What `setup` reads for Kibana: `[kibana]`, when the file has one.
pub fn kibana(path: &Path) -> Result<Option<setup::kibana::Config>, LoadError> {
    let (raw, base, mut errors) = sections(path, &[&["kibana"]])?;
    let config = raw
        .kibana
        .and_then(|raw| kibana::build(raw, base, &mut errors));
    finish(path, errors)?;
    Ok(config)
}

/// The file cut down to the tables at `keep`, deserialized; parse problems
/// are already in the returned `Errors`.
fn sections<'a>(
    path: &'a Path,
    keep: &[&[&str]],
) -> Result<(RawConfig, &'a Path, Errors), LoadError> {
    let text = read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let table = parse::table(&text)
        .map_err(|error| load_error(path, FromTomlError::Parse(error.to_string())))?;
    let mut kept = toml::Table::new();
    for key_path in keep {
        copy(&table, &mut kept, key_path);
    }
    let parsed = parse::deserialize::<RawConfig>(kept);
    let errors = Errors(parsed.errors);
    match parsed.raw {
        Some(raw) => Ok((raw, base, errors)),
        None => Err(load_error(
            path,
            FromTomlError::Invalid(ConfigErrors(errors.0)),
        )),
    }
}

/// Copies the value at `key_path` of `from` (if any) into `into`, creating
/// the tables on the way.
fn copy(from: &toml::Table, into: &mut toml::Table, key_path: &[&str]) {
    let Some((first, rest)) = key_path.split_first() else {
        return;
    };
    let Some(value) = from.get(*first) else {
        return;
    };
    match (rest.is_empty(), value) {
        (true, value) => {
            into.insert((*first).to_owned(), value.clone());
        }
        (false, toml::Value::Table(inner)) => {
            let entry = into
                .entry((*first).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(target) = entry {
                copy(inner, target, rest);
            }
        }
        // Not a table where one is expected: keep it, so the type error is
        // reported.
        (false, value) => {
            into.insert((*first).to_owned(), value.clone());
        }
    }
}

/// Parse problems first, then validation problems that are not their echo.
fn finish(path: &Path, errors: Errors) -> Result<(), LoadError> {
    let mut kept: Vec<ConfigError> = Vec::new();
    for error in errors.0 {
        if !follows_from(&error, &kept) {
            kept.push(error);
        }
    }
    if kept.is_empty() {
        Ok(())
    } else {
        Err(load_error(path, FromTomlError::Invalid(ConfigErrors(kept))))
    }
}

fn namespace(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let table = parse::table(&text).ok()?;
    let namespace = table
        .get("output")?
        .get("elasticsearch")?
        .get("namespace")?
        .as_str()?;
    Some(namespace.to_owned())
}
