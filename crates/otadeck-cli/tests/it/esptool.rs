//! `otadeck sim esp32 --pty` against esptool 5.6 (PyPI) with `--no-stub`: esptool writes
//! (plain and compressed), verifies and reads back as it would a real ESP32 in download mode,
//! and an image otadeck wrote reads back identically through esptool.
//! Built only with `--features peer-tests`, which `cargo xtask test` turns on after installing
//! esptool.

#![cfg(feature = "peer-tests")]

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{otadeck, scratch, PtySim};

fn esptool(port: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("esptool")
        .args([
            "--port", port, "--before", "no-reset", "--after", "no-reset",
        ])
        .arg("--no-stub")
        .args(args)
        .output()
        .expect("esptool is installed (cargo xtask setup installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn sample(dir: &Path, version: &str, size: usize) -> std::path::PathBuf {
    let path = dir.join(format!("fw-{version}.bin"));
    let out = otadeck()
        .args(["sim", "image", "--version", version, "--size"])
        .arg(size.to_string())
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn esptool_writes_verifies_and_reads_back_the_simulated_esp32() {
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("esptool-peer");
    let image = sample(&dir, "4.0.0", 24_000);
    let len = std::fs::metadata(&image).unwrap().len().to_string();
    let (ok, text) = esptool(&sim.path, &["write-flash", "0x10000", s(&image)]);
    assert!(ok, "{text}");
    assert!(text.contains("Hash of data verified"), "{text}");
    assert!(text.contains("ESP32"), "{text}");
    let (ok, text) = esptool(&sim.path, &["verify-flash", "0x10000", s(&image)]);
    assert!(ok && text.contains("digest matched"), "{text}");
    let back = dir.join("back.bin");
    let (ok, text) = esptool(&sim.path, &["read-flash", "0x10000", &len, s(&back)]);
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&image).unwrap()
    );

    // Compressed, into the other slot; then otadeck reads the slots esptool wrote.
    let (ok, text) = esptool(&sim.path, &["write-flash", "-z", "0x190000", s(&image)]);
    assert!(ok && text.contains("Hash of data verified"), "{text}");
    let out = otadeck()
        .args(["info", "--port", &sim.path, "--protocol", "esp-rom"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ota_1: undefined, otadeck-demo 4.0.0"),
        "{stdout}"
    );
}

#[test]
fn an_image_otadeck_wrote_reads_back_identically_with_esptool() {
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("esptool-readback");
    let image = sample(&dir, "4.0.1", 40_000);
    let out = otadeck()
        .args([
            "flash",
            "--port",
            &sim.path,
            "--protocol",
            "esp-rom",
            "--no-restart",
        ])
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // An update goes into the slot that does not boot: ota_1, at 0x190000.
    let len = std::fs::metadata(&image).unwrap().len().to_string();
    let back = dir.join("back.bin");
    let (ok, text) = esptool(&sim.path, &["read-flash", "0x190000", &len, s(&back)]);
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&image).unwrap()
    );
    let (ok, text) = esptool(&sim.path, &["verify-flash", "0x190000", s(&image)]);
    assert!(ok && text.contains("digest matched"), "{text}");
}
