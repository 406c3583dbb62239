//! Update drivers: one per module family, each a [`crate::session::Machine`] built on a link.

pub mod esp32_micropython;
pub mod esp32_state;
pub mod esp_rom;
pub mod mcuboot_smp;
pub mod mcuboot_state;
pub mod mp_encoding;
pub mod nodemcu;
pub mod nodemcu_info;
pub mod nodemcu_lines;
pub mod pycom;
pub mod pycom_files;
pub mod quecpython;
pub mod quecpython_download;
pub mod repl_flow;
pub mod repl_plan;
