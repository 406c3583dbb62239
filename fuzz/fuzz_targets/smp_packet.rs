//! Fuzz target: SMP packets (header + CBOR body) and the error forms read from them
#![no_main]

use libfuzzer_sys::fuzz_target;
use otadeck_core::link::smp::{response_error, Packet, Value};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::decode(data) {
        let _ = response_error(&p.body);
        // What decoded re-encodes to a body that decodes to the same value.
        let again = Value::decode(&p.body.encode());
        assert!(again.is_ok());
    }
    let _ = Value::decode(data);
});
