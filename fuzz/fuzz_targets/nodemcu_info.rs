//! Fuzz target: the parser of what `otaupgrade.info()` printed on a NodeMCU module
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::driver::nodemcu::info::parse_info;
    if let Some(r) = parse_info(&String::from_utf8_lossy(data)) {
        assert!(!r.state.slots.is_empty());
        let _ = r.module();
    }
});
