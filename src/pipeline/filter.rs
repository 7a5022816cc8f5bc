//! `[filter]`: which events become documents, by Auth0's own log-stream
//! filter categories and by exact type code.
//!
//! Auth0 lets a log stream send only chosen categories; the API poller gets
//! every event and one stream may feed several agents, so the agent offers
//! the same choice on its side. An event's category is Auth0's (the
//! `filter_category` column of `types.tsv`), not our `classification`;
//! a code the table does not know is [`Category::Other`].
//!
//! The rule, in order: an event is *included* when no inclusion is
//! configured (`include` and `types` both empty), or its category is in
//! `include`, or its code is in `types`; an included event is then dropped
//! when its category is in `exclude` or its code in `exclude_types`.
//! Exclusions win. A filtered event is counted by category and
//! acknowledged, never written and never dead-lettered.

use std::collections::HashSet;

use super::names;

/// Auth0's 20 log-stream filter categories, as the Management API spells
/// them (`LogStreamFilterGroupNameEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `actions`
    Actions,
    /// `auth.login.fail`
    LoginFail,
    /// `auth.login.notification`
    LoginNotification,
    /// `auth.login.success`
    LoginSuccess,
    /// `auth.logout.fail`
    LogoutFail,
    /// `auth.logout.success`
    LogoutSuccess,
    /// `auth.signup.fail`
    SignupFail,
    /// `auth.signup.success`
    SignupSuccess,
    /// `auth.silent_auth.fail`
    SilentAuthFail,
    /// `auth.silent_auth.success`
    SilentAuthSuccess,
    /// `auth.token_exchange.fail`
    TokenExchangeFail,
    /// `auth.token_exchange.success`
    TokenExchangeSuccess,
    /// `management.fail`
    ManagementFail,
    /// `management.success`
    ManagementSuccess,
    /// `other`: everything Auth0 files nowhere else, and unknown codes.
    Other,
    /// `scim.event`
    ScimEvent,
    /// `system.notification`
    SystemNotification,
    /// `user.fail`
    UserFail,
    /// `user.notification`
    UserNotification,
    /// `user.success`
    UserSuccess,
}

/// A validated `[filter]` section. The empty filter passes everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `include`: categories to keep (with `types`); empty = no restriction.
    pub include: Vec<Category>,
    /// `exclude`: categories to drop.
    pub exclude: Vec<Category>,
    /// `types`: type codes to keep (with `include`).
    pub types: HashSet<String>,
    /// `exclude_types`: type codes to drop.
    pub exclude_types: HashSet<String>,
}

impl Category {
    /// Every category, in the order of the Management API's enum (the
    /// order of [`Category::index`] and of the metric's series).
    pub const ALL: [Category; 20] = [
        Category::LoginFail,
        Category::LoginNotification,
        Category::LoginSuccess,
        Category::LogoutFail,
        Category::LogoutSuccess,
        Category::SignupFail,
        Category::SignupSuccess,
        Category::SilentAuthFail,
        Category::SilentAuthSuccess,
        Category::TokenExchangeFail,
        Category::TokenExchangeSuccess,
        Category::ManagementFail,
        Category::ManagementSuccess,
        Category::ScimEvent,
        Category::SystemNotification,
        Category::UserFail,
        Category::UserNotification,
        Category::UserSuccess,
        Category::Actions,
        Category::Other,
    ];

