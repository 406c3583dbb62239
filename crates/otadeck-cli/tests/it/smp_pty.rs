//! The simulated Zephyr / MCUboot module served by `otadeck sim mcuboot` on a pty, driven by
//! `otadeck flash|info|accept|rollback --protocol smp` in real time.

use crate::common;

use std::time::{Duration, Instant};

use common::{otadeck, scratch, PtySim};
use otadeck_core::link::smp::{Op, Packet};
use otadeck_core::link::smp_frame::{Frame, FrameDecoder};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = otadeck().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mcuboot_image(version: &str) -> String {
    let path = scratch(&format!("smp-{version}")).join("zephyr.signed.bin");
    let p = path.to_str().unwrap().to_string();
    let (ok, out, err) = run(&[
        "sim",
        "image",
        "--mcuboot",
        "--version",
        version,
        "--size",
        "40000",
        "-o",
        &p,
    ]);
    assert!(ok, "{out}{err}");
    p
}

#[test]
fn smp_flash_on_trial_info_accept_then_rollback_over_a_pty() {
    let sim = PtySim::start(&["mcuboot", "--baud", "921600"]);
    let fw = mcuboot_image("3.2.1");
    let port = [
        "--port",
        sim.path.as_str(),
        "--protocol",
        "smp",
        "--baud",
        "921600",
    ];
    let (ok, out, err) = run(&[&["info"][..], &port].concat());
    assert!(ok, "{out}{err}");
    assert!(out.contains("family:   Zephyr / MCUboot"), "{out}");
    assert!(out.contains("firmware: 1.0.0"), "{out}");
    assert!(
        out.contains("slot0 (running, next boot): valid, version 1.0.0"),
        "{out}"
    );

    let (ok, out, err) = run(&[&["flash"][..], &port, &["--no-accept", &fw]].concat());
    assert!(ok, "{out}{err}");
    assert!(out.contains("now runs 3.2.1"), "{out}");
    assert!(
        out.contains("slot0 (running): testing, version 3.2.1"),
        "{out}"
    );
    assert!(
        out.contains("slot1 (next boot): valid, version 1.0.0"),
        "{out}"
    );
    assert!(err.contains("flags bootable pending"), "{err}");

    let (ok, out, err) = run(&[&["accept"][..], &port].concat());
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("slot0 (running, next boot): valid, version 3.2.1"),
        "{out}"
    );

    // Rollback tests the other slot's image: 1.0.0 runs on trial.
    let (ok, out, err) = run(&[&["rollback"][..], &port].concat());
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("slot0 (running): testing, version 1.0.0"),
        "{out}"
    );

    // Flashing over an image on trial is refused, naming what to do.
    let (ok, out, _) = run(&[&["flash"][..], &port, &[fw.as_str()]].concat());
    assert!(!ok);
    assert!(out.contains("the running image is on trial"), "{out}");
    assert!(
        out.contains("Accept or roll back the firmware on trial first"),
        "{out}"
    );
}

#[test]
fn smp_refuses_a_file_that_is_no_mcuboot_image() {
    let sim = PtySim::start(&["mcuboot", "--baud", "921600"]);
    let path = scratch("smp-raw").join("app.bin");
    let junk: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, junk).unwrap();
    let (ok, _, out) = run(&[
        "flash",
        "--port",
        &sim.path,
        "--protocol",
        "smp",
        path.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        out.contains("modules do not take this raw data (they take: MCUboot image)"),
        "{out}"
    );
    assert!(out.contains("nothing was sent to the module"), "{out}");
}

#[test]
fn the_mcuboot_module_answers_the_echo_vector_over_websocket() {
    let (mut child, url) = common::sim_over_ws(&["mcuboot"]);
    let (mut socket, _) = tungstenite::connect(&url).unwrap();
    // PROTOCOLS 6.3: echo {"d":"hello"}, op 2, seq 0.
    let mut frame = vec![0x06, 0x09];
    frame.extend_from_slice(b"ABMCAAAJAAAAAKFhZGVoZWxsbyVv\n");
    socket.send(tungstenite::Message::binary(frame)).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    let mut decoder = FrameDecoder::new();
    let mut reply = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && reply.is_none() {
        if let Ok(tungstenite::Message::Binary(b)) = socket.read() {
            for f in decoder.push(&b) {
                if let Frame::Packet(p) = f {
                    reply = Some(Packet::decode(&p).unwrap());
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let reply = reply.expect("an answer frame");
    assert_eq!(reply.header.op, Op::WriteRsp);
    assert_eq!(
        (reply.header.group, reply.header.id, reply.header.seq),
        (0, 0, 0)
    );
    assert_eq!(reply.body.get("r").and_then(|v| v.as_text()), Some("hello"));
}
