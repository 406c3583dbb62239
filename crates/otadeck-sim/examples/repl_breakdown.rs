//! Where the virtual time of a MicroPython REPL session goes, per step: the ESP32 MicroPython,
//! Pycom and QuecPython drivers flashing a 256 KiB firmware-like image, at 115200 and 921600.
//!
//! A wrapper around the host machine watches the bytes both ways (nothing in the drivers is
//! changed for it) and cuts the session into segments:
//! - `handshake`: `\x05A\x01` leaves the host until the window size is back;
//! - `upload wire`: the code's bytes on the wire; `upload stall`: the rest of the upload (waiting
//!   for window credit);
//! - `compile ack`: the last byte of code sent until the module's `\x04` is back;
//! - `module run`: that `\x04` until the first output byte (the module's flash and CPU time, as
//!   the simulator models it, plus one byte time);
//! - `output`: the first output byte until the prompt;
//! - `drain`: interrupt sent until the raw REPL is requested; `enter`: that until its banner;
//! - `restart wait`: a restart exec's `\x04` until the host interrupts the rebooted module;
//! - `host gap`: anything else (timers the host waits out between the segments above).

use std::collections::BTreeMap;
use std::time::Duration;

use otadeck_core::driver::esp32_micropython::{Esp32MicroPython, Job};
use otadeck_core::driver::pycom::PycomFirmware;
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::session::{Machine, SessionEvent, Step};
use otadeck_sim::esp32_mp::{self, Esp32Config};
use otadeck_sim::firmware::{demo_image, demo_running_image, quecpython_running_package};
use otadeck_sim::harness::run;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::pycom::{self, PycomConfig};
use otadeck_sim::quecpython::{self, QuecPythonConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    Idle,
    Drain,
    Enter,
    /// Bytes of `R\x01` + window + `\x01` received so far.
    Handshake {
        got: u8,
    },
    Upload {
        code: usize,
    },
    AwaitAck,
    Run,
    Output {
        eots: u8,
    },
    RestartWait,
}

/// A machine that records where its time goes.
struct Probe<M> {
    inner: M,
    byte_time: Duration,
    tx_free: Duration,
    seg: Seg,
    since: Duration,
    step: Step,
    restarting: bool,
    execs: BTreeMap<String, u32>,
    time: BTreeMap<(String, &'static str), Duration>,
    now: Duration,
}

impl<M: Machine> Probe<M> {
    fn new(inner: M, baud: u32) -> Self {
        Probe {
            inner,
            byte_time: Duration::from_nanos(10_000_000_000 / u64::from(baud)),
            tx_free: Duration::ZERO,
            seg: Seg::Idle,
            since: Duration::ZERO,
            step: Step::Connect,
            restarting: false,
            execs: BTreeMap::new(),
            time: BTreeMap::new(),
            now: Duration::ZERO,
        }
    }

    fn add(&mut self, what: &'static str, d: Duration) {
        *self
            .time
            .entry((format!("{:?}", self.step), what))
            .or_default() += d;
    }

    /// Close the current segment at `at` and open `next`.
    fn to(&mut self, at: Duration, next: Seg) {
        let d = at.saturating_sub(self.since);
        match self.seg {
            Seg::Idle => self.add("host gap", d),
            Seg::Drain => self.add("drain", d),
            Seg::Enter => self.add("enter", d),
            Seg::Handshake { .. } => self.add("handshake", d),
            Seg::Upload { code } => {
                let wire = self.byte_time * code as u32;
                self.add("upload wire", wire.min(d));
                self.add("upload stall", d.saturating_sub(wire));
            }
            Seg::AwaitAck => self.add("compile ack", d),
            Seg::Run => self.add("module run", d),
            Seg::Output { .. } => self.add("output", d),
            Seg::RestartWait => self.add("restart wait", d),
        }
        self.seg = next;
        self.since = at;
    }

    fn sent(&mut self, data: &[u8]) {
        let start = self.tx_free.max(self.now);
        self.tx_free = start + self.byte_time * data.len() as u32;
        let end = self.tx_free;
        match (self.seg, data) {
            (_, b"\r\x03\x03") => self.to(self.now, Seg::Drain),
            (_, b"\r\x01") => self.to(self.now, Seg::Enter),
            (_, b"\x05A\x01") => self.to(self.now, Seg::Handshake { got: 0 }),
            (Seg::Upload { .. }, b"\x04") => self.to(end, Seg::AwaitAck),
            (Seg::Upload { code }, _) => {
                self.seg = Seg::Upload {
                    code: code + data.len(),
                }
            }
            _ => {}
        }
    }

