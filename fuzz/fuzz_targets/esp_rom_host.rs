//! Fuzz target: the ESP ROM loader session against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
    use otadeck_core::session::Machine;
    use std::time::Duration;
    // The first byte picks the job; then each chunk's first byte is the time that passes
    // before it and whether its rest arrives wrapped in a SLIP frame (so that the response
    // parsing and every phase after SYNC are reached) or raw (noise, broken frames).
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let job = match pick % 5 {
        0 => Job::Info,
        1 => Job::ReadFlash {
            offset: 0x1000,
            len: 200,
        },
        2 => Job::SetBootSlot { slot: pick >> 7 },
        3 => Job::Flash {
            regions: vec![Region {
                offset: 0x1_0000,
                data: vec![0xE9; 3000],
            }],
            compress: pick & 0x80 != 0,
        },
        _ => Job::Flash {
            regions: vec![Region {
                offset: 0,
                data: vec![0x55; 100],
            }],
            compress: false,
        },
    };
    let mut cfg = EspRomConfig::new(job);
    if pick & 0x40 != 0 {
        cfg.baud = Some(921_600);
    }
    let mut s = EspRomSession::new(cfg, Duration::ZERO);
    let mut t = Duration::ZERO;
    let split = usize::from(rest.first().copied().unwrap_or(1) % 96).max(2);
    for chunk in rest.chunks(split) {
        t += Duration::from_millis(u64::from(chunk[0] >> 1) * 10);
        while s.poll_transmit().is_some() {}
        while s.poll_signals().is_some() {}
        while s.poll_baud().is_some() {}
        if chunk[0] & 1 == 1 {
            s.handle_input(t, &otadeck_core::link::slip::encode(&chunk[1..]));
        } else {
            s.handle_input(t, &chunk[1..]);
        }
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
        let _ = s.take_read();
    }
});
