//! The simulated module against MicroPython's own host tool, mpremote (from PyPI): proof that
//! the simulator speaks the raw REPL as real firmware does, in each raw-paste variant.
//! Built only with `--features peer-tests`, which `cargo xtask test` turns on after installing
//! mpremote.

#![cfg(feature = "peer-tests")]

use crate::common;

use std::process::Command;

use common::PtySim;

fn mpremote(port: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("mpremote")
        .args(["connect", port])
        .args(args)
        .output()
        .expect("mpremote is installed (cargo xtask setup installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_exec(paste: &str) {
    let sim = PtySim::start(&["quecpython", "--baud", "921600", "--paste", paste]);
    let (ok, out, err) = mpremote(&sim.path, &["exec", "print(123)"]);
    assert!(ok, "{out}{err}");
    assert_eq!(out, "123\n");
    let (ok, out, err) = mpremote(
        &sim.path,
        &["exec", "import modem\nprint(modem.getDevFwVersion())"],
    );
    assert!(ok, "{out}{err}");
    assert_eq!(out, "2.0.3\n");
    // A name the module does not know raises, and mpremote reports the traceback and fails.
    let (ok, out, _) = mpremote(&sim.path, &["exec", "print(no_such_name)"]);
    assert!(!ok);
    assert!(
        out.contains("NameError: name 'no_such_name' isn't defined"),
        "{out}"
    );
}

#[test]
fn mpremote_runs_code_in_raw_paste_mode() {
    check_exec("yes");
}

#[test]
fn mpremote_falls_back_on_old_firmware() {
    check_exec("absent");
}

#[test]
fn firmware_answering_r00_trips_mpremote_but_not_otadeck() {
    // Such firmware prints `>` after `R\x00`. mpremote does not read it and then finds `>O`
    // where it expects `OK`; otadeck consumes it and carries on in paced raw mode.
    let sim = PtySim::start(&["quecpython", "--baud", "921600", "--paste", "refuses"]);
    let (ok, out, err) = mpremote(&sim.path, &["exec", "print(123)"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("could not exec command (response: b'>O')"),
        "{err}"
    );
    let out = common::otadeck()
        .args(["info", "--port", &sim.path, "--protocol", "quecpython"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("firmware: 2.0.3"), "{stdout}");
}

#[test]
fn mpremote_drives_fota_like_a_user_script() {
    // A technician's own script, sent by mpremote, updates the simulated module the same way
    // otadeck does: a cross-check of the simulator's fota semantics by a second client.
    use base64::Engine as _;
    let sim = PtySim::start(&["quecpython", "--baud", "921600"]);
    let image = otadeck_sim::firmware::quecpython_package("4.0.0", 3000);
    let mut script = String::from("import fota\nimport ubinascii\nf=fota()\n");
    for chunk in image.chunks(512) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(chunk);
        script.push_str(&format!(
            "print(f.write(ubinascii.a2b_base64(b'{b64}'),{}))\n",
            image.len()
        ));
    }
    script.push_str("print(f.verify())\n");
    let (ok, out, err) = mpremote(&sim.path, &["exec", &script]);
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), image.len().div_ceil(512) + 1, "{out}");
    assert!(
        lines.iter().all(|l| *l == "0"),
        "every write and the verify return 0: {out}"
    );
}
