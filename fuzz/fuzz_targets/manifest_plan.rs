//! Fuzz target: the campaign plan parser and eligibility
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((split, rest)) = data.split_first() {
        let cut = (*split as usize * rest.len()) / 256;
        let (plan, report) = rest.split_at(cut);
        if let Ok(p) = otadeck_core::manifest::plan::parse(plan) {
            if let Ok(r) = serde_json::from_slice(report) {
                let _ = p.eligibility(&r, 1_790_000_000);
            }
        }
        let _ = otadeck_core::manifest::plan::parse(rest);
    }
});
