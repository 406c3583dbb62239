//! Pieces shared by the pages.

pub mod backup;
pub mod decision;
pub mod download_source;
pub mod header;
pub mod log_view;
pub mod offline_cache;
pub mod paste_or_file;
pub mod progress;
pub mod recovery_banner;
pub mod serial_monitor;
pub mod session_guard;
pub mod signing_key;
pub mod support_banner;
pub mod trusted_keys;
