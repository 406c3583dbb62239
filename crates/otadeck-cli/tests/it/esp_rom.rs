//! `otadeck flash|info|boot-slot --protocol esp-rom` over a real pseudo-terminal against
//! `otadeck sim esp32`, in real time. The reset steps fail silently on a pty (no modem lines)
//! and the session goes on to SYNC.

use crate::common;

use std::time::Duration;

use common::{otadeck, scratch, PtySim};

fn sample(dir: &std::path::Path, version: &str, size: usize) -> std::path::PathBuf {
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

fn otadeck_ok(args: &[&str]) -> String {
    let out = otadeck().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn flash_compressed_and_plain_then_info_and_switch_slots() {
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("esp-rom-pty");
    let a = sample(&dir, "3.0.0", 20_000);
    let b = sample(&dir, "3.0.1", 12_000);
    let p = sim.path.as_str();
    let out = otadeck_ok(&[
        "flash",
        "--port",
        p,
        "--protocol",
        "esp-rom",
        "--offset",
        "0x190000",
        "--no-restart",
        a.to_str().unwrap(),
    ]);
    assert!(
        out.contains("at 0x190000 on the ESP32 and verified them by MD5"),
        "{out}"
    );
    let back = dir.join("back.bin");
    let len = std::fs::metadata(&a).unwrap().len().to_string();
    let out = otadeck_ok(&[
        "read-flash",
        "--port",
        p,
        "--offset",
        "0x190000",
        "--size",
        &len,
        "-o",
        back.to_str().unwrap(),
    ]);
    assert!(out.contains("MD5 checked"), "{out}");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&a).unwrap());
    // Written by address: otadata still selects the app that ran.
    let out = otadeck_ok(&["info", "--port", p, "--protocol", "esp-rom"]);
    assert!(
        out.contains("ota_0 (running, next boot): valid, otadeck-demo 2.0.3"),
        "{out}"
    );
    assert!(
        out.contains("ota_1: undefined, otadeck-demo 3.0.0"),
        "{out}"
    );
    // With no address, an update goes into the slot that does not boot and boots next.
    let out = otadeck_ok(&[
        "flash",
        "--port",
        p,
        "--protocol",
        "esp-rom",
        "--plain",
        "--no-restart",
        b.to_str().unwrap(),
    ]);
    assert!(out.contains("into ota_1, which boots next,"), "{out}");
    let out = otadeck_ok(&["info", "--port", p, "--protocol", "esp-rom"]);
    assert!(
        out.contains("ota_1 (running, next boot): undefined, otadeck-demo 3.0.1"),
        "{out}"
    );
    let out = otadeck_ok(&["boot-slot", "--port", p, "--slot", "0"]);
    assert!(out.contains("next boot: ota_0"), "{out}");
    let out = otadeck_ok(&["info", "--port", p, "--protocol", "esp-rom"]);
    assert!(
        out.contains("ota_0 (running, next boot): undefined, otadeck-demo 2.0.3"),
        "{out}"
    );
    // A rollback reads the slots first and makes the other app boot next.
    let out = otadeck_ok(&["rollback", "--port", p, "--protocol", "esp-rom"]);
    assert!(out.contains("next boot: ota_1"), "{out}");
    let out = otadeck_ok(&["info", "--port", p, "--protocol", "esp-rom"]);
    assert!(
        out.contains("ota_1 (running, next boot): undefined, otadeck-demo 3.0.1"),
        "{out}"
    );
    // Out of the loader into what otadata selects.
    let out = otadeck_ok(&["restart", "--port", p]);
    assert!(
        out.contains("left its loader and boots the firmware otadata selects"),
        "{out}"
    );
}

#[test]
fn a_chip_that_vanishes_mid_write_is_reported_with_its_offset() {
    let mut sim = PtySim::start(&["esp32"]);
    let dir = scratch("esp-rom-vanish");
    let image = sample(&dir, "3.0.2", 200_000);
    let flash = otadeck()
        .args([
            "flash",
            "--port",
            &sim.path,
            "--protocol",
            "esp-rom",
            "--plain",
        ])
        .arg(&image)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // About 18 s of plain blocks at 115200 baud.
    std::thread::sleep(Duration::from_secs(3));
    sim.child.kill().unwrap();
    let out = flash.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Writing failed at byte"), "{stdout}");
    assert!(
        stdout.contains("still boots its previous firmware: otadata was not switched"),
        "{stdout}"
    );
}

