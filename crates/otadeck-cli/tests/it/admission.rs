//! `otadeck flash` refuses what must not be written before it opens the port: the refusals below
//! name a port that does not exist, so any attempt to reach it would fail differently. A raw write
//! on `--raw` goes through to the simulated ROM over a pty.

use crate::common;

use common::{otadeck, scratch, PtySim};
use otadeck_sim::firmware::sample_image;

const NO_PORT: &str = "/nonexistent/ttyUSB9";

fn core_fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../otadeck-core/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Run `otadeck flash` with `extra` arguments on `file`; exit code and stderr.
fn flash(port: &str, protocol: &str, extra: &[&str], file: &std::path::Path) -> (i32, String) {
    let out = otadeck()
        .args(["flash", "--port", port, "--protocol", protocol])
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn damaged_foreign_and_misplaced_images_are_refused_before_the_port_opens() {
    let dir = scratch("admission-cli");
    let app = sample_image();
    let mut flipped = app.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let files: [(&str, Vec<u8>); 5] = [
        ("app.bin", app),
        ("flipped.bin", flipped),
        ("mcuboot.bin", core_fixture("mcuboot_ed25519.bin")),
        ("manifest.json", br#"{"name": "x", "builds": []}"#.to_vec()),
        (
            "raw.bin",
            (0..8192u32).map(|i| (i * 31 % 256) as u8).collect(),
        ),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let cases: [(&str, &str, &[&str], &str); 10] = [
        ("esp-rom", "flipped.bin", &[], "is damaged"),
        (
            "esp-rom",
            "mcuboot.bin",
            &[],
            "do not take this MCUboot image",
        ),
        ("esp-rom", "manifest.json", &[], "this is a text file (JSON"),
        (
            "esp-rom",
            "app.bin",
            &["--offset", "0x1234"],
            "not on a 4 KiB sector boundary",
        ),
        (
            "esp-rom",
            "app.bin",
            &["--offset", "0x0"],
            "64 KiB boundary",
        ),
        ("esp-rom", "raw.bin", &[], "to write it anyway, pass --raw"),
        (
            "quecpython",
            "mcuboot.bin",
            &[],
            "QuecPython modules do not take",
        ),
        (
            "quecpython",
            "app.bin",
            &[],
            "QuecPython modules do not take this ESP-IDF app image",
        ),
        (
            "quecpython",
            "manifest.json",
            &[],
            "this is a text file (JSON",
        ),
        ("smp", "app.bin", &[], "they take: MCUboot image"),
    ];
    for (protocol, file, extra, says) in cases {
        let (code, text) = flash(NO_PORT, protocol, extra, &dir.join(file));
        assert_eq!(code, 2, "{protocol} {file}: {text}");
        assert!(text.contains(says), "{protocol} {file}: {text}");
        assert!(text.contains("nothing was sent to the module"), "{text}");
        assert!(!text.contains(NO_PORT), "the port was never opened: {text}");
    }
}

#[test]
fn an_image_whose_signature_fails_the_key_is_refused() {
    let dir = scratch("admission-cli-key");
    let key = dir.join("ed25519.pub.pem");
    std::fs::write(&key, core_fixture("ed25519.pub.pem")).unwrap();
    let image = dir.join("other.bin");
    // Its signature bytes changed: intact by its own hash, refused by the key.
    std::fs::write(&image, core_fixture("mcuboot_ed25519_sig_flipped.bin")).unwrap();
    let (code, text) = flash(NO_PORT, "smp", &["--key", key.to_str().unwrap()], &image);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("signature does not verify"), "{text}");
    let (code, text) = flash(NO_PORT, "smp", &["--require-signed"], &image);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no key was given"), "{text}");
}

#[test]
fn raw_data_goes_through_on_raw_and_the_log_says_so() {
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("admission-cli-raw");
    let raw = dir.join("blob.bin");
    std::fs::write(
        &raw,
        (0..8192u32)
            .map(|i| (i * 31 % 256) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let (code, text) = flash(
        &sim.path,
        "esp-rom",
        &["--raw", "--offset", "0x300000", "--no-restart"],
        &raw,
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("raw data on the technician's word"), "{text}");
}
