//! ESP Web Tools manifests: build selection by chip family, part URLs resolved against the
//! manifest URL, and errors with JSON paths.

use otadeck_core::manifest::esp_web_tools::{parse, parse_at};
use otadeck_core::manifest::ErrorKind;

const ESPHOME: &[u8] = include_bytes!("../fixtures/manifests/esp_web_tools_esphome.json");
const TASMOTA: &[u8] = include_bytes!("../fixtures/manifests/esp_web_tools_tasmota.json");

#[test]
fn esphome_example_picks_builds_by_chip() {
    let m = parse(ESPHOME).unwrap();
    assert_eq!(m.name, "ESPHome");
    assert_eq!(m.version.as_deref(), Some("2021.10.3"));
    assert_eq!(m.new_install_prompt_erase, Some(false));
    let b = m.build_for("ESP32-C3").unwrap();
    assert_eq!(
        b.parts.iter().map(|p| p.offset).collect::<Vec<_>>(),
        [0, 0x8000, 0xE000, 0x10000]
    );
    assert_eq!(m.build_for("esp32c3").unwrap().chip_family, "ESP32-C3");
    assert_eq!(m.build_for("ESP8266").unwrap().parts[0].path, "esp8266.bin");
    assert!(
        b.parts.iter().all(|p| p.url.is_none()),
        "relative paths stay unresolved without a base"
    );
    let e = m.build_for("ESP32-S3").unwrap_err();
    assert_eq!(e.to_string(), "this manifest has no build for ESP32-S3; it has builds for ESP32, ESP32-C3, ESP32-S2, ESP8266");
}

#[test]
fn part_paths_resolve_against_the_manifest_url() {
    let m = parse_at(
        TASMOTA,
        "https://tasmota.github.io/install/manifest/release.tasmota32.manifest.json",
    )
    .unwrap();
    assert_eq!(
        m.build_for("ESP32").unwrap().parts[0].url.as_deref(),
        Some("https://tasmota.github.io/install/firmware/tasmota32/tasmota32.factory.bin")
    );
    assert_eq!(
        m.build_for("ESP32-S3").unwrap().parts[0].url.as_deref(),
        Some("https://ota.tasmota.com/tasmota32/release/tasmota32s3.factory.bin")
    );
    assert_eq!(m.builds[0].improv, Some(true));

    let local = parse_at(ESPHOME, "http://localhost:8080/firmware/manifest.json").unwrap();
    assert_eq!(
        local.builds[3].parts[0].url.as_deref(),
        Some("http://localhost:8080/firmware/esp8266.bin")
    );

    let e = parse_at(ESPHOME, "http://flasher.lan/manifest.json").unwrap_err();
    assert_eq!(e.path, "(manifest URL)");
}

#[test]
fn errors_name_the_json_path() {
    let doc = r#"{"name":"x","builds":[
        {"chipFamily":"ESP32","parts":[{"path":"a.bin","offset":0}]},
        {"chipFamily":"ESP32-S3","parts":[{"path":"b.bin","offset":"0x10000"}]}]}"#;
    let e = parse(doc.as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "builds[1].parts[0].offset: expected a number, found a string"
    );

    let doc = r#"{"name":"x","builds":[{"chipFamily":"ESP32","parts":[{"path":"http://evil.example/a.bin","offset":0}]}]}"#;
    let e = parse(doc.as_bytes()).unwrap_err();
    assert_eq!(e.path, "builds[0].parts[0].path");
    assert!(matches!(e.kind, ErrorKind::UnsafeUrl { .. }));

    let doc = r#"{"name":"x","builds":[{"chipFamily":"ESP32","parts":[{"path":"a","offset":0},{"path":"b","offset":0}]}]}"#;
    assert_eq!(
        parse(doc.as_bytes()).unwrap_err().path,
        "builds[0].parts[1].offset"
    );

    let doc = r#"{"name":"x","builds":[{"chipFamily":"ESP32","parts":[{"path":"a","offset":0}]},{"chipFamily":"esp32","parts":[{"path":"a","offset":0}]}]}"#;
    assert_eq!(
        parse(doc.as_bytes()).unwrap_err().path,
        "builds[1].chipFamily"
    );

    let doc =
        r#"{"name":"x","builds":[{"chipFamily":"ESP32","parts":[{"path":"a","offset":-4096}]}]}"#;
    assert!(parse(doc.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("whole number"));

    let doc = r#"{"name":"x","builds":[{"chipFamily":"ESP32","parts":[{"path":"a","offset":4294967296}]}]}"#;
    assert_eq!(
        parse(doc.as_bytes()).unwrap_err().to_string(),
        "builds[0].parts[0].offset: flash offsets must be below 4 GiB"
    );

    assert_eq!(
        parse(br#"{"name":"x","builds":[]}"#).unwrap_err().path,
        "builds"
    );
    assert_eq!(
        parse(br#"{"builds":[]}"#).unwrap_err().to_string(),
        "name: required field is missing"
    );
    let e = parse(br#"{"name":"x","new_install_prompt_erase":"yes","builds":[]}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "new_install_prompt_erase: expected true or false, found a string"
    );
}
