//! The otadeck-cli integration tests, linked into one test binary: one module per concern.

mod admission;
mod bridge;
mod common;
mod esp_rom;
mod esptool;
mod goosebit;
mod inspect;
mod install;
mod peers;
mod pty;
mod quecpython_download;
mod reenumerate;
mod repl_families;
mod smp_peers;
mod smp_pty;
