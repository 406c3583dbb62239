//! Fuzz target: the Pycom OTA manifest parser
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = otadeck_core::manifest::pycom::parse(data);
    let _ = otadeck_core::manifest::pycom::parse_with(data, "https://ota.example.com/manifest.json", "1.0.0");
});
