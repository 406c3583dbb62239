//! Update drivers: one folder per module family, each a [`crate::session::Machine`] built on a
//! link, plus the raw-REPL engine the MicroPython families share. Sessions are opened through
//! the registry ([`crate::family::open`]).

pub mod dfu;
pub mod esp32_micropython;
pub mod esp_rom;
pub mod mcuboot_smp;
pub mod nodemcu;
pub mod pycom;
pub mod quecpython;
pub mod repl;

/// A job for a family whose new firmware boots on trial (ESP32 MicroPython, NodeMCU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialJob {
    /// Read the slots only.
    Inspect,
    /// Write this image, boot it, and accept it when `accept` is true.
    Flash {
        /// The image.
        image: Vec<u8>,
        /// Accept it once it runs; otherwise it stays on trial.
        accept: bool,
    },
    /// Accept the running firmware (cancel the rollback).
    Accept,
    /// Return to the other slot's firmware.
    Rollback,
}
