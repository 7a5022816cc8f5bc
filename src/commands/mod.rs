//! The binary's commands, one module each: what a command does once the
//! command line is parsed (`main.rs` parses and dispatches, nothing else).
//! These modules belong to the binary, not to the library: they print to
//! the terminal, use `anyhow` at this edge, and turn outcomes into exit
//! codes ([`exit`]), which are a contract with scripts and systemd.

pub mod assets;
pub mod check_config;
pub mod convert;
pub mod exit;
pub mod generate_assets;
pub mod replay;
pub mod run;
pub mod setup;
pub mod status;
