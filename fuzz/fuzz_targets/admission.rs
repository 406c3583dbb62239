//! Fuzz target: the admission check, for every family, at any address and under any policy
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use otadeck_core::admission::{admit, Policy};
    use otadeck_core::family::Family;
    // The first byte picks the family and the policy, the next four the address (or none).
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let family = Family::ALL[usize::from(pick) % Family::ALL.len()];
    let (offset, image) = match rest.split_first_chunk::<4>() {
        Some((at, image)) if pick & 0x80 != 0 => (Some(u32::from_le_bytes(*at)), image),
        _ => (None, rest),
    };
    let policy = Policy {
        allow_raw: pick & 0x40 != 0,
        keys: Vec::new(),
        require_signature: pick & 0x20 != 0,
    };
    match admit(family, image, offset, &policy) {
        Ok(admitted) => assert!(family.capabilities().formats.contains(&admitted.format)),
        Err(refusal) => assert!(!refusal.to_string().is_empty()),
    }
});
