//! Closed sets of values spelled by config names (`[filter]` categories,
//! `[pii]` data names): finding a value by its name and listing every name
//! for error messages, written once for all of them.

/// The one of `all` that `name_of` spells `name`.
pub(crate) fn find<T: Copy>(all: &[T], name_of: fn(T) -> &'static str, name: &str) -> Option<T> {
    all.iter().copied().find(|item| name_of(*item) == name)
}

/// Every name of `all`, comma-separated.
pub(crate) fn list<T: Copy>(all: &[T], name_of: fn(T) -> &'static str) -> String {
    all.iter()
        .map(|item| name_of(*item))
        .collect::<Vec<_>>()
        .join(", ")
}
