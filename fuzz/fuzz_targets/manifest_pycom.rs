//! Fuzz target: the Pycom OTA manifest parser
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = otadeck_core::manifest::pycom::parse(data);
    let _ = otadeck_core::manifest::pycom::parse_with(data, Some("https://ota.example.com/manifest.json"), Some("1.0.0"));
});
