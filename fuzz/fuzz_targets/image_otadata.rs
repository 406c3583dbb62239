//! Fuzz target: the otadata parser
#![no_main]

use libfuzzer_sys::fuzz_target;
use otadeck_core::image::otadata;

fuzz_target!(|data: &[u8]| {
    if let Ok(o) = otadata::parse(data) {
        let _ = o.summary();
        for n in 0..4u8 {
            let _ = o.boot_target(n);
        }
    }
});
