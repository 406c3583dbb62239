//! The web app's device service in a real browser, on the in-page demo modules (the ESP32 ROM
//! loader, a QuecPython module, a Zephyr / MCUboot board): an image the core's admission check
//! refuses is never sent, the log says why in words a technician can act on, and the module's
//! slots stay as they were.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use otadeck::image::load;
use otadeck::services::device::{DeviceHandle, FlashView};
use otadeck::services::jobs::FlashChoice;
use otadeck::services::log::SessionLog;
use otadeck_core::admission::Policy;
use otadeck_core::family::Family;
use otadeck_core::image::PublicKey;
use otadeck_core::session::LogLevel;
use otadeck_sim::demo::DemoFamily;
use otadeck_sim::firmware::sample_image;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ED25519_PUB: &[u8] =
    include_bytes!("../crates/otadeck-core/tests/fixtures/images/ed25519.pub.pem");
const MCUBOOT: &[u8] =
    include_bytes!("../crates/otadeck-core/tests/fixtures/images/mcuboot_ed25519.bin");
const PARTITION_TABLE: &[u8] =
    include_bytes!("../crates/otadeck-core/tests/fixtures/images/partitions.bin");
const ESP32S3_APP: &[u8] =
    include_bytes!("../crates/otadeck-core/tests/fixtures/images/esp32s3_app.bin");

fn last_error(device: &DeviceHandle) -> String {
    device
        .log
        .get()
        .iter()
        .rev()
        .find(|e| e.level == LogLevel::Error)
        .map(|e| e.message.clone())
        .unwrap_or_default()
}

/// Flash `bytes` named `name` under `policy` and check it is refused before anything is sent,
/// saying `says`, with the device left idle.
async fn refused(device: &DeviceHandle, name: &str, bytes: Vec<u8>, says: &str, policy: Policy) {
    let image = Rc::new(load(name.into(), bytes).await);
    let choice = FlashChoice {
        restart: true,
        keep_on_trial: false,
        erase_all: false,
        policy,
    };
    device.flash(image, choice).await;
    let error = last_error(device);
    assert!(error.contains(says), "{name}: {error}");
    assert!(
        error.contains("nothing was sent to the module"),
        "{name}: {error}"
    );
    assert_eq!(device.progress.get().view, FlashView::Idle, "{name}");
    assert!(!device.view.get().busy, "{name}");
}

#[wasm_bindgen_test]
async fn images_the_demo_rom_must_not_write_are_refused_and_nothing_is_sent() {
    otadeck::transport::demo::run_in_this_page();
    let device = DeviceHandle::new(SessionLog::default());
    device.connect_demo(Family::EspRom, 115_200).await;
    let before = device.view.get().partitions.clone();
    assert!(before.is_some(), "the slots were read on connect");
    let mut flipped = sample_image();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let raw: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 256) as u8).collect();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("flipped.bin", flipped, "is damaged"),
        (
            "zephyr.signed.bin",
            MCUBOOT.to_vec(),
            "do not take this MCUboot image",
        ),
        (
            "manifest.json",
            br#"{"builds": []}"#.to_vec(),
            "this is a text file (JSON",
        ),
        (
            "blob.bin",
            raw,
            "writes whatever it is sent without checking it",
        ),
    ];
    for (name, bytes, says) in cases {
        refused(&device, name, bytes, says, Policy::default()).await;
    }
    assert_eq!(
        device.view.get().partitions,
        before,
        "the slots are as they were"
    );
}

#[wasm_bindgen_test]
async fn an_unsigned_image_is_refused_when_a_key_or_a_signature_is_required() {
    otadeck::transport::demo::run_in_this_page();
    let device = DeviceHandle::new(SessionLog::default());
    device.connect_demo(Family::McuBoot, 115_200).await;
    let key = PublicKey::parse(ED25519_PUB).unwrap();
    let cases = [
        (
            Policy {
                keys: vec![key],
                ..Policy::default()
            },
            "signature does not verify with the given key",
        ),
        (
            Policy {
                require_signature: true,
                ..Policy::default()
            },
            "no key was given",
        ),
    ];
    for (policy, says) in cases {
        let sample = Family::McuBoot.sample_image();
        refused(&device, "zephyr.bin", sample, says, policy).await;
    }
}

#[wasm_bindgen_test]
async fn a_quecpython_module_takes_only_its_vendor_package() {
    otadeck::transport::demo::run_in_this_page();
    let device = DeviceHandle::new(SessionLog::default());
    device.connect_demo(Family::QuecPython, 115_200).await;
    let before = device.view.get().module.clone();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("app.bin", sample_image(), "ESP-IDF app image"),
        (
            "partitions.bin",
            PARTITION_TABLE.to_vec(),
            "ESP-IDF partition table",
        ),
        ("app-s3.bin", ESP32S3_APP.to_vec(), "ESP-IDF app image"),
        ("zephyr.signed.bin", MCUBOOT.to_vec(), "MCUboot image"),
        ("plan.json", br#"[{"step": 1}]"#.to_vec(), "text file (JSON"),
    ];
    for (name, bytes, says) in cases {
        refused(&device, name, bytes, says, Policy::default()).await;
    }
    assert_eq!(device.view.get().module, before, "the module is as it was");
}

/// Choosing an image checks the hash an ESP app carries with the digest the page keeps while it
/// hashes the file in slices: an intact app is clean, a changed byte on either side of a slice
/// boundary, or in the appended hash, is reported as damage.
#[wasm_bindgen_test]
async fn an_esp_app_is_checked_while_it_is_hashed() {
    otadeck::transport::demo::run_in_this_page();
    let good = otadeck_sim::firmware::demo_image("9.9.9", 200 * 1024 + 123);
    let loaded = load("good.bin".into(), good.clone()).await;
    assert_eq!(loaded.problem, None, "{loaded:?}");
    let (covers, digest) = loaded
        .inner_sha256
        .expect("the appended hash's span was kept");
    assert_eq!(covers, good.len() - 32);
    assert_eq!(digest, otadeck_core::digest::sha256(&good[..covers]));
    for at in [64 * 1024 - 1, 64 * 1024, covers - 1, covers, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        let loaded = load("bad.bin".into(), bad).await;
        let problem = loaded.problem.unwrap_or_default();
        assert!(
            problem.contains("SHA-256") || problem.contains("checksum"),
            "a byte changed at {at} went unseen: {problem:?}"
        );
    }
}
