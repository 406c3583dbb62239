//! `otadeck bridge`: a serial device (here a simulated module's pty) reached over WebSocket, with
//! the documented control messages; and the same protocol from `otadeck sim --ws`.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use otadeck_core::link::ws_bridge::Control;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::common::{self, PtySim};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(url: &str) -> Socket {
    let (mut socket, _) = tungstenite::connect(url).unwrap();
    if let MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    socket
}

/// Read until `done` holds on (control messages, bytes) or 5 s pass.
fn read_until(
    socket: &mut Socket,
    done: impl Fn(&[Control], &str) -> bool,
) -> (Vec<Control>, String) {
    let (mut controls, mut bytes) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !done(&controls, &String::from_utf8_lossy(&bytes)) {
        match socket.read() {
            Ok(Message::Binary(b)) => bytes.extend_from_slice(&b),
            Ok(Message::Text(t)) => controls.push(Control::parse(&t).unwrap()),
            Ok(Message::Close(_)) => break,
            _ => {}
        }
    }
    (controls, String::from_utf8_lossy(&bytes).into_owned())
}

fn control(socket: &mut Socket, c: Control) {
    socket.send(Message::text(c.to_text())).unwrap();
}

#[test]
fn a_serial_port_is_reached_over_websocket_with_its_control_messages() {
    let sim = PtySim::start(&["pycom"]);
    let (mut bridge, url) =
        common::serving_ws(&["bridge", "--port", &sim.path, "--ws", "127.0.0.1:0"]);
    let mut socket = connect(&url);
    let (controls, _) = read_until(&mut socket, |c, _| !c.is_empty());
    assert_eq!(
        controls,
        [Control::Hello {
            port: sim.path.clone(),
            baud: 115_200
        }]
    );
    control(&mut socket, Control::Baud { baud: 921_600 });
    // The lines are held 300 ms before the next message is taken: the interrupt that follows
    // reaches the module no sooner.
    let sent = Instant::now();
    control(
        &mut socket,
        Control::Signals {
            dtr: Some(false),
            rts: Some(true),
            hold_ms: 300,
        },
    );
    socket
        .send(Message::binary(b"\x03\x03\r\x02".to_vec()))
        .unwrap();
    let (controls, heard) = read_until(&mut socket, |_, t| t.contains("FiPy with ESP32"));
    let waited = sent.elapsed();
    assert!(heard.contains("Pycom MicroPython"), "{heard}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(controls, [], "no error came back");
    // The port is let go when the client leaves, and opened again for the next one.
    socket.close(None).unwrap();
    drop(socket);
    let mut again = connect(&url);
    let (controls, _) = read_until(&mut again, |c, _| !c.is_empty());
    assert!(
        matches!(controls.first(), Some(Control::Hello { .. })),
        "{controls:?}"
    );
    let _ = bridge.kill();
    let _ = bridge.wait();
}

#[test]
fn a_port_that_cannot_be_opened_is_named_to_the_client() {
    let (mut bridge, url) = common::serving_ws(&[
        "bridge",
        "--port",
        "/dev/otadeck-no-such-port",
        "--ws",
        "127.0.0.1:0",
    ]);
    let mut socket = connect(&url);
    let (controls, _) = read_until(&mut socket, |c, _| !c.is_empty());
    match controls.first() {
        Some(Control::Error { message }) => {
            assert!(
                message.starts_with("cannot open /dev/otadeck-no-such-port"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let _ = bridge.kill();
    let _ = bridge.wait();
}

#[test]
fn a_simulated_module_over_websocket_says_hello_and_takes_a_baud_change() {
    let (mut child, url) = common::sim_over_ws(&["micropython-esp32"]);
    let mut socket = connect(&url);
    let (controls, _) = read_until(&mut socket, |c, _| !c.is_empty());
    assert_eq!(
        controls,
        [Control::Hello {
            port: "simulated module".into(),
            baud: 921_600
        }]
    );
    control(&mut socket, Control::Baud { baud: 115_200 });
    socket
        .send(Message::binary(b"\x03\x03\r\x02".to_vec()))
        .unwrap();
    let (_, heard) = read_until(&mut socket, |_, t| t.contains(">>>"));
    assert!(heard.contains("MicroPython"), "{heard}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_simulated_module_over_websocket_has_its_power_cut_from_standard_input() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_otadeck"))
        .args(["sim", "pycom", "--ws", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("ws: ").unwrap().to_string();
    let mut input = child.stdin.take().unwrap();
    writeln!(input, "power").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "boots: 2.0.3");
    // The boot's banner waits for the first client.
    let mut socket = connect(&url);
    let (_, heard) = read_until(&mut socket, |_, t| t.contains("FiPy with ESP32"));
    assert!(heard.contains("Pycom MicroPython"), "{heard}");
    // An unknown command is no answer (the next line is the next power cycle's).
    writeln!(input, "reset\npower").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "boots: 2.0.3");
    let _ = child.kill();
    let _ = child.wait();
}
