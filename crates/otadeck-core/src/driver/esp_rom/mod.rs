//! The Espressif serial ROM loader, sans-IO: SLIP-framed command packets ([`packet`]), the
//! reset sequences on DTR/RTS ([`reset`]), reading the slots from flash ([`slots`]) and the
//! session that syncs, detects the chip, attaches the flash and runs a job ([`session`]).

mod deflating;
pub mod packet;
pub mod reset;
pub mod session;
pub mod slots;
pub mod stub;

pub use session::{EspRomConfig, EspRomSession, Job, Region};
