//! Fuzz target: the MCUboot parser and signature verification
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = otadeck_core::image::mcuboot::parse(data) {
        let _ = img.check();
        let _ = img.summary();
        for key in keys() {
            let _ = img.verify(data, key);
        }
    }
});

/// The test keys of the fixtures, so that signature paths are reached.
fn keys() -> &'static [otadeck_core::image::PublicKey] {
    static KEYS: std::sync::OnceLock<Vec<otadeck_core::image::PublicKey>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        [
            &include_bytes!("../../crates/otadeck-core/tests/fixtures/images/ed25519.pub.pem")[..],
            &include_bytes!("../../crates/otadeck-core/tests/fixtures/images/ecdsa-p256.pub.pem")[..],
        ]
        .iter()
        .filter_map(|k| otadeck_core::image::PublicKey::parse(k).ok())
        .collect()
    })
}