    /// The Management API name, e.g. `auth.login.fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Actions => "actions",
            Category::LoginFail => "auth.login.fail",
            Category::LoginNotification => "auth.login.notification",
            Category::LoginSuccess => "auth.login.success",
            Category::LogoutFail => "auth.logout.fail",
            Category::LogoutSuccess => "auth.logout.success",
            Category::SignupFail => "auth.signup.fail",
            Category::SignupSuccess => "auth.signup.success",
            Category::SilentAuthFail => "auth.silent_auth.fail",
            Category::SilentAuthSuccess => "auth.silent_auth.success",
            Category::TokenExchangeFail => "auth.token_exchange.fail",
            Category::TokenExchangeSuccess => "auth.token_exchange.success",
            Category::ManagementFail => "management.fail",
            Category::ManagementSuccess => "management.success",
            Category::Other => "other",
            Category::ScimEvent => "scim.event",
            Category::SystemNotification => "system.notification",
            Category::UserFail => "user.fail",
            Category::UserNotification => "user.notification",
            Category::UserSuccess => "user.success",
        }
    }

    /// The category a Management API name stands for (exact spelling).
    pub fn from_name(name: &str) -> Option<Category> {
        names::find(&Category::ALL, Category::as_str, name)
    }

    /// The position in [`Category::ALL`] (for per-category counters).
    pub fn index(self) -> usize {
        // `ALL` lists every variant once (a unit test checks it), so the
        // search always succeeds; `Other`'s slot is the fallback anyway.
        Category::ALL
            .iter()
            .position(|category| *category == self)
            .unwrap_or(Category::ALL.len() - 1)
    }

    /// Every name, comma-separated, for error messages.
    pub fn names() -> String {
        names::list(&Category::ALL, Category::as_str)
    }
}

impl Filter {
    /// Whether the filter passes everything (nothing configured).
    pub fn is_empty(&self) -> bool {
        self.include.is_empty()
            && self.exclude.is_empty()
            && self.types.is_empty()
            && self.exclude_types.is_empty()
    }

