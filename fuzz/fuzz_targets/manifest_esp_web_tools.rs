//! Fuzz target: the ESP Web Tools manifest parser
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = otadeck_core::manifest::esp_web_tools::parse_at(data, "https://example.com/fw/manifest.json") {
        for chip in ["ESP32", "ESP32-S3", "ESP8266"] {
            let _ = m.build_for(chip);
        }
    }
});
