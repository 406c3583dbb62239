//! What the browser keeps across a reload, in real IndexedDB: the newest value of a key wins,
//! and a flash record left without its end is reported once, with what the module holds.

#![cfg(target_arch = "wasm32")]

use otadeck::services::devices::Devices;
use otadeck::services::keep::{self, FlashRecord};
use otadeck_core::session::Step;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Waits (up to 5 s) until `key` holds something `done` accepts.
async fn kept(key: &'static str, done: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        if let Some(v) = keep::load(key).await {
            if done(&v) {
                return v;
            }
        }
        gloo::timers::future::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{key} was never kept as expected");
}

#[wasm_bindgen_test]
async fn the_newest_value_of_a_key_is_kept() {
    for n in 0..20 {
        keep::save(keep::LOG_KEY, format!("[{n}]"));
    }
    assert_eq!(kept(keep::LOG_KEY, |v| v == "[19]").await, "[19]");
}

#[wasm_bindgen_test]
async fn a_flash_cut_off_by_a_reload_is_reported_once() {
    let record = FlashRecord {
        family: "esp-rom".into(),
        module: "ESP32 bootloader ESP32".into(),
        image: "Flashing app.bin".into(),
        started: "10:00:00".into(),
        step: Step::Write,
        done: 40,
        total: 100,
        ended: None,
    };
    keep::save(keep::FLASH_KEY, serde_json::to_string(&record).unwrap());
    kept(keep::FLASH_KEY, |v| v.contains("\"ended\":null")).await;

    let devices = Devices::default();
    devices.restore().await;
    let said = devices
        .recovery()
        .get()
        .clone()
        .expect("the cut-off flash is reported");
    assert!(
        said.contains("at 40 % (byte 40 of 100) in step Writing"),
        "{said}"
    );
    assert!(said.contains("otadata was not switched"), "{said}");
    assert!(devices.log().get().iter().any(|l| l.message == said));
    // The record now holds how it ended, so the next load says nothing.
    kept(keep::FLASH_KEY, |v| !v.contains("\"ended\":null")).await;
    let again = Devices::default();
    again.restore().await;
    assert_eq!(*again.recovery().get(), None);
}
