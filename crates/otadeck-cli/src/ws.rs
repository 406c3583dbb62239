//! The WebSocket serial bridge (`otadeck bridge`) and a simulated module served the same way
//! (`otadeck sim … --ws`): one client at a time, binary messages carrying the serial bytes each
//! way, text messages carrying the control messages of `otadeck_core::link::ws_bridge`. A
//! simulated module also obeys lines on standard input: `power` cuts its power and restores it,
//! then prints `boots: <version>`, the firmware its bootloader started.

use std::io::{BufRead, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use otadeck_core::link::ws_bridge::Control;
use otadeck_sim::demo::DemoModule;
use otadeck_sim::line::SimLink;
use tungstenite::{Error, Message, WebSocket};

/// How long one turn waits for the client before looking at the line.
const TURN: Duration = Duration::from_millis(2);
/// Time a simulated module is given to boot after its power comes back.
const BOOT: Duration = Duration::from_secs(10);

/// What sits behind the WebSocket: a serial port or a simulated module.
pub trait Line {
    /// Called when a client connects: open what needs opening. The text names the port.
    fn attach(&mut self) -> Result<String, String>;
    /// The client left: let go of the port so that other tools can use it.
    fn detach(&mut self) {}
    /// Bytes from the client to the module.
    fn write(&mut self, now: Duration, data: &[u8]) -> Result<(), String>;
    /// Bytes from the module to the client (empty when none came).
    fn read(&mut self, now: Duration) -> Result<Vec<u8>, String>;
    /// Switch the rate.
    fn set_baud(&mut self, baud: u32) -> Result<(), String>;
    /// The rate now.
    fn baud(&self) -> u32;
    /// Set the modem lines.
    fn set_signals(&mut self, dtr: Option<bool>, rts: Option<bool>) -> Result<(), String>;
    /// Cut the module's power at `now` and restore it; after `boot`, the firmware it runs.
    fn power_cycle(&mut self, _now: Duration, _boot: Duration) -> Result<String, String> {
        Err("a real port has no power switch here".into())
    }
}

impl Line for SimLink<DemoModule> {
    fn attach(&mut self) -> Result<String, String> {
        Ok("simulated module".into())
    }
    fn write(&mut self, now: Duration, data: &[u8]) -> Result<(), String> {
        self.host_write(now, data);
        Ok(())
    }
    fn read(&mut self, now: Duration) -> Result<Vec<u8>, String> {
        Ok(self.host_read(now))
    }
    fn set_baud(&mut self, baud: u32) -> Result<(), String> {
        SimLink::set_baud(self, baud);
        Ok(())
    }
    fn baud(&self) -> u32 {
        SimLink::baud(self)
    }
    /// The simulated modules wait in whatever loader they simulate: the lines change nothing.
    fn set_signals(&mut self, _dtr: Option<bool>, _rts: Option<bool>) -> Result<(), String> {
        Ok(())
    }
    fn power_cycle(&mut self, now: Duration, boot: Duration) -> Result<String, String> {
        self.replug(now);
        self.device.power_cycle(now);
        self.advance(now + boot);
        Ok(self.device.running_version())
    }
}

/// The simulation's clock: the time since start, plus the time skipped while modules booted.
struct Clock {
    start: Instant,
    skipped: Duration,
}

impl Clock {
    fn now(&self) -> Duration {
        self.start.elapsed() + self.skipped
    }
}

/// The lines typed on standard input, as they come (read on a thread of their own).
fn stdin_lines() -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Obey what came on standard input since the last turn.
fn obey(line: &mut impl Line, commands: &Receiver<String>, clock: &mut Clock) {
    loop {
        let command = match commands.try_recv() {
            Ok(c) => c,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
        };
        match command.trim() {
            "power" => {
                let answer = match line.power_cycle(clock.now(), BOOT) {
                    Ok(version) => {
                        clock.skipped += BOOT;
                        format!("boots: {version}")
                    }
                    Err(e) => format!("error: {e}"),
                };
                println!("{answer}");
                let _ = std::io::stdout().flush();
            }
            "" => {}
            other => eprintln!("otadeck: unknown command {other:?} (known: power)"),
        }
    }
}

/// Serve `line` on `addr` until the process is stopped; the first line printed is
/// `ws: ws://<addr>`.
pub fn serve_ws(mut line: impl Line, addr: &str) -> Result<ExitCode, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("ws: ws://{local}");
    let _ = std::io::stdout().flush();
    let mut clock = Clock {
        start: Instant::now(),
        skipped: Duration::ZERO,
    };
    let commands = stdin_lines();
    loop {
        obey(&mut line, &commands, &mut clock);
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Nobody connected: what the module prints waits for the next client.
                std::thread::sleep(TURN);
                continue;
            }
            Err(_) => continue,
        };
        let _ = stream.set_nonblocking(false);
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "a client".into(), |a| a.to_string());
        let mut socket = match tungstenite::accept(stream) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("otadeck: WebSocket handshake failed: {e}");
                continue;
            }
        };
        eprintln!("otadeck: {peer} connected");
        let why = serve_client(&mut line, &mut socket, &commands, &mut clock);
        line.detach();
        eprintln!("otadeck: {peer} left: {why}");
    }
}

