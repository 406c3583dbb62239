//! Fuzz target: content detection and every image parser behind it
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let image = otadeck_core::image::detect(data);
    let _ = image.check();
    let _ = image.summary();
    let _ = serde_json::to_string(&image);
});