#[test]
fn a_user_supplied_stub_is_loaded_before_the_write() {
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("esp-rom-stub");
    let image = sample(&dir, "3.0.3", 20_000);
    let stub = dir.join("stub.json");
    std::fs::write(
        &stub,
        r#"{"entry": 1074521580, "text": "AQIDBAUGBwg=", "text_start": 1074520064}"#,
    )
    .unwrap();
    let out = otadeck()
        .args([
            "flash",
            "--port",
            &sim.path,
            "--protocol",
            "esp-rom",
            "--no-restart",
            "--offset",
            "0x190000",
        ])
        .arg("--stub")
        .arg(&stub)
        .arg(&image)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the flasher stub is running"), "{stderr}");
    assert!(stderr.contains("blocks of 16384 bytes"), "{stderr}");
    assert!(
        stderr.contains("loading the flasher stub for the writes"),
        "the layout was read first: {stderr}"
    );
    std::fs::write(&stub, r#"{"text": "AQID"}"#).unwrap();
    let out = otadeck()
        .args([
            "flash",
            "--port",
            &sim.path,
            "--protocol",
            "esp-rom",
            "--stub",
        ])
        .arg(&stub)
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no numeric \"entry\""));
}

#[test]
fn the_rom_served_over_websocket_answers_sync_eight_times() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Instant;
    let mut child = otadeck()
        .args(["sim", "esp32", "--ws", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("ws: ")
        .expect("ws: <url>")
        .to_string();
    let (mut socket, _) = tungstenite::connect(&url).unwrap();
    let mut sync = vec![
        0xC0, 0x00, 0x08, 0x24, 0x00, 0, 0, 0, 0, 0x07, 0x07, 0x12, 0x20,
    ];
    sync.extend_from_slice(&[0x55; 32]);
    sync.push(0xC0);
    socket.send(tungstenite::Message::binary(sync)).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    let reply = [
        0xC0, 0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0, 0xC0,
    ];
    let mut heard = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && heard.len() < 8 * reply.len() {
        if let Ok(tungstenite::Message::Binary(b)) = socket.read() {
            heard.extend_from_slice(&b);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(heard, reply.repeat(8));
}

/// Start an update of a 200 KB image in plain blocks (about 18 s at 115200 baud), send `signal`
/// once it is writing, and give back the exit code and what it printed.
fn update_stopped_by(sim: &PtySim, image: &std::path::Path, signal: i32) -> (Option<i32>, String) {
    let child = otadeck()
        .args([
            "flash",
            "--port",
            &sim.path,
            "--protocol",
            "esp-rom",
            "--plain",
        ])
        .arg(image)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: sending a signal to our own child process.
    unsafe { nix::libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ctrl_c_and_sigterm_stop_an_update_like_cancel_and_the_cut_slot_is_never_booted() {
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("esp-rom-sigint");
    let image = sample(&dir, "3.0.4", 200_000);
    for signal in [nix::libc::SIGINT, nix::libc::SIGTERM] {
        let (code, stdout) = update_stopped_by(&sim, &image, signal);
        assert_eq!(code, Some(130), "{stdout}");
        assert!(stdout.contains("Writing stopped at byte"), "{stdout}");
        assert!(
            stdout.contains("still boots its previous firmware: otadata was not switched"),
            "{stdout}"
        );
    }
    let out = otadeck_ok(&["info", "--port", &sim.path, "--protocol", "esp-rom"]);
    assert!(out.contains("ota_0 (running, next boot): valid"), "{out}");
    assert!(out.contains("ota_1: undefined"), "{out}");
    assert!(
        out.contains("NOT BOOTABLE: the image is cut short"),
        "{out}"
    );
    let refused = otadeck()
        .args(["boot-slot", "--port", &sim.path, "--slot", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{text}");
    assert!(text.contains("ota_1 cannot be made to boot"), "{text}");
}
