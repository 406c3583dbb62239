//! Fuzz target: the ESP ROM loader's response packet parser on arbitrary frames
#![no_main]

use libfuzzer_sys::fuzz_target;
use otadeck_core::driver::esp_rom::packet::{Loader, Response};

fuzz_target!(|data: &[u8]| {
    for loader in [Loader::Rom, Loader::Rom8266, Loader::Stub] {
        if let Ok(r) = Response::parse(data, loader) {
            // What parsed came from the frame: header, data, then the status bytes.
            assert_eq!(r.op, data[1]);
            assert!(8 + r.data.len() + 2 <= data.len());
            assert_eq!(&data[8..8 + r.data.len()], &r.data[..]);
        }
    }
});
