//! Update drivers: one folder per module family, each a [`crate::session::Machine`] built on a
//! link, plus the raw-REPL engine the MicroPython families share. Sessions are opened through
//! the registry ([`crate::family::open`]).

pub mod esp32_micropython;
pub mod esp_rom;
pub mod mcuboot_smp;
pub mod nodemcu;
pub mod pycom;
pub mod quecpython;
pub mod repl;
