//! The interpreters inside the simulated modules: a mini MicroPython (enough of the language and
//! of the modules the drivers call) and a mini Lua for NodeMCU's console.

pub mod lua;
pub mod python;
