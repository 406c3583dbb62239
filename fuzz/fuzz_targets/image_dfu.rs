//! Fuzz target: the DfuSe and DFU suffix parsers
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = otadeck_core::image::dfuse::parse_dfuse(data) {
        let _ = f.check();
        let _ = f.summary();
    }
    if let Ok(f) = otadeck_core::image::dfuse::parse_dfu(data) {
        let _ = f.check();
        let _ = f.summary();
    }
});
