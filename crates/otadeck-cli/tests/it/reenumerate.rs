//! Modules whose port vanishes when they restart and comes back 1.5 s later as a new pseudo-
//! terminal (`otadeck sim --pty-link`), as modules on native USB do: `otadeck flash` finds the
//! port again, confirms the new firmware and exits 0.

use std::time::{Duration, Instant};

use crate::common::{otadeck, scratch, PtySim};

fn run(args: &[&str]) -> (bool, String, Duration) {
    let start = Instant::now();
    let out = otadeck().args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, start.elapsed())
}

fn image(name: &str, extra: &[&str]) -> String {
    let path = scratch(name).join("fw.bin");
    let p = path.to_str().unwrap().to_string();
    let mut args = vec!["sim", "image", "--size", "30000", "-o", &p];
    args.extend(extra);
    assert!(run(&args).0);
    p
}

fn flash_through_a_reset(sim: &[&str], protocol: &str, fw: &str, expect: &str) {
    let name = format!("reenum-{protocol}");
    let module = PtySim::reenumerating(sim, &name, 1500);
    let (ok, out, took) = run(&["flash", "--port", &module.path, "--protocol", protocol, fw]);
    assert!(ok, "{protocol}: {out}");
    assert!(
        out.contains("The module's port went away as it restarted"),
        "{protocol}: {out}"
    );
    assert!(
        out.contains("The module is back: carrying on."),
        "{protocol}: {out}"
    );
    assert!(out.contains(expect), "{protocol}: {out}");
    assert!(took > Duration::from_millis(1500), "{protocol}: {took:?}");
}

#[test]
fn esp32_micropython_comes_back_after_its_reset() {
    let fw = image("reenum-esp32", &["--version", "4.1.0"]);
    flash_through_a_reset(
        &["micropython-esp32", "--baud", "921600"],
        "micropython-esp32",
        &fw,
        "the module now runs 4.1.0",
    );
}

#[test]
fn nodemcu_comes_back_after_its_restart() {
    let fw = image("reenum-nodemcu", &["--version", "4.1.1"]);
    flash_through_a_reset(
        &["nodemcu", "--baud", "921600"],
        "nodemcu",
        &fw,
        "the module now runs 4.1.1",
    );
}

#[test]
fn quecpython_comes_back_after_its_power_restart() {
    let fw = image("reenum-quec", &["--version", "4.1.2", "--quecpython"]);
    flash_through_a_reset(
        &["quecpython", "--baud", "921600"],
        "quecpython",
        &fw,
        "4.1.2",
    );
}

#[test]
fn mcuboot_comes_back_after_its_reset() {
    let fw = image("reenum-smp", &["--version", "1.4.0", "--mcuboot"]);
    flash_through_a_reset(&["mcuboot", "--baud", "921600"], "smp", &fw, "1.4.0");
}

#[test]
fn a_module_that_never_comes_back_is_named() {
    let fw = image("reenum-gone", &["--version", "4.1.3"]);
    // Away for longer than otadeck waits (20 s): the flash fails, saying what is known.
    let module = PtySim::reenumerating(
        &["micropython-esp32", "--baud", "921600"],
        "reenum-gone",
        25_000,
    );
    let (ok, out, _) = run(&[
        "flash",
        "--port",
        &module.path,
        "--protocol",
        "micropython-esp32",
        &fw,
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("The module did not come back within 20 s of its restart."),
        "{out}"
    );
}

#[test]
fn pycom_comes_back_after_its_reset() {
    let fw = image("reenum-pycom", &["--version", "4.1.4"]);
    flash_through_a_reset(&["pycom", "--baud", "921600"], "pycom", &fw, "4.1.4");
}
