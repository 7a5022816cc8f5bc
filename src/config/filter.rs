//! `[filter]` → [`Filter`], collecting every problem.
//!
//! Category names must be Auth0's 20 Management API names exactly; an
//! unknown one is an error listing them. Type codes are open-ended (Auth0
//! adds codes; our table may lag), so any non-blank code is accepted, but a
//! category name given as a code is refused with a hint.

use std::collections::HashSet;

use super::problems::Errors;
use super::raw::RawFilter;
use super::values::known_names;
use crate::pipeline::filter::{Category, Filter};

/// Validates `[filter]`; invalid entries are left out (the problem is in
/// `errors`, so the config is refused anyway).
pub(super) fn build(raw: RawFilter, errors: &mut Errors) -> Filter {
    Filter {
        include: categories(errors, "filter.include", raw.include),
        exclude: categories(errors, "filter.exclude", raw.exclude),
        types: codes(errors, "filter.types", raw.types),
        exclude_types: codes(errors, "filter.exclude_types", raw.exclude_types),
    }
}

fn categories(errors: &mut Errors, key: &str, names: Option<Vec<String>>) -> Vec<Category> {
    known_names(errors, key, names, Category::from_name, |name| {
        format!(
            "unknown Auth0 filter category `{name}`; valid names: {}",
            Category::names()
        )
    })
}

fn codes(errors: &mut Errors, key: &str, codes: Option<Vec<String>>) -> HashSet<String> {
    let mut set = HashSet::new();
    for (index, code) in codes.unwrap_or_default().into_iter().enumerate() {
        if code.trim().is_empty() || code.trim() != code {
            errors.push(
                &format!("{key}[{index}]"),
                format!("`{code}` is not a type code such as `s` or `fp`"),
            );
        } else if Category::from_name(&code).is_some() && code.contains('.') {
            let hint = if key.contains("exclude") {
                "exclude"
            } else {
                "include"
            };
            errors.push(
                &format!("{key}[{index}]"),
                format!(
                    "`{code}` is a filter category, not a type code; put it in `filter.{hint}`"
                ),
            );
        } else {
            set.insert(code);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{config_of, errors_of, message_of};
    use crate::pipeline::filter::Category;

    const BASE: &str =
        "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";

    #[test]
    fn valid_filter_is_built() {
        let config = config_of(&format!(
            "{BASE}[filter]\ninclude=[\"auth.login.fail\",\"management.success\",\"auth.login.fail\"]\n\
             exclude=[\"other\"]\ntypes=[\"s\"]\nexclude_types=[\"fp\",\"actions\"]\n"
        ));
        let filter = config.pipeline.filter;
        assert_eq!(
            filter.include,
            [Category::LoginFail, Category::ManagementSuccess]
        );
        assert_eq!(filter.exclude, [Category::Other]);
        assert!(filter.types.contains("s"));
        // `actions` is both a category and (in principle) a code: a code
        // without a dot is taken as a code.
        assert!(filter.exclude_types.contains("actions"));
        assert!(filter.exclude_types.contains("fp"));
    }

    #[test]
    fn no_filter_section_passes_everything() {
        let config = config_of(BASE);
        assert!(config.pipeline.filter.is_empty());
    }

    #[test]
    fn unknown_names_are_errors_listing_the_valid_ones() {
        let text = format!(
            "{BASE}[filter]\ninclude=[\"auth.login.success\",\"Login - Failure\"]\n\
             exclude=[\"auth.ancillary.fail\"]\ntypes=[\"\",\"auth.login.fail\"]\nexclude_types=[\" s\"]\n"
        );
        let mut keys = errors_of(&text);
        keys.sort();
        assert_eq!(
            keys,
            [
                "filter.exclude[0]",
                "filter.exclude_types[0]",
                "filter.include[1]",
                "filter.types[0]",
                "filter.types[1]",
            ]
        );
        let message = message_of(&text);
        assert!(
            message.contains("unknown Auth0 filter category `Login - Failure`"),
            "{message}"
        );
        for category in Category::ALL {
            assert!(message.contains(category.as_str()), "{message}");
        }
        assert!(
            message.contains("`auth.login.fail` is a filter category, not a type code; put it in `filter.include`"),
            "{message}"
        );
        // A misspelt key is an error naming it and the closest valid key.
        let text = format!("{BASE}[filter]\ninclude_types=[\"s\"]\n");
        assert_eq!(errors_of(&text), ["filter.include_types"]);
        let message = message_of(&text);
        assert!(
            message.contains("the closest valid key is `exclude_types`"),
            "{message}"
        );
    }
}
