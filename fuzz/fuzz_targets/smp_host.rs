//! Fuzz target: the MCUmgr SMP driver against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::mcuboot_smp::{Job, McuBootSmp, SmpConfig};
    use otadeck_core::session::Machine;
    // An inspect session (state read, params) fed whatever a module (or line noise) sends; the
    // bytes are wrapped in frames half the time so that the CBOR handling is reached.
    let mut s = McuBootSmp::start(std::time::Duration::ZERO, Job::Inspect, SmpConfig::default());
    let mut t = std::time::Duration::ZERO;
    for chunk in data.chunks(64) {
        t += std::time::Duration::from_millis(u64::from(chunk[0]) * 20);
        while s.poll_transmit().is_some() {}
        if chunk[0] & 1 == 1 {
            s.handle_input(t, &otadeck_core::link::smp_frame::encode(&chunk[1..]));
        } else {
            s.handle_input(t, chunk);
        }
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
    }
});
