#[cfg(test)]
mod conformance;
#[cfg(test)]
mod convert;
#[cfg(test)]
mod uap_suite;
