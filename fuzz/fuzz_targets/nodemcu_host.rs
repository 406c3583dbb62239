//! Fuzz target: the NodeMCU driver against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::nodemcu::{Job, NodeMcuConfig, NodeMcuSession};
    use otadeck_core::session::Machine;
    use std::time::Duration;
    // The first byte picks the job; each chunk's first byte: bits 1.. the time that passes
    // before it, bit 0 whether the module echoes the lines sent first (so that the replies to
    // each line, `otaupgrade.info()` output included, are reached).
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let job = match pick % 4 {
        0 => Job::Inspect,
        1 => Job::Flash {
            image: vec![0xE9; 600],
            accept: pick & 0x80 != 0,
        },
        2 => Job::Accept,
        _ => Job::Rollback,
    };
    let mut s = NodeMcuSession::start(Duration::ZERO, job, NodeMcuConfig::default());
    let mut t = Duration::ZERO;
    let mut sent = Vec::new();
    for chunk in rest.chunks(12) {
        t += Duration::from_millis(u64::from(chunk[0] >> 1) * 20);
        while let Some(tx) = s.poll_transmit() {
            sent.extend_from_slice(&tx);
        }
        if chunk[0] & 1 == 1 {
            s.handle_input(t, &std::mem::take(&mut sent));
        }
        s.handle_input(t, &chunk[1..]);
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
    }
});
