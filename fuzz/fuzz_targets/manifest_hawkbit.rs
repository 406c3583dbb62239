//! Fuzz target: the hawkBit DDI parsers
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = otadeck_core::manifest::hawkbit::parse_controller_base(data);
    let _ = otadeck_core::manifest::hawkbit::parse_deployment_base(data);
    let _ = otadeck_core::manifest::hawkbit::parse_feedback(data);
});
