//! Inputs: where raw events come from. Inputs only frame bodies into
//! [`crate::event::RawEvent`]s and hand them to the spool writer; they know
//! nothing of ECS or outputs.

pub mod append;
pub mod framing;
pub mod poller;
pub mod webhook;
