//! The app's pages, one per route.

pub mod campaigns;
pub mod device;
pub mod flash;
pub mod log;
