//! Pieces shared by the pages.

pub mod download_source;
pub mod header;
pub mod log_view;
pub mod progress;
pub mod signing_key;
pub mod support_banner;
