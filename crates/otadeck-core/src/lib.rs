//! The sans-IO core of otadeck.
//!
//! Nothing in this crate touches a port, a clock or a browser. Every protocol is a state machine:
//! the caller feeds it the bytes the module sent ([`Machine::handle_input`]) and the time
//! ([`Machine::handle_timeout`]), asks it what to do next ([`Machine::poll_next`]: bytes to send,
//! a modem-line change, a baud change, a USB control transfer, a wait, or finished) and what
//! happened ([`Machine::poll_event`]). The browser, the CLI and the tests own the I/O; the CLI, the
//! simulator harness and the tests drive machines through the one sync [`pump::Pump`].
//!
//! Time is a [`std::time::Duration`] measured from any fixed origin the caller picks (the start of
//! the session, `performance.now()`, a virtual clock in tests).

pub mod admission;
pub mod backup;
pub mod campaign;
pub mod detect;
pub mod digest;
pub mod driver;
pub mod family;
pub mod flash_error;
pub mod image;
pub mod link;
pub mod manifest;
pub mod module;
pub mod order;
pub mod partition_state;
pub mod progress;
pub mod pump;
pub mod reconnect;
pub mod session;
pub mod source;
pub mod version;

pub use session::{FlashError, FlashOutcome, Machine, SessionEvent, Step};