    fn received(&mut self, data: &[u8]) {
        for &b in data {
            match (self.seg, b) {
                (Seg::Handshake { got }, _) if got < 4 => {
                    self.seg = Seg::Handshake { got: got + 1 }
                }
                (Seg::Handshake { .. }, _) => {
                    *self.execs.entry(format!("{:?}", self.step)).or_default() += 1;
                    self.to(self.now, Seg::Upload { code: 0 })
                }
                (Seg::AwaitAck, 0x04) if self.restarting => self.to(self.now, Seg::RestartWait),
                (Seg::AwaitAck, 0x04) => self.to(self.now, Seg::Run),
                (Seg::Run, 0x04) => self.to(self.now, Seg::Output { eots: 1 }),
                (Seg::Run, _) => self.to(self.now, Seg::Output { eots: 0 }),
                (Seg::Output { eots }, 0x04) => self.seg = Seg::Output { eots: eots + 1 },
                (Seg::Output { eots: 2 }, b'>') => self.to(self.now, Seg::Idle),
                (Seg::Enter, b'>') => self.to(self.now, Seg::Idle),
                _ => {}
            }
        }
    }

    fn report(&self, name: &str, baud: u32, total: Duration) {
        println!("\n{name} at {baud}: {:.2} s", total.as_secs_f64());
        let mut by_what: BTreeMap<&str, Duration> = BTreeMap::new();
        for ((step, what), d) in &self.time {
            if d.as_micros() >= 500 {
                println!(
                    "  {step:<10} {what:<13} {:>8.3} s  ({} execs in the step)",
                    d.as_secs_f64(),
                    self.execs.get(step).copied().unwrap_or(0)
                );
            }
            *by_what.entry(what).or_default() += *d;
        }
        let line: Vec<String> = by_what
            .iter()
            .map(|(w, d)| format!("{w} {:.2}", d.as_secs_f64()))
            .collect();
        println!("  totals: {}", line.join(", "));
    }
}

impl<M: Machine> Machine for Probe<M> {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        self.received(data);
        self.inner.handle_input(now, data);
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        self.inner.handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let tx = self.inner.poll_transmit()?;
        self.sent(&tx);
        Some(tx)
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        let ev = self.inner.poll_event()?;
        if let SessionEvent::Step(s) = &ev {
            self.to(self.now, self.seg);
            self.step = *s;
            self.restarting = *s == Step::Restart;
        }
        Some(ev)
    }
    fn cancel(&mut self, now: Duration) {
        self.inner.cancel(now);
    }
    fn link_lost(&mut self, now: Duration) {
        self.inner.link_lost(now);
    }
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

fn measure<M: Machine, D: Device>(name: &str, baud: u32, m: M, mut link: SimLink<D>, len: usize) {
    let mut p = Probe::new(m, baud);
    let r = run(
        &mut p,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(3600),
        None,
    );
    assert_eq!(r.outcome().bytes, len as u64);
    p.to(r.elapsed, Seg::Idle);
    p.report(name, baud, r.elapsed);
}

fn main() {
    let image = demo_image("9.9.9", 256 * 1024);
    let paste = RawPasteSupport::Window(128);
    for baud in [115_200u32, 921_600] {
        let link = SimLink::new(
            esp32_mp::device(Esp32Config::default(), demo_running_image(), paste),
            baud,
        );
        let job = Job::Flash {
            image: image.clone(),
            accept: true,
        };
        let s = Esp32MicroPython::start(Duration::ZERO, job, FlowConfig::default());
        measure("ESP32 MicroPython", baud, s, link, image.len());
        let link = SimLink::new(
            pycom::device(PycomConfig::default(), demo_running_image(), paste),
            baud,
        );
        let s = PycomFirmware::start(Duration::ZERO, Some(image.clone()), FlowConfig::default());
        measure("Pycom", baud, s, link, image.len());
        let link = SimLink::new(
            quecpython::device(
                QuecPythonConfig::default(),
                quecpython_running_package(),
                paste,
            ),
            baud,
        );
        let package = otadeck_sim::fota_package::build("9.9.9", &image);
        let s = QuecPythonSession::flash(Duration::ZERO, package.clone(), FotaOptions::default());
        measure("QuecPython", baud, s, link, package.len());
    }
}
