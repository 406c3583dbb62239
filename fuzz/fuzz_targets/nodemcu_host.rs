//! Fuzz target: the NodeMCU driver against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::nodemcu::{Job, NodeMcuConfig, NodeMcuSession};
    use otadeck_core::session::Machine;
    use std::time::Duration;
    // The first byte picks the job; then reads of `[control, len, bytes...]`: bits 1.. of
    // `control` are the time that passes before the read (20 ms units), bit 0 whether the
    // module echoes the lines sent before the bytes (so that the replies to each line,
    // `otaupgrade.info()` output included, are reached without a recorded transcript).
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
    let mut rest = rest;
    while let [control, len, tail @ ..] = rest {
        let (bytes, more) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = more;
        t += Duration::from_millis(u64::from(control >> 1) * 20);
        // Timeouts due before the read fire first, as a pump's would; a deadline that never
        // moves on would spin a pump forever.
        let mut spins = 0;
        while let Some(d) = s.poll_timeout().filter(|d| *d <= t) {
            s.handle_timeout(d);
            while let Some(tx) = s.poll_transmit() {
                sent.extend_from_slice(&tx);
            }
            spins += 1;
            assert!(spins < 10_000, "the deadline {d:?} does not move on");
        }
        while let Some(tx) = s.poll_transmit() {
            sent.extend_from_slice(&tx);
        }
        if control & 1 == 1 {
            s.handle_input(t, &std::mem::take(&mut sent));
        }
        s.handle_input(t, bytes);
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
    }
});
