//! The Auth0 type-code table (`types.tsv`, embedded): each code's
//! description, classification and ECS categorisation.
//!
//! The file's header says where every value comes from. Elastic's rules
//! apply to lookups: a known code gives its row; an unknown one gives
//! `event.action = "unknown-<code>"` and `event.type = ["info"]` with no
//! classification and no outcome.

use std::collections::HashMap;

use super::filter::Category;

/// The embedded table.
const TABLE: &str = include_str!("types.tsv");

/// One code's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// The long description that replaces `auth0.logs.data.type`.
    pub description: String,
    /// `auth0.logs.data.classification`.
    pub classification: String,
    /// `event.category` values after `authentication`.
    pub categories: Vec<String>,
    /// `event.category`: `authentication`, then [`Type::categories`].
    pub event_categories: Vec<String>,
    /// `event.type`.
    pub types: Vec<String>,
    /// `event.action`.
    pub action: String,
    /// `event.outcome`, derived from the classification.
    pub outcome: &'static str,
    /// Whether the row is Elastic's (else derived by us).
    pub from_elastic: bool,
    /// Auth0's log-stream filter category (`[filter]`); `None` when the
    /// row lacks the column or names no known category (a unit test
    /// checks there are none), which [`Table::category`] reads as `other`.
    pub filter_category: Option<Category>,
}

/// The parsed table.
#[derive(Debug, Clone)]
pub struct Table {
    types: HashMap<String, Type>,
}

impl Table {
    /// Parses the embedded table. Lines that do not have seven or eight
    /// columns are skipped (a unit test checks there are none, and that
    /// every row has the eighth, `filter_category`).
    pub fn embedded() -> Table {
        Table {
            types: rows(TABLE).collect(),
        }
    }

    /// The mapping of `code`, if known.
    pub fn get(&self, code: &str) -> Option<&Type> {
        self.types.get(code)
    }

    /// Auth0's filter category of `code`: the table's, else (unknown code,
    /// or no code) [`Category::Other`], as Auth0 files unclassified events.
    pub fn category(&self, code: Option<&str>) -> Category {
        code.and_then(|code| self.get(code))
            .and_then(|row| row.filter_category)
            .unwrap_or(Category::Other)
    }

    /// Every known code.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }
}

/// Elastic's outcome rule: the lower-cased classification contains
/// "success" → `success`, "failure" → `failure`, else `unknown`.
pub fn outcome(classification: &str) -> &'static str {
    let lower = classification.to_ascii_lowercase();
    if lower.contains("success") {
        "success"
    } else if lower.contains("failure") {
        "failure"
    } else {
        "unknown"
    }
}

