//! Fuzz target: the ESP-IDF app image parser
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = otadeck_core::image::esp::parse_unchecked(data) {
        let _ = img.check();
        let _ = img.summary();
    }
    let _ = otadeck_core::image::esp::parse(data);
});
