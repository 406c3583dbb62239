//! The simulated Zephyr / MCUboot module against a real MCUmgr client, smpmgr (PyPI), with an
//! image signed by imgtool: upload, image state read, test, reset, confirm, and the slots MCUboot
//! would hold at each step. Built only with `--features peer-tests`, which `cargo xtask test`
//! turns on after installing smpmgr and imgtool.

#![cfg(feature = "peer-tests")]

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{otadeck, scratch, PtySim};
use otadeck_core::image::mcuboot;

fn tool(name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is installed (cargo xtask setup installs it): {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn smpmgr(port: &str, args: &[&str]) -> String {
    let (ok, text) = tool(
        "smpmgr",
        &[&["--port", port, "--timeout", "2"][..], args].concat(),
    );
    assert!(ok, "smpmgr {args:?}: {text}");
    text
}

/// `slot=N ... version='V' ... flag=True/None` blocks of `smpmgr image state-read`, as
/// `(slot, version, [flags set])`.
fn states(text: &str) -> Vec<(u32, String, Vec<String>)> {
    let mut out = Vec::new();
    for block in text.split("ImageState(").skip(1) {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{k}=")))
                .map(|v| v.trim_end_matches(',').trim_matches('\'').to_string())
        };
        let flags = ["bootable", "pending", "confirmed", "active", "permanent"]
            .into_iter()
            .filter(|f| field(f).as_deref() == Some("True"))
            .map(String::from)
            .collect();
        out.push((
            field("slot").unwrap().parse().unwrap(),
            field("version").unwrap(),
            flags,
        ));
    }
    out
}

fn signed_image(dir: &Path) -> (String, String) {
    let key = dir.join("root-ec-p256.pem");
    let body = dir.join("zephyr.bin");
    let signed = dir.join("zephyr.signed.bin");
    std::fs::write(
        &body,
        (0..40_000u32)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (ok, text) = tool("imgtool", &["keygen", "-k", &s(&key), "-t", "ecdsa-p256"]);
    assert!(ok, "{text}");
    let (ok, text) = tool(
        "imgtool",
        &[
            "sign",
            "--key",
            &s(&key),
            "--header-size",
            "0x200",
            "--align",
            "8",
            "--version",
            "2.4.6",
            "--slot-size",
            "0x40000",
            "--pad-header",
            &s(&body),
            &s(&signed),
        ],
    );
    assert!(ok, "{text}");
    let data = std::fs::read(&signed).unwrap();
    let hash = mcuboot::parse(&data).unwrap().hash.unwrap().stored;
    let hex = hash.iter().map(|b| format!("{b:02X}")).collect();
    (s(&signed), hex)
}

fn otadeck_slots(port: &str) -> String {
    let out = otadeck()
        .args(["info", "--port", port, "--protocol", "smp"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn smpmgr_uploads_tests_resets_and_confirms_an_imgtool_image() {
    let dir = scratch("smp-peer");
    let (image, hash) = signed_image(&dir);
    let sim = PtySim::start(&["mcuboot"]);
    let port = sim.path.as_str();

    let before = states(&smpmgr(port, &["image", "state-read"]));
    assert_eq!(
        before,
        [(
            0,
            "1.0.0".into(),
            vec!["bootable".into(), "confirmed".into(), "active".into()]
        )]
    );

    let text = smpmgr(port, &["image", "upload", &image]);
    assert!(text.contains("100.0%"), "{text}");
    let text = smpmgr(port, &["image", "state-read"]);
    assert!(
        text.contains(&hash),
        "smpmgr shows the imgtool hash TLV: {text}"
    );
    let s = states(&text);
    assert_eq!(s[1], (1, "2.4.6".into(), vec!["bootable".into()]));

    smpmgr(port, &["image", "state-write", &hash]);
    let s = states(&smpmgr(port, &["image", "state-read"]));
    assert_eq!(s[1].2, ["bootable", "pending"]);
    assert!(otadeck_slots(port).contains("slot1 (next boot): new, version 2.4.6"));

    smpmgr(port, &["os", "reset"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let s = states(&smpmgr(port, &["image", "state-read"]));
    assert_eq!(
        s[0],
        (0, "2.4.6".into(), vec!["bootable".into(), "active".into()])
    );
    assert_eq!(
        s[1],
        (
            1,
            "1.0.0".into(),
            vec!["bootable".into(), "confirmed".into()]
        )
    );

    smpmgr(port, &["image", "state-write", "--confirm"]);
    let s = states(&smpmgr(port, &["image", "state-read"]));
    assert_eq!(
        s[0],
        (
            0,
            "2.4.6".into(),
            vec!["bootable".into(), "confirmed".into(), "active".into()]
        )
    );
    assert_eq!(s[1], (1, "1.0.0".into(), vec!["bootable".into()]));
    // MCUboot keeps the confirmed image across resets.
    smpmgr(port, &["os", "reset"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let out = otadeck_slots(port);
    assert!(
        out.contains("slot0 (running, next boot): valid, version 2.4.6"),
        "{out}"
    );
    assert!(out.contains("slot1: undefined, version 1.0.0"), "{out}");
}

#[test]
fn smpmgr_reads_an_otadeck_flash_on_trial_and_reverts_it_with_a_reset() {
    let dir = scratch("smp-peer-trial");
    let (image, _) = signed_image(&dir);
    let sim = PtySim::start(&["mcuboot"]);
    let port = sim.path.as_str();
    let out = otadeck()
        .args([
            "flash",
            "--port",
            port,
            "--protocol",
            "smp",
            "--no-accept",
            &image,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let s = states(&smpmgr(port, &["image", "state-read"]));
    assert_eq!(s[0].1, "2.4.6");
    assert!(!s[0].2.contains(&"confirmed".to_string()));
    smpmgr(port, &["os", "reset"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let s = states(&smpmgr(port, &["image", "state-read"]));
    assert_eq!(
        s[0],
        (
            0,
            "1.0.0".into(),
            vec!["bootable".into(), "confirmed".into(), "active".into()]
        )
    );
}
