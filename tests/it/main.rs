#[cfg(test)]
mod conformance;
#[cfg(test)]
mod uap_suite;
