//! The raw-REPL engine the MicroPython families share: a [`flow::ReplFlow`] runs a
//! [`plan::ReplPlan`] (the family's calls, in order) over the raw REPL, with reconnects and
//! timeouts; [`encoding`] picks the smallest encoding per chunk that the module can decode.

pub mod encoding;
pub mod flow;
pub mod plan;
