//! The ESP32 MicroPython, Pycom and NodeMCU simulators served by `otadeck sim` on a pty and over
//! WebSocket, driven by `otadeck info`, `flash`, `accept` and `rollback` in real time.

use crate::common;

use std::time::{Duration, Instant};

use common::{otadeck, scratch, PtySim};

fn run(args: &[&str]) -> (bool, String) {
    let out = otadeck().args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn image(version: &str) -> String {
    let path = scratch(&format!("fam-{version}")).join("fw.bin");
    let p = path.to_str().unwrap().to_string();
    assert!(
        run(&[
            "sim",
            "image",
            "--version",
            version,
            "--size",
            "30000",
            "-o",
            &p
        ])
        .0
    );
    p
}

#[test]
fn info_without_a_protocol_finds_each_family() {
    for (sim, family) in [
        ("micropython-esp32", "family:   ESP32 MicroPython"),
        ("pycom", "family:   Pycom"),
        ("quecpython", "family:   QuecPython"),
        ("nodemcu", "family:   NodeMCU"),
    ] {
        let sim_proc = PtySim::start(&[sim, "--baud", "921600"]);
        let (ok, out) = run(&["info", "--port", &sim_proc.path]);
        assert!(ok, "{out}");
        assert!(out.contains(family), "{sim}: {out}");
    }
}

#[test]
fn esp32_flash_on_trial_then_rollback_over_a_pty() {
    let sim = PtySim::start(&["micropython-esp32", "--baud", "921600"]);
    let fw = image("4.0.1");
    let port = [
        "--port",
        sim.path.as_str(),
        "--protocol",
        "micropython-esp32",
    ];
    let mut args = vec!["flash"];
    args.extend(port);
    args.extend(["--no-accept", &fw]);
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    assert!(out.contains("the module now runs 4.0.1"), "{out}");
    assert!(out.contains("ota_1 (running, next boot): testing"), "{out}");
    let mut args = vec!["rollback"];
    args.extend(port);
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    let mut args = vec!["info"];
    args.extend(port);
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    assert!(out.contains("firmware: 2.0.3"), "{out}");
    assert!(out.contains("ota_1: aborted"), "{out}");
}

#[test]
fn nodemcu_flash_on_trial_then_accept_over_a_pty() {
    // The console runs at 115200; the write goes at 921600 (`uart.setup`), and the simulated
    // console garbles what crosses at another rate than the one the port was set to.
    let sim = PtySim::start(&["nodemcu"]);
    let fw = image("4.0.2");
    let port = ["--port", sim.path.as_str(), "--protocol", "nodemcu"];
    let mut args = vec!["flash"];
    args.extend(port);
    args.extend(["--no-accept", &fw]);
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    assert!(
        out.contains("Switching the console to 921600 baud for the write"),
        "{out}"
    );
    assert!(out.contains("the module now runs 4.0.2"), "{out}");
    assert!(out.contains("ota_1 (running, next boot): testing"), "{out}");
    let mut args = vec!["accept"];
    args.extend(port);
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    assert!(out.contains("ota_1 (running, next boot): valid"), "{out}");
    let mut args = vec!["info"];
    args.extend(port);
    let (ok, out) = run(&args);
    assert!(ok, "{out}");
    assert!(out.contains("family:   NodeMCU"), "{out}");
    assert!(out.contains("firmware: 4.0.2"), "{out}");
    // A file that is not firmware is refused before anything is written.
    let junk = scratch("nodemcu-junk").join("junk.bin");
    for (bytes, says) in [
        (
            &b"not firmware at all"[..],
            "this is a text file (plain text), not firmware",
        ),
        (
            &[0x00, 0xff, 0x13, 0x37, 0xe9][..],
            "do not take this raw data",
        ),
    ] {
        std::fs::write(&junk, bytes).unwrap();
        let mut args = vec!["flash"];
        args.extend(port);
        args.push(junk.to_str().unwrap());
        let (ok, out) = run(&args);
        assert!(!ok, "{out}");
        assert!(out.contains(says), "{out}");
        assert!(out.contains("nothing was sent to the module"), "{out}");
    }
}

#[test]
fn a_module_served_over_websocket_answers_like_on_a_serial_port() {
    let (mut child, url) = common::sim_over_ws(&["pycom"]);
    let (mut socket, _) = tungstenite::connect(&url).unwrap();
    // An interrupt and a banner request, as detection sends them.
    socket
        .send(tungstenite::Message::binary(b"\x03\x03\r\x02".to_vec()))
        .unwrap();
    let mut heard = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    while Instant::now() < deadline && !String::from_utf8_lossy(&heard).contains("FiPy with ESP32")
    {
        if let Ok(tungstenite::Message::Binary(b)) = socket.read() {
            heard.extend_from_slice(&b);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&heard);
    assert!(text.contains("Pycom MicroPython"), "{text}");
}
