//! Update drivers: one per module family, each a [`crate::session::Machine`] built on a link.

pub mod quecpython;
