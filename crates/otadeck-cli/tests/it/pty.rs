//! `otadeck flash` and `otadeck info` over a real pseudo-terminal against `otadeck sim`, in real
//! time, through the serialport crate: the path a technician's laptop takes.

use crate::common;

use std::time::Duration;

use common::{otadeck, scratch, PtySim};

/// A simulated QuecPython full package at `version` with a `size`-byte body.
fn sample(dir: &std::path::Path, version: &str, size: usize) -> std::path::PathBuf {
    let path = dir.join(format!("fw-{version}.bin"));
    let out = otadeck()
        .args([
            "sim",
            "image",
            "--quecpython",
            "--version",
            version,
            "--size",
            &size.to_string(),
            "-o",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    path
}

#[test]
fn flash_then_info_over_a_pty() {
    let sim = PtySim::start(&["quecpython", "--baud", "921600"]);
    let dir = scratch("pty-flash");
    let image = sample(&dir, "3.1.4", 20_000);
    let out = otadeck()
        .args(["flash", "--port", &sim.path, "--protocol", "quecpython"])
        .arg(&image)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Verified and restarted: the module now runs 3.1.4"),
        "{stdout}"
    );

    let out = otadeck()
        .args(["info", "--port", &sim.path, "--protocol", "quecpython"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("firmware: 3.1.4"), "{stdout}");
    assert!(stdout.contains("model:    EC600U"), "{stdout}");
}

#[test]
fn a_module_that_disappears_mid_flash_is_reported_with_its_offset() {
    let mut sim = PtySim::start(&["quecpython", "--baud", "115200"]);
    let dir = scratch("pty-vanish");
    let image = sample(&dir, "3.1.5", 60_000);
    let flash = otadeck()
        .args(["flash", "--port", &sim.path, "--protocol", "quecpython"])
        .arg(&image)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-write at 115200 baud (the whole image takes about 8 s).
    std::thread::sleep(Duration::from_secs(3));
    sim.child.kill().unwrap();
    let out = flash.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Writing failed at byte"), "{stdout}");
    assert!(
        stdout.contains("still runs its previous firmware"),
        "{stdout}"
    );
}

#[test]
fn a_missing_port_is_a_usage_error() {
    let out = otadeck()
        .args([
            "info",
            "--port",
            "/dev/otadeck-no-such-port",
            "--protocol",
            "quecpython",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /dev/otadeck-no-such-port"));
}
