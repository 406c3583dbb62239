//! Fuzz target: the Lua console link against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::link::lua_repl::{LuaConfig, LuaEvent, LuaRepl};
    use std::time::Duration;
    // Each chunk's first byte: bits 1.. the time that passes before it, bit 0 whether the
    // module echoes what was sent before the rest of the chunk (so that the output and prompt
    // handling after an echo are reached).
    let mut r = LuaRepl::new(LuaConfig::default());
    let mut t = Duration::ZERO;
    r.connect(t);
    let mut sent = Vec::new();
    let mut lines = 0u32;
    for chunk in data.chunks(9) {
        t += Duration::from_millis(u64::from(chunk[0] >> 1) * 10);
        // Timeouts due before the bytes fire first, as a pump's would.
        let mut spins = 0;
        while let Some(d) = r.poll_timeout().filter(|d| *d <= t) {
            r.handle_timeout(d);
            spins += 1;
            assert!(spins < 10_000, "the deadline {d:?} does not move on");
        }
        while let Some(tx) = r.poll_transmit() {
            sent.extend_from_slice(&tx);
        }
        if chunk[0] & 1 == 1 {
            r.handle_input(t, &std::mem::take(&mut sent));
        }
        r.handle_input(t, &chunk[1..]);
        r.handle_timeout(t);
        while let Some(e) = r.poll_event() {
            if let LuaEvent::Failed(_) = e {
                r.reset();
                r.connect(t);
            }
        }
        if r.is_ready() {
            lines += 1;
            r.send_line(t, &format!("print({lines})"), Duration::from_secs(1));
        } else if r.can_queue() && !r.has_queued() {
            r.queue_line(t, "print('q')", Duration::from_secs(1));
        }
    }
});
