//! The otadeck-sim integration tests, linked into one test binary: one module per concern.

mod lua_mini;
mod nodemcu_console;
mod quecpython_download;
mod repl_device;
