//! Fuzz target: the QuecPython module-side download against arbitrary module output
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::quecpython_download::{download, DownloadOptions};
    use otadeck_core::session::Machine;
    use std::time::Duration;
    // The first byte picks one package or two (mini FOTA) and whether to restart; each chunk's
    // first byte is the time that passes before the rest of it arrives.
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
    let split = usize::from(pick >> 2).max(2);
    for chunk in rest.chunks(split) {
        t += Duration::from_millis(u64::from(chunk[0]) * 20);
        while s.poll_transmit().is_some() {}
        s.handle_input(t, &chunk[1..]);
        s.handle_timeout(t);
        while s.poll_event().is_some() {}
    }
});
