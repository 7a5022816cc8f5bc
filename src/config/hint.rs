//! Examples for error messages, taken from the shipped example config
//! (`packaging/auth0-ingest.toml`, compiled in).
//!
//! Every key is documented there with an example value (commented out when
//! optional), so a message about `webhook.header_timeout` can say
//! ``e.g. `header_timeout = "10s"` `` without a second table of examples to
//! keep in step with the schema.

/// The example configuration, as shipped.
const EXAMPLE: &str = include_str!("../../packaging/auth0-ingest.toml");

/// The example line `leaf = value` for a dotted key (list indices ignored),
/// e.g. `max_body_bytes = "16MiB"` for `webhook.max_body_bytes`.
pub fn example(key: &str) -> Option<&'static str> {
    let key = key.split('[').next().unwrap_or(key);
    let (section, leaf) = match key.rsplit_once('.') {
        Some((section, leaf)) => (section, leaf),
        None => ("", key),
    };
    let mut current = "";
    for line in EXAMPLE.lines() {
        let line = line.trim();
        let line = line.strip_prefix('#').map_or(line, str::trim_start);
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            current = name.trim();
            continue;
        }
        let Some((name, value)) = line.split_once(" = ") else {
            continue;
        };
        let is_key = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_key && current == section && name == leaf && !value.trim().is_empty() {
            return Some(line);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_come_from_the_shipped_config_commented_or_not() {
        assert_eq!(
            example("webhook.max_body_bytes"),
            Some("max_body_bytes = \"16MiB\"")
        );
        assert_eq!(example("poller.batch_size"), Some("batch_size = 100"));
        assert_eq!(
            example("output.elasticsearch.hosts[0]"),
            Some("hosts = [\"https://es1:9200\"]")
        );
        assert_eq!(example("version"), Some("version = 1"));
        assert_eq!(example("webhook.no_such_key"), None);
    }
}