fn send(socket: &mut WebSocket<TcpStream>, control: &Control) -> Result<(), String> {
    socket
        .send(Message::text(control.to_text()))
        .map_err(|e| format!("the client went away: {e}"))
}

/// Tell the client what failed and close the connection; the message is the reason it ended.
fn give_up(socket: &mut WebSocket<TcpStream>, message: String) -> String {
    let error = Control::Error {
        message: message.clone(),
    };
    let _ = send(socket, &error);
    let _ = socket.close(None);
    message
}

/// Carry bytes and control messages between one client and the line until either ends; the
/// result says why it ended.
fn serve_client(
    line: &mut impl Line,
    socket: &mut WebSocket<TcpStream>,
    commands: &Receiver<String>,
    clock: &mut Clock,
) -> String {
    let port = match line.attach() {
        Ok(p) => p,
        Err(message) => return give_up(socket, message),
    };
    let _ = socket.get_mut().set_read_timeout(Some(TURN));
    let hello = Control::Hello {
        port,
        baud: line.baud(),
    };
    if let Err(e) = send(socket, &hello) {
        return e;
    }
    loop {
        let turn = match socket.read() {
            Ok(Message::Binary(data)) => line.write(clock.now(), &data),
            Ok(Message::Text(text)) => apply(line, &text),
            Ok(Message::Close(_)) => return "it closed the connection".into(),
            Ok(_) => Ok(()),
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Err(e) => return format!("the connection failed: {e}"),
        };
        obey(line, commands, clock);
        let out = turn.and_then(|()| line.read(clock.now()));
        match out {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => {
                if let Err(e) = socket.send(Message::binary(bytes)) {
                    return format!("the connection failed: {e}");
                }
            }
            Err(message) => return give_up(socket, message),
        }
    }
}

/// Act on one control message; a bad message is answered with an error and the link stays.
fn apply(line: &mut impl Line, text: &str) -> Result<(), String> {
    match Control::parse(text) {
        Ok(Control::Baud { baud }) => line.set_baud(baud),
        Ok(Control::Signals { dtr, rts, hold_ms }) => {
            line.set_signals(dtr, rts)?;
            std::thread::sleep(Duration::from_millis(hold_ms.into()));
            Ok(())
        }
        Ok(other) => {
            eprintln!("otadeck: ignored a message meant for the client: {other:?}");
            Ok(())
        }
        Err(e) => {
            eprintln!("otadeck: {e}");
            Ok(())
        }
    }
}

/// A real serial port behind the bridge, opened while a client is connected.
pub struct SerialLine {
    path: String,
    baud: u32,
    port: Option<Box<dyn serialport::SerialPort>>,
    chunk: Vec<u8>,
}

impl SerialLine {
    /// The port at `path`, opened at `baud` when a client connects.
    pub fn new(path: &str, baud: u32) -> Self {
        SerialLine {
            path: path.to_string(),
            baud,
            port: None,
            chunk: vec![0; 16 * 1024],
        }
    }

    fn port(&mut self) -> Result<&mut Box<dyn serialport::SerialPort>, String> {
        let path = &self.path;
        self.port
            .as_mut()
            .ok_or_else(|| format!("{path} is not open"))
    }
}

impl Line for SerialLine {
    fn attach(&mut self) -> Result<String, String> {
        let port = serialport::new(&self.path, self.baud)
            .timeout(Duration::from_millis(1))
            .open()
            .map_err(|e| format!("cannot open {}: {e}", self.path))?;
        self.port = Some(port);
        Ok(self.path.clone())
    }

    fn detach(&mut self) {
        self.port = None;
    }

    fn write(&mut self, _now: Duration, data: &[u8]) -> Result<(), String> {
        use std::io::Write;
        let path = self.path.clone();
        let port = self.port()?;
        port.write_all(data)
            .and_then(|_| port.flush())
            .map_err(|e| format!("{path} failed: {e} (was the cable pulled?)"))
    }

    fn read(&mut self, _now: Duration) -> Result<Vec<u8>, String> {
        use std::io::{ErrorKind, Read};
        let path = self.path.clone();
        let mut chunk = std::mem::take(&mut self.chunk);
        let got = self.port()?.read(&mut chunk);
        let result = match got {
            Ok(n) => Ok(chunk[..n].to_vec()),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(format!("{path} failed: {e} (was the cable pulled?)")),
        };
        self.chunk = chunk;
        result
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), String> {
        let path = self.path.clone();
        self.port()?
            .set_baud_rate(baud)
            .map_err(|e| format!("cannot switch {path} to {baud} baud: {e}"))?;
        self.baud = baud;
        Ok(())
    }

    fn baud(&self) -> u32 {
        self.baud
    }

    /// A pty has no modem lines: a line that cannot be set is no error (as in `otadeck flash`).
    fn set_signals(&mut self, dtr: Option<bool>, rts: Option<bool>) -> Result<(), String> {
        let port = self.port()?;
        if let Some(dtr) = dtr {
            let _ = port.write_data_terminal_ready(dtr);
        }
        if let Some(rts) = rts {
            let _ = port.write_request_to_send(rts);
        }
        Ok(())
    }
}
