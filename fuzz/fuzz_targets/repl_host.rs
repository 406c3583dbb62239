//! Fuzz target: the raw REPL and QuecPython driver against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::session::Machine;
    // The host side of a QuecPython flash fed whatever a module (or line noise) sends.
    let mut s = otadeck_core::driver::quecpython::QuecPythonSession::flash(
        std::time::Duration::ZERO,
        vec![0xE9; 5000],
        Default::default(),
    );
    let mut t = std::time::Duration::ZERO;
    for chunk in data.chunks(7) {
        t += std::time::Duration::from_millis(u64::from(chunk[0]) * 20);
        while s.poll_transmit().is_some() {}
        s.handle_input(t, chunk);
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
    }
});
