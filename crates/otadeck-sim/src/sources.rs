//! Update sources for the demo and for tests: an ESP Web Tools manifest of a whole ESP32 install
//! (bootloader, partition table, app) and the files it names, made deterministically. The web
//! app serves them from `static/demo/` (written by `otadeck sim sources --out static/demo`, and
//! checked to be current by a test).

use otadeck_core::image::esp::build_image;
use otadeck_core::image::esp_partition::build_table;
use serde_json::json;

use crate::esp_rom::PARTITIONS;
use crate::firmware::{demo_image, SAMPLE_BODY_LEN, SAMPLE_VERSION};

/// The file name of the demo's ESP Web Tools manifest.
pub const ESP_WEB_TOOLS_MANIFEST: &str = "esp32-install.json";

/// An ESP32 second-stage bootloader image (no app descriptor), firmware-like, about 24 KiB.
pub fn bootloader_image() -> Vec<u8> {
    let app = demo_image("bootloader", 24 * 1024);
    // The body of a demo app, reused as the bootloader's two segments (IRAM and DRAM).
    let body = &app[0x100..app.len() - 64];
    let split = body.len() / 2;
    build_image(
        0,
        None,
        &[(0x3FFF_0030, &body[..split]), (0x4007_8000, &body[split..])],
    )
}

/// The partition table the simulated ESP32 has (nvs, otadata, phy_init, ota_0, ota_1).
pub fn partition_table() -> Vec<u8> {
    build_table(PARTITIONS)
}

/// An ESP Web Tools manifest for `version` whose parts are `bootloader.bin` at 0x1000,
/// `partitions.bin` at 0x8000 and `app` at 0x10000, paths relative to the manifest.
pub fn esp_web_tools_manifest(version: &str, app: &str) -> String {
    let manifest = json!({
        "name": "otadeck demo",
        "version": version,
        "new_install_prompt_erase": true,
        "builds": [
            {"chipFamily": "ESP32", "parts": [
                {"path": "bootloader.bin", "offset": 0x1000},
                {"path": "partitions.bin", "offset": 0x8000},
                {"path": app, "offset": 0x10000}
            ]},
            {"chipFamily": "ESP32-S3", "parts": [
                {"path": "esp32s3/firmware.bin", "offset": 0}
            ]}
        ]
    });
    serde_json::to_string_pretty(&manifest).expect("JSON") + "\n"
}

/// Every file of the demo's sources, by name, as `static/demo/` holds them.
pub fn demo_files() -> Vec<(String, Vec<u8>)> {
    let app = format!("app-{SAMPLE_VERSION}.bin");
    vec![
        (
            ESP_WEB_TOOLS_MANIFEST.into(),
            esp_web_tools_manifest(SAMPLE_VERSION, &app).into_bytes(),
        ),
        ("bootloader.bin".into(), bootloader_image()),
        ("partitions.bin".into(), partition_table()),
        (app, demo_image(SAMPLE_VERSION, SAMPLE_BODY_LEN)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use otadeck_core::image::{detect, Image};

    #[test]
    fn the_bootloader_is_an_esp32_image_without_an_app_descriptor() {
        let Image::EspApp(e) = detect(&bootloader_image()) else {
            panic!("not an ESP image")
        };
        assert!(e.app.is_none());
        assert_eq!(e.chip, "ESP32");
    }

    /// `static/demo/` is what [`demo_files`] makes: rewrite it with
    /// `cargo run -p otadeck-cli -- sim sources --out static/demo`.
    #[test]
    fn the_served_demo_files_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static/demo");
        for (name, data) in demo_files() {
            let on_disk = std::fs::read(dir.join(&name)).unwrap_or_default();
            assert!(
                on_disk == data,
                "static/demo/{name} is out of date: run `cargo run -p otadeck-cli -- sim sources --out static/demo`"
            );
        }
    }
}
