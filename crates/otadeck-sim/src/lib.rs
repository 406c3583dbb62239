//! Simulated modules for otadeck: the device side of each protocol, on simulated flash, behind a
//! simulated serial line with a virtual clock and fault injection. They run natively (tests, the
//! CLI) and in the browser (the demo module).

pub mod bench;
pub mod demo;
pub mod dfu;
pub mod esp32_mp;
pub mod esp_ota;
pub mod esp_rom;
pub mod faults;
pub mod firmware;
#[cfg(not(target_arch = "wasm32"))]
pub mod fixture_server;
pub mod flash;
pub mod fleet;
pub mod fota_package;
pub mod harness;
pub mod interp;
pub mod line;
pub mod mcuboot;
pub mod mcuboot_slots;
pub mod mp_repl;
pub mod nodemcu;
pub mod pycom;
pub mod quecpython;
pub mod quecpython_download;
pub mod sources;
pub mod usb_harness;
