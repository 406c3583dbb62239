//! Simulated modules for otadeck: the device side of each protocol, on simulated flash, behind a
//! simulated serial line with a virtual clock and fault injection. They run natively (tests, the
//! CLI) and in the browser (the demo module).

pub mod demo;
pub mod esp32_mp;
pub mod esp_ota;
pub mod esp_rom;
pub mod firmware;
pub mod flash;
pub mod harness;
pub mod line;
pub mod lua_mini;
pub mod mcuboot;
pub mod mcuboot_slots;
pub mod mp_builtins;
pub mod mp_repl;
pub mod nodemcu;
pub mod pyblock;
pub mod pycom;
pub mod pyexpr;
pub mod pylit;
mod pyops;
pub mod quecpython;
pub mod quecpython_download;
