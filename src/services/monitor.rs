//! The serial monitor: what the module prints while no session runs, as timestamped lines, and
//! text sent to it with the line ending the technician chose. It borrows the link's inbox and
//! gives it back the moment a session needs the port.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use otadeck_core::session::LogLevel;

use super::device::DeviceSession;
use super::store::Store;

/// Lines kept; older ones are dropped.
pub const MAX_LINES: usize = 2000;
/// How often the monitor looks whether a session wants the port back.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// Who wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The module.
    FromModule,
    /// The technician.
    ToModule,
}

/// One line of the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorLine {
    /// Local time it began, `HH:MM:SS`.
    pub time: String,
    /// Who wrote it.
    pub direction: Direction,
    /// Its text, control characters shown as `\xNN` (CR and LF dropped).
    pub text: String,
}

/// What the monitor card shows.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MonitorView {
    /// It holds the port now.
    pub running: bool,
    /// Complete lines, oldest first.
    pub lines: Vec<MonitorLine>,
    /// The line the module is still printing.
    pub partial: String,
    /// Lines dropped at the front to stay under [`MAX_LINES`].
    pub dropped: usize,
}

impl MonitorView {
    fn push(&mut self, direction: Direction, text: String) {
        self.lines.push(MonitorLine {
            time: crate::clock::wall_clock(),
            direction,
            text,
        });
        if self.lines.len() > MAX_LINES {
            let extra = self.lines.len() - MAX_LINES;
            self.lines.drain(..extra);
            self.dropped += extra;
        }
    }

    /// Bytes from the module: complete lines move to `lines`.
    fn received(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => {
                    let line = std::mem::take(&mut self.partial);
                    self.push(Direction::FromModule, line);
                }
                b'\r' => {}
                b'\t' | 0x20..=0x7E => self.partial.push(b as char),
                0x80..=0xFF => self.partial.push(char::from(b)),
                _ => self.partial.push_str(&format!("\\x{b:02x}")),
            }
        }
    }

    /// The whole monitor as text, one line each, for saving.
    pub fn to_text(&self, timestamps: bool) -> String {
        let mut out = String::new();
        for l in &self.lines {
            if timestamps {
                out.push_str(&l.time);
                out.push(' ');
            }
            if l.direction == Direction::ToModule {
                out.push_str("> ");
            }
            out.push_str(&l.text);
            out.push('\n');
        }
        out.push_str(&self.partial);
        out
    }
}

/// A line ending to send after the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    /// Nothing.
    None,
    /// `\n`.
    Lf,
    /// `\r`.
    Cr,
    /// `\r\n`.
    CrLf,
}

impl LineEnding {
    /// The bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::None => b"",
            LineEnding::Lf => b"\n",
            LineEnding::Cr => b"\r",
            LineEnding::CrLf => b"\r\n",
        }
    }
}

/// The monitor's state on a device: its view, and the flag that asks its reader to stop.
#[derive(Default)]
pub struct Monitor {
    /// What the card shows.
    pub view: Store<MonitorView>,
    stop: Rc<Cell<bool>>,
}

impl DeviceSession {
    /// Show what the module prints, until [`Self::stop_monitor`] (or a session wanting the
    /// port). Nothing happens while a session runs or nothing is connected.
    pub fn start_monitor(&self) {
        let Some(conn) = self.connection() else {
            return;
        };
        if self.view.get().busy || self.monitor.view.get().running {
            return;
        }
        let inbox = conn.inbox();
        let Some(mut rx) = inbox.take() else {
            return;
        };
        let stop = self.monitor.stop.clone();
        stop.set(false);
        let view = self.monitor.view.clone();
        view.update(|v| v.running = true);
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                if stop.get() {
                    break;
                }
                let sleep = gloo::timers::future::sleep(CHECK_EVERY);
                match select(rx.next(), sleep).await {
                    Either::Left((Some(Ok(bytes)), _)) => view.update(|v| v.received(&bytes)),
                    Either::Left((Some(Err(e)), _)) => {
                        view.update(|v| v.push(Direction::FromModule, format!("[{e}]")));
                        break;
                    }
                    Either::Left((None, _)) => break,
                    Either::Right(_) => {}
                }
            }
            inbox.put_back(rx);
            view.update(|v| v.running = false);
        });
    }

    /// Stop the monitor and wait until it gave the port back.
    pub async fn stop_monitor(&self) {
        if !self.monitor.view.get().running {
            return;
        }
        self.monitor.stop.set(true);
        for _ in 0..40 {
            if !self.monitor.view.get().running {
                return;
            }
            gloo::timers::future::sleep(CHECK_EVERY).await;
        }
    }

    /// Send `text` and `ending` to the module (the monitor shows it as a line of its own).
    pub async fn monitor_send(&self, text: &str, ending: LineEnding) {
        let Some(conn) = self.connection() else {
            return;
        };
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(ending.bytes());
        self.monitor
            .view
            .update(|v| v.push(Direction::ToModule, text.to_string()));
        if let Err(e) = conn.write(&bytes).await {
            self.log(LogLevel::Error, format!("The monitor could not send: {e}"));
        }
    }

    /// Switch the line to `baud` for the monitor.
    pub async fn monitor_baud(&self, baud: u32) {
        let Some(conn) = self.connection() else {
            return;
        };
        let was_running = self.monitor.view.get().running;
        self.stop_monitor().await;
        match conn.set_baud(baud).await {
            Ok(()) => {
                self.requested_baud.set(baud);
                self.log(LogLevel::Info, format!("The line now runs at {baud} baud"));
            }
            Err(e) => self.log(LogLevel::Error, format!("{e}")),
        }
        if was_running {
            self.start_monitor();
        }
    }

    /// The rate of the serial line connected now (`None` for a USB device or nothing).
    pub fn line_baud(&self) -> Option<u32> {
        self.connection().and_then(|c| c.baud())
    }

    /// Forget the monitor's lines.
    pub fn clear_monitor(&self) {
        self.monitor.view.update(|v| {
            v.lines.clear();
            v.partial.clear();
            v.dropped = 0;
        });
    }
}
