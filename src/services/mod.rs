//! What the pages act on, with no markup: a session per connected device, the technician's
//! actions on it, the session log, and the watched stores that redraw only what changed.

pub mod campaign;
pub mod db;
pub mod device;
pub mod devices;
pub mod fetcher;
pub mod install;
pub mod jobs;
pub mod keep;
pub mod log;
pub mod monitor;
pub mod offline;
pub mod records;
pub mod source;
pub mod store;
