//! Fuzz target: the QuecPython module-side download against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::quecpython::download::{download, DownloadOptions};
    use otadeck_core::session::Machine;
    use std::time::Duration;
    // The first byte picks one package or two (mini FOTA) and whether to restart; then reads
    // of `[control, len, bytes...]`: bits 1.. of `control` are the time that passes before the
    // read (20 ms units), bit 0 presses Cancel after it.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut o = DownloadOptions::new("https://example.com/fota.bin");
    if pick & 1 == 1 {
        o.url2 = Some("https://example.com/fota2.bin".into());
    }
    o.restart = pick & 2 != 0;
    let mut s = download(Duration::ZERO, o);
    let mut t = Duration::ZERO;
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
            while s.poll_transmit().is_some() {}
            spins += 1;
            assert!(spins < 10_000, "the deadline {d:?} does not move on");
        }
        while s.poll_transmit().is_some() {}
        s.handle_input(t, bytes);
        if control & 1 == 1 {
            s.cancel(t);
        }
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
    }
});
