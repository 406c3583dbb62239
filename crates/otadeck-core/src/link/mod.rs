//! Byte-level codecs and REPL machines that drivers are built on.

pub mod lua_repl;
pub mod mp_repl;
pub mod slip;
pub mod smp;
pub mod smp_cbor;
pub mod smp_frame;
pub mod usb;
pub mod usb_names;
pub mod ws_bridge;
