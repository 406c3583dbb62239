//! Fuzz target: the flasher stub JSON parser on arbitrary text
#![no_main]

use libfuzzer_sys::fuzz_target;
use otadeck_core::driver::esp_rom::stub::Stub;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Stub::from_json(&String::from_utf8_lossy(data)) {
        // A stub always has its text segment, and at most text and data.
        assert!(!s.segments.is_empty() && s.segments.len() <= 2);
    }
});