fn rows(text: &str) -> impl Iterator<Item = (String, Type)> + '_ {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("code\t"))
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            let (columns, filter_category) = match columns[..] {
                [ref first @ .., last] if first.len() == 7 => (first, Category::from_name(last)),
                ref all => (all, None),
            };
            let [code, classification, categories, types, action, source, description] =
                columns[..]
            else {
                return None;
            };
            Some((
                code.to_owned(),
                Type {
                    description: description.to_owned(),
                    classification: classification.to_owned(),
                    categories: list(categories),
                    event_categories: std::iter::once("authentication".to_owned())
                        .chain(list(categories))
                        .collect(),
                    types: list(types),
                    action: action.to_owned(),
                    outcome: outcome(classification),
                    from_elastic: source == "elastic",
                    filter_category,
                },
            ))
        })
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECS 8.11 allowed values.
    const CATEGORIES: &[&str] = &[
        "api",
        "authentication",
        "configuration",
        "database",
        "driver",
        "email",
        "file",
        "host",
        "iam",
        "intrusion_detection",
        "library",
        "malware",
        "network",
        "package",
        "process",
        "registry",
        "session",
        "threat",
        "vulnerability",
        "web",
    ];
    const TYPES: &[&str] = &[
        "access",
        "admin",
        "allowed",
        "change",
        "connection",
        "creation",
        "deletion",
        "denied",
        "end",
        "error",
        "group",
        "indicator",
        "info",
        "installation",
        "protocol",
        "start",
        "user",
    ];

    #[test]
    fn every_line_parses_and_values_are_ecs() {
        let data_lines = TABLE
            .lines()
            .filter(|line| !line.starts_with('#') && !line.starts_with("code\t"))
            .count();
        let table = Table::embedded();
        assert_eq!(table.types.len(), data_lines);
        assert!(data_lines >= 190, "{data_lines}");
        let elastic = table.types.values().filter(|t| t.from_elastic).count();
        assert_eq!(elastic, 105);
        let mut actions = std::collections::HashSet::new();
        for (code, row) in &table.types {
            assert!(!row.description.is_empty(), "{code}");
            assert!(!row.classification.is_empty(), "{code}");
            assert!(
                actions.insert(row.action.clone()),
                "duplicate action of {code}"
            );
            assert!(
                row.action
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{code}: {}",
                row.action
            );
            for category in &row.categories {
                assert!(
                    CATEGORIES.contains(&category.as_str()),
                    "{code}: {category}"
                );
            }
            assert!(!row.types.is_empty(), "{code}");
            for kind in &row.types {
                assert!(TYPES.contains(&kind.as_str()), "{code}: {kind}");
            }
        }
    }

    /// `code`'s classification, `event.category` after `authentication`,
    /// `event.type` and `event.outcome`, as `a | b,c | d,e | f`.
    fn row(table: &Table, code: &str) -> String {
        let row = table.get(code).unwrap();
        format!(
            "{} | {} | {} | {}",
            row.classification,
            row.categories.join(","),
            row.types.join(","),
            row.outcome
        )
    }

    #[test]
    fn elastic_rows_and_outcomes() {
        let table = Table::embedded();
        assert_eq!(
            table.get("slo").unwrap().description,
            "User successfully logged out"
        );
        assert_eq!(
            row(&table, "slo"),
            "Logout - Success | session | info,end | success"
        );
        // 1.21.2: no more threat/indicator.
        assert_eq!(
            row(&table, "limit_wc"),
            "System - Notification | intrusion_detection | info,denied | unknown"
        );
        assert_eq!(table.get("w").unwrap().outcome, "unknown");
        assert_eq!(table.get("ss").unwrap().outcome, "unknown");
        assert_eq!(table.get("fn").unwrap().outcome, "failure");
    }

    #[test]
    fn every_row_has_auth0_s_filter_category() {
        let table = Table::embedded();
        for (code, row) in &table.types {
            assert!(row.filter_category.is_some(), "{code}: no filter_category");
        }
        // Auth0's category, even where our classification reads otherwise.
        assert_eq!(table.category(Some("feta")), Category::TokenExchangeSuccess);
        assert_eq!(
            table.get("feta").unwrap().classification,
            "Token Exchange - Failure"
        );
        assert_eq!(table.category(Some("s")), Category::LoginSuccess);
        assert_eq!(table.category(Some("fco")), Category::LoginFail);
        assert_eq!(table.category(Some("sapi")), Category::ManagementSuccess);
        assert_eq!(table.category(Some("fapi")), Category::ManagementFail);
        assert_eq!(table.category(Some("sscim")), Category::ScimEvent);
        assert_eq!(
            table.category(Some("actions_execution_failed")),
            Category::Actions
        );
        assert_eq!(table.category(Some("gd_start_auth")), Category::Other);
        // No source files it: `other`.
        assert_eq!(table.category(Some("session_revoked")), Category::Other);
        // Unknown or missing codes: `other`.
        assert_eq!(table.category(Some("no_such_code")), Category::Other);
        assert_eq!(table.category(None), Category::Other);
        // Every category is some code's.
        let used: std::collections::HashSet<_> = table
            .types
            .values()
            .filter_map(|row| row.filter_category)
            .collect();
        assert_eq!(used.len(), Category::ALL.len());
    }

    #[test]
    fn derived_rows_follow_their_family() {
        let table = Table::embedded();
        assert_eq!(table.get("cls").unwrap().action, "code-link-sent");
        assert_eq!(row(&table, "cls"), "Other |  | info | unknown");
        assert_eq!(
            row(&table, "ciba_exchange_failed"),
            "Token Exchange - Failure | network,web | info,protocol,error | failure"
        );
        assert_eq!(table.get("feta").unwrap().outcome, "failure");
        assert!(table.get("no_such_code").is_none());
    }

    #[test]
    fn token_quota_warning_is_known_and_the_header_names_its_sources() {
        let table = Table::embedded();
        assert_eq!(
            row(&table, "token_quota_consumption_warning"),
            "Other | network | info,access | unknown"
        );
        let row = table.get("token_quota_consumption_warning").unwrap();
        assert_eq!(row.action, "token-quota-consumption-warning");
        assert!(!row.from_elastic);
        let header: String = TABLE
            .lines()
            .take_while(|line| line.starts_with('#'))
            .collect();
        let codes = table.codes().count();
        let refreshed = header
            .split("Last refreshed: ")
            .nth(1)
            .expect("the header says when the table was refreshed");
        assert!(
            refreshed.starts_with("20") && refreshed.contains(&format!("({codes} codes)")),
            "the header's date and count must be updated with the table: {refreshed}"
        );
        assert!(header.contains("Fine-Grained M2M Token Quotas"));
    }
}
