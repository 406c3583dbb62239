//! A real serial port as the core pump's [`Port`], and one call that runs a session over it.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use otadeck_core::module::ModuleInfo;
use otadeck_core::partition_state::PartitionState;
use otadeck_core::pump::{Port, PortError, Pump, Turn};
use otadeck_core::session::{FlashError, FlashOutcome, Machine, SessionEvent, SignalStep};

use crate::interrupt;
use crate::term::Reporter;

/// How long one read waits before the pump looks at the clock again.
const READ_SLICE: Duration = Duration::from_millis(5);

/// An open serial device and the clock of the session on it.
pub struct SerialLink {
    port: Box<dyn serialport::SerialPort>,
    path: String,
    baud: u32,
    /// The USB identity of the port, when the system tells it: a module that comes back under
    /// another path is found by it.
    usb: Option<serialport::UsbPortInfo>,
    start: Instant,
    chunk: Box<[u8; 4096]>,
}

/// How often a restarting module's port is looked for.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// The USB identity of the serial device at `path`, if the system lists one.
fn usb_identity(path: &str) -> Option<serialport::UsbPortInfo> {
    let wanted = std::fs::canonicalize(path).ok()?;
    serialport::available_ports()
        .ok()?
        .into_iter()
        .find(|p| std::fs::canonicalize(&p.port_name).ok().as_ref() == Some(&wanted))
        .and_then(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(info) => Some(info),
            _ => None,
        })
}

/// The path of a serial device with this USB identity, if one is listed now.
fn find_by_identity(usb: &serialport::UsbPortInfo) -> Option<String> {
    serialport::available_ports()
        .ok()?
        .into_iter()
        .find(|p| match &p.port_type {
            serialport::SerialPortType::UsbPort(info) => {
                info.vid == usb.vid
                    && info.pid == usb.pid
                    && info.serial_number == usb.serial_number
            }
            _ => false,
        })
        .map(|p| p.port_name)
}

impl SerialLink {
    /// Open `path` at `baud`; the session's time counts from `start`.
    pub fn open(path: &str, baud: u32, start: Instant) -> Result<Self, String> {
        let port = serialport::new(path, baud)
            .timeout(READ_SLICE)
            .open()
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        Ok(SerialLink {
            port,
            path: path.to_string(),
            baud,
            usb: usb_identity(path),
            start,
            chunk: Box::new([0; 4096]),
        })
    }
}

impl Port for SerialLink {
    fn now(&mut self) -> Duration {
        self.start.elapsed()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        self.port
            .write_all(bytes)
            .and_then(|_| self.port.flush())
            .map_err(|e| PortError::Gone(format!("writing to {}: {e}", self.path)))
    }

    /// A pty or a network bridge has no modem lines: a line that cannot be set is no error.
    fn set_signals(&mut self, step: SignalStep) -> Result<(), PortError> {
        if let Some(dtr) = step.dtr {
            let _ = self.port.write_data_terminal_ready(dtr);
        }
        if let Some(rts) = step.rts {
            let _ = self.port.write_request_to_send(rts);
        }
        Ok(())
    }

    /// Switch the rate. The rate is kept even when the port is gone, so that the port found
    /// again after a restart opens at it.
    fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        self.baud = baud;
        self.port.set_baud_rate(baud).map_err(|e| {
            PortError::Gone(format!("cannot switch {} to {baud} baud: {e}", self.path))
        })
    }

    /// Look for the module's port again, under its path or (when the system tells USB
    /// identities) under any path with the same vendor, product and serial number, and reopen it.
    fn reconnect(
        &mut self,
        _reset: bool,
        until: Duration,
    ) -> Result<Option<Vec<otadeck_core::session::UsbAlt>>, PortError> {
        while self.start.elapsed() < until {
            if interrupt::requested() {
                return Err(PortError::Stopped);
            }
            std::thread::sleep(LOOK_EVERY);
            let path = match &self.usb {
                Some(usb) if !std::path::Path::new(&self.path).exists() => {
                    match find_by_identity(usb) {
                        Some(p) => p,
                        None => continue,
                    }
                }
                _ => self.path.clone(),
            };
            // The old path may still be there for a moment, dead: only a port that opens counts.
            if let Ok(port) = serialport::new(&path, self.baud).timeout(READ_SLICE).open() {
                if path != self.path {
                    eprintln!("otadeck: the module came back as {path}");
                    self.path = path;
                }
                self.port = port;
                return Ok(Some(Vec::new()));
            }
        }
        Ok(None)
    }

    fn read(&mut self, _deadline: Option<Duration>, buf: &mut Vec<u8>) -> Result<(), PortError> {
        match self.port.read(&mut self.chunk[..]) {
            Ok(n) => {
                buf.extend_from_slice(&self.chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(PortError::Gone(format!("reading {}: {e}", self.path))),
        }
    }
}

/// What a session over a serial port left behind.
pub struct Ran {
    /// How it ended.
    pub result: Result<FlashOutcome, FlashError>,
    /// The slots the module reported last.
    pub slots: Option<PartitionState>,
    /// What the module said it is, last.
    pub module: Option<ModuleInfo>,
    /// Flash read back, with its address.
    pub read_back: Option<(u32, Vec<u8>)>,
}

/// Run `machine` over the serial device at `path` until it finishes, showing its events on
/// stderr (wire detail too when `OTADECK_VERBOSE` is set).
pub fn run(
    machine: &mut dyn Machine,
    path: &str,
    baud: u32,
    start: Instant,
) -> Result<Ran, String> {
    interrupt::install();
    let mut link = SerialLink::open(path, baud, start)?;
    let mut reporter = Reporter::new(std::env::var_os("OTADECK_VERBOSE").is_some());
    let (mut slots, mut module, mut read_back) = (None, None, None);
    let mut on_event = |event: SessionEvent| {
        reporter.event(start.elapsed(), &event);
        match event {
            SessionEvent::Partitions(p) => slots = Some(p),
            SessionEvent::Identified(m) => module = Some(m),
            SessionEvent::ReadBack { offset, data } => read_back = Some((offset, data)),
            _ => {}
        }
    };
    let mut pump = Pump::new();
    let mut cancelled = false;
    let result = loop {
        if interrupt::requested() && !cancelled {
            cancelled = true;
            machine.cancel(start.elapsed());
        }
        match pump.turn(machine, &mut link, &mut on_event) {
            Turn::Waited => {}
            Turn::Finished(r) => break r,
            Turn::Stopped => break None,
        }
    };
    let result = result.ok_or("the session on the port ended without a result")?;
    Ok(Ran {
        result,
        slots,
        module,
        read_back,
    })
}
