//! Fuzz target: document kind detection
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(kind) = otadeck_core::manifest::detect::sniff(data) {
        let _ = otadeck_core::manifest::detect::parse(data, kind, Some("https://example.com/m.json"));
    }
});
