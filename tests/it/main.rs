#[cfg(test)]
mod conformance;
