//! Fuzz target: the ESP ROM loader session against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
    use otadeck_core::session::Machine;
    use std::time::Duration;
    // The first byte picks the job; then reads of `[control, len, bytes...]`: bits 1.. of
    // `control` are the time that passes before the read (10 ms units), bit 0 whether the bytes
    // arrive wrapped in a SLIP frame (so that the response parsing and every phase after SYNC
    // are reached) or raw (noise, broken frames, what a simulated ROM sent).
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
                data: otadeck_core::image::esp::build_app_image(
                    0,
                    &otadeck_core::image::esp::AppDescriptorFields {
                        version: "1.0.0",
                        project_name: "fuzz",
                        time: "00:00:00",
                        date: "Jan  1 2026",
                        idf_version: "v5.2",
                        secure_version: 0,
                    },
                    &[(0x3f40_0020, &[0x5a; 3000])],
                ),
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
    // Flash jobs: into the update slot (the layout read, the slots walked, otadata switched),
    // or over whatever boots.
    cfg.update_slot = pick & 0x20 != 0;
    cfg.overwrite_running = pick & 0x10 != 0;
    // A flasher stub, loaded once the ROM has read the layout (its dialect after OHAI).
    if pick & 0x08 != 0 {
        cfg.stub = Some(otadeck_core::driver::esp_rom::stub::Stub {
            entry: 0x4008_0000,
            segments: vec![(0x4008_0000, vec![0x36; 64])],
        });
    }
    let mut s = EspRomSession::start(Duration::ZERO, cfg);
    let mut t = Duration::ZERO;
    let mut rest = rest;
    while let [control, len, tail @ ..] = rest {
        let (bytes, more) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = more;
        t += Duration::from_millis(u64::from(control >> 1) * 10);
        // Timeouts due before the read fire first, as a pump's would; a deadline that never
        // moves on would spin a pump forever.
        let mut spins = 0;
        while let Some(d) = s.poll_timeout().filter(|d| *d <= t) {
            s.handle_timeout(d);
            while s.poll_transmit().is_some() {}
            spins += 1;
            assert!(spins < 10_000, "the deadline {d:?} does not move on");
        }
        while s.poll_transmit().is_some() {}
        while s.poll_signals().is_some() {}
        while s.poll_baud().is_some() {}
        if control & 1 == 1 {
            s.handle_input(t, &otadeck_core::link::slip::encode(bytes));
        } else {
            s.handle_input(t, bytes);
        }
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
        let _ = s.take_read();
    }
});
