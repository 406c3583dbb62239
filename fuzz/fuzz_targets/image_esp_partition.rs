//! Fuzz target: the ESP partition table parser
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = otadeck_core::image::esp_partition::parse(data) {
        let _ = t.check();
        let _ = t.summary();
    }
});
