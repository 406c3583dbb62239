//! Ctrl-C and SIGTERM during a session. The first asks the session to stop as the Cancel button
//! does, so the report names the step, the offset and what the module now holds and boots; a
//! second one ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Exit status of a session stopped by a signal (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe; a second signal means "stop now".
        unsafe { nix::libc::_exit(i32::from(EXIT_INTERRUPTED)) };
    }
}

/// Route SIGINT and SIGTERM to [`requested`] for the rest of the process.
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls `_exit`.
        if let Err(e) = unsafe { signal::sigaction(sig, &action) } {
            eprintln!("otadeck: cannot catch {sig}: {e}; Ctrl-C will end the process abruptly");
        }
    }
}

/// Let a closed pipe end the process quietly, as it does every Unix tool (`otadeck inspect … |
/// head`), instead of failing the next print. Sockets are unaffected: the standard library
/// writes to them with `MSG_NOSIGNAL`.
pub fn quiet_broken_pipe() {
    // SAFETY: restores the default disposition; no handler runs.
    if let Err(e) = unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) } {
        eprintln!("otadeck: cannot restore SIGPIPE: {e}");
    }
}

/// Whether the technician asked to stop (Ctrl-C or SIGTERM).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