    /// Whether an event of `category` with type `code` becomes a document.
    pub fn passes(&self, category: Category, code: Option<&str>) -> bool {
        let code_in = |set: &HashSet<String>| code.is_some_and(|code| set.contains(code));
        let included = (self.include.is_empty() && self.types.is_empty())
            || self.include.contains(&category)
            || code_in(&self.types);
        included && !self.exclude.contains(&category) && !code_in(&self.exclude_types)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use time::OffsetDateTime;

    use super::*;
    use crate::event::{Input, RawEvent};
    use crate::pipeline::enrich::Enrichers;
    use crate::pipeline::{Config, Outcome, Pipeline};

    fn codes(codes: &[&str]) -> HashSet<String> {
        codes.iter().map(|code| (*code).to_owned()).collect()
    }

    #[test]
    fn names_round_trip_and_indexes_are_distinct() {
        let mut seen = HashSet::new();
        for category in Category::ALL {
            assert_eq!(Category::from_name(category.as_str()), Some(category));
            assert_eq!(Category::ALL[category.index()], category);
            assert!(seen.insert(category.as_str()));
        }
        assert_eq!(seen.len(), 20);
        // The Management API spelling only.
        assert_eq!(Category::from_name("Login - Failure"), None);
        assert_eq!(Category::from_name("AUTH.LOGIN.FAIL"), None);
        assert_eq!(Category::from_name("auth.ancillary.fail"), None);
    }

    #[test]
    fn empty_filter_passes_everything() {
        let filter = Filter::default();
        assert!(filter.is_empty());
        for category in Category::ALL {
            assert!(filter.passes(category, Some("x")));
            assert!(filter.passes(category, None));
        }
    }

    #[test]
    fn include_keeps_only_its_categories() {
        let filter = Filter {
            include: vec![Category::LoginFail, Category::ManagementSuccess],
            ..Filter::default()
        };
        assert!(filter.passes(Category::LoginFail, Some("f")));
        assert!(filter.passes(Category::ManagementSuccess, Some("sapi")));
        assert!(!filter.passes(Category::LoginSuccess, Some("s")));
        assert!(!filter.passes(Category::Other, None));
    }

    #[test]
    fn exclude_drops_its_categories_and_wins() {
        let filter = Filter {
            exclude: vec![Category::Other],
            ..Filter::default()
        };
        assert!(filter.passes(Category::LoginSuccess, Some("s")));
        assert!(!filter.passes(Category::Other, Some("gd_start_auth")));
        assert!(!filter.passes(Category::Other, None));
        let both = Filter {
            include: vec![Category::Other],
            exclude: vec![Category::Other],
            ..Filter::default()
        };
        assert!(!both.passes(Category::Other, Some("x")));
    }

    fn outcome(pipeline: &Pipeline, event: &str) -> Outcome {
        let raw = RawEvent {
            input: Input::Api,
            received_at: OffsetDateTime::UNIX_EPOCH,
            bytes: Bytes::copy_from_slice(event.as_bytes()),
        };
        pipeline.process(&raw).unwrap()
    }

    #[test]
    fn the_pipeline_filters_by_auth0_s_category_before_mapping() {
        let config = Config {
            filter: Filter {
                include: vec![Category::LoginFail, Category::TokenExchangeSuccess],
                exclude_types: codes(&["fp"]),
                ..Filter::default()
            },
            ..Config::defaults()
        };
        let pipeline = Pipeline::new(config, Enrichers::none());
        let event = |code: &str| format!(r#"{{"log_id":"1","data":{{"type":"{code}"}}}}"#);
        // The category an event is filtered out under; `None`: it is mapped.
        let filtered = |event: &str| match outcome(&pipeline, event) {
            Outcome::Document(_) => None,
            Outcome::Filtered(category) => Some(category),
        };
        for (event, expected) in [
            (event("f"), None),
            (event("s"), Some(Category::LoginSuccess)),
            (event("fp"), Some(Category::LoginFail)),
            // Auth0's category, not our classification ("Token Exchange - Failure").
            (event("feta"), None),
            // Unknown codes and events without a type are `other`.
            (event("no_such_code"), Some(Category::Other)),
            (
                r#"{"log_id":"1","data":{}}"#.to_owned(),
                Some(Category::Other),
            ),
            // A bare log (as the API returns it) and a salvaged event too.
            (
                r#"{"type":"ss","log_id":"1"}"#.to_owned(),
                Some(Category::SignupSuccess),
            ),
            (
                r#"{"log_id":"1","data":{"type":"s","x":"\ud800"}}"#.to_owned(),
                Some(Category::LoginSuccess),
            ),
        ] {
            assert_eq!(filtered(&event), expected, "{event}");
        }
        // Input that is no event is still refused (dead-lettered), not filtered.
        assert!(pipeline
            .process(&RawEvent {
                input: Input::Api,
                received_at: OffsetDateTime::UNIX_EPOCH,
                bytes: Bytes::from_static(b"[1]"),
            })
            .is_err());
    }

    #[test]
    fn types_add_to_include_and_exclude_types_win() {
        let only_types = Filter {
            types: codes(&["s", "f"]),
            ..Filter::default()
        };
        assert!(only_types.passes(Category::LoginSuccess, Some("s")));
        assert!(only_types.passes(Category::LoginFail, Some("f")));
        assert!(!only_types.passes(Category::LoginFail, Some("fp")));
        assert!(!only_types.passes(Category::Other, None));
        let union = Filter {
            include: vec![Category::LoginFail],
            types: codes(&["sapi"]),
            exclude_types: codes(&["fp"]),
            ..Filter::default()
        };
        assert!(union.passes(Category::LoginFail, Some("f")));
        assert!(union.passes(Category::ManagementSuccess, Some("sapi")));
        assert!(!union.passes(Category::ManagementSuccess, Some("mgmt_api_read")));
        assert!(!union.passes(Category::LoginFail, Some("fp")));
        let exclude_only = Filter {
            exclude_types: codes(&["api_limit"]),
            ..Filter::default()
        };
        assert!(!exclude_only.passes(Category::SystemNotification, Some("api_limit")));
        assert!(exclude_only.passes(Category::SystemNotification, Some("depnote")));
    }
}
