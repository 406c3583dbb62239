//! What answers on a serial port: MicroPython (and which firmware: QuecPython, Pycom, an ESP32
//! port, another port), NodeMCU's Lua prompt, an MCUmgr SMP server (Zephyr, MCUboot), or nothing.
//! It costs a running application no more than an interrupt: Ctrl-C twice and a carriage return,
//! then, only when a MicroPython prompt answered, Ctrl-B to have the banner printed. When no REPL
//! answered, one SMP echo request asks whether an SMP server listens (a console that is not SMP
//! ignores the frame).
//!
//! A module a cut-off session left behind is found too: a MicroPython raw REPL (its `>` prompt)
//! is left with Ctrl-B for the banner, and a garbled answer is asked again at NodeMCU's write
//! rate, where a write cut short leaves its console; a Lua prompt there has its console set back
//! to the port's rate, as a boot would.

use std::collections::VecDeque;
use std::time::Duration;

use crate::driver::nodemcu::speed::uart_setup_line;
use crate::family::NODEMCU_WRITE_BAUD;
use crate::link::smp::{Op, Packet, GROUP_OS, ID_ECHO};
use crate::link::smp_cbor::Value;
use crate::link::smp_frame::{self, Frame, FrameDecoder};
use crate::module::{Family, ModuleInfo};
use crate::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};

/// How long the port may stay silent after the interrupt before it is called silent.
pub const ANSWER_TIMEOUT: Duration = Duration::from_millis(1500);
/// Quiet time that ends an answer.
const QUIET: Duration = Duration::from_millis(150);
/// Time given to a port switching its rate before anything is sent at the new one.
const SETTLE: Duration = Duration::from_millis(50);
/// The interrupt: Ctrl-C twice and a carriage return.
const INTERRUPT: &[u8] = b"\x03\x03\r";

/// A MicroPython raw REPL at its `>` prompt (a session left it there): after the end-of-output
/// marks of the run the interrupt stopped, or after its greeting.
fn raw_repl_prompt(text: &str) -> bool {
    text.ends_with("\x04>") || text.ends_with("CTRL-B to exit\n>")
}

/// Bytes no console prints: what crosses a line whose two ends run at different rates.
fn garbled(rx: &[u8]) -> bool {
    rx.iter()
        .any(|&b| b >= 0x80 || (b < 0x20 && !matches!(b, b'\r' | b'\n' | b'\t' | 0x04 | 0x1b)))
}

/// What a banner or prompt says the module is.
pub fn classify(banner: &str) -> Option<ModuleInfo> {
    if let Some(line) = banner.lines().find(|l| l.contains("MicroPython")) {
        let line = line.trim();
        let (head, machine) = line.split_once("; ").unwrap_or((line, ""));
        let machine = machine.trim().to_string();
        let version = head
            .split_whitespace()
            .find(|w| w.starts_with('v') || w.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or("")
            .to_string();
        let family = if line.starts_with("Pycom") {
            Family::Pycom
        } else if machine.contains("QUECTEL") || line.contains("QuecPython") {
            Family::QuecPython
        } else if machine.contains("ESP32") {
            Family::Esp32MicroPython
        } else {
            Family::MicroPython
        };
        let model = machine
            .split(" with ")
            .next()
            .unwrap_or_default()
            .to_string();
        return Some(ModuleInfo {
            details: Default::default(),
            family,
            model,
            firmware_version: version.clone(),
            runtime: format!("MicroPython {version}"),
        });
    }
    let lua_prompt = banner.ends_with("\n> ") || banner == "> " || banner.contains("Lua error:");
    (lua_prompt || banner.contains("NodeMCU")).then(|| ModuleInfo {
        details: Default::default(),
        family: Family::NodeMcu,
        model: "ESP32".into(),
        firmware_version: String::new(),
        runtime: banner
            .lines()
            .find_map(|l| l.find("Lua ").map(|i| l[i..].trim().to_string()))
            .unwrap_or_else(|| "Lua".into()),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Interrupt sent; collecting the answer.
    Interrupt {
        deadline: Duration,
    },
    /// Ctrl-B sent; collecting the banner.
    Banner {
        deadline: Duration,
    },
    /// No REPL answered; an SMP echo request was sent.
    Smp {
        deadline: Duration,
    },
    /// The port is switching to `rate`; the interrupt goes out `at`.
    Switched {
        at: Duration,
        rate: u32,
    },
    /// A Lua prompt answered at the write rate: the line that sets the console back to the
    /// port's rate was sent; its echo (or the deadline) switches the port back.
    Restore {
        deadline: Duration,
    },
    /// Nothing answered at the other rate either: the port is back at its own rate, and the
    /// SMP probe goes out `at`.
    Returned {
        at: Duration,
    },
    Finished,
}

/// A session that only finds out what answers. Ends with [`SessionEvent::Identified`] and a
/// successful outcome, or an error that says nothing answered.
#[derive(Debug)]
pub struct Detector {
    phase: Phase,
    rx: Vec<u8>,
    last_rx: Option<Duration>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    /// What answered the interrupt, kept for the error when the SMP probe finds nothing either.
    heard: String,
    frames: FrameDecoder,
    /// The port's rate when the session started (`None`: unknown, no other rate is tried).
    line_baud: Option<u32>,
    /// The rate the port runs at now, when the session switched it.
    rate_now: Option<u32>,
    /// A rate to switch the port to.
    baud: Option<u32>,
}

/// The text the SMP probe echoes.
const SMP_PROBE: &str = "otadeck";
/// Sequence number of the SMP probe.
const SMP_PROBE_SEQ: u8 = 0x5a;

/// The SMP echo request the probe sends, framed for the serial console.
fn smp_probe_frame() -> Vec<u8> {
    let packet = Packet::new(
        Op::Write,
        0,
        GROUP_OS,
        ID_ECHO,
        SMP_PROBE_SEQ,
        Value::map([("d", Value::Text(SMP_PROBE.into()))]),
    );
    smp_frame::encode(&packet.encode())
}

/// True when `packet` answers the probe.
fn answers_probe(packet: &[u8]) -> bool {
    Packet::decode(packet).is_ok_and(|p| {
        p.header.op == Op::WriteRsp
            && p.header.group == GROUP_OS
            && p.header.id == ID_ECHO
            && p.header.seq == SMP_PROBE_SEQ
    })
}

impl Detector {
    /// Send the interrupt at `now`, on a port whose rate is not known.
    pub fn start(now: Duration) -> Self {
        Self::start_at(now, None)
    }

    /// Send the interrupt at `now`, on a port at `line_baud`.
    pub fn start_at(now: Duration, line_baud: Option<u32>) -> Self {
        let mut d = Detector {
            phase: Phase::Interrupt {
                deadline: now + ANSWER_TIMEOUT,
            },
            rx: Vec::new(),
            last_rx: None,
            tx: VecDeque::from([INTERRUPT.to_vec()]),
            events: VecDeque::new(),
            heard: String::new(),
            frames: FrameDecoder::new(),
            line_baud,
            rate_now: None,
            baud: None,
        };
        d.events.push_back(SessionEvent::Step(Step::Identify));
        d.log(
            LogLevel::Info,
            "Interrupting whatever runs, to see what answers",
        );
        d
    }

    fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.events.push_back(SessionEvent::Log {
            level,
            message: message.into(),
        });
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.rx).replace('\r', "")
    }

    fn finish(&mut self, info: Option<ModuleInfo>) {
        self.phase = Phase::Finished;
        let result = match info {
            Some(info) => {
                self.log(
                    LogLevel::Info,
                    format!(
                        "Found {}{}{}",
                        info.family.name(),
                        if info.model.is_empty() { "" } else { " on " },
                        info.model
                    ),
                );
                self.events
                    .push_back(SessionEvent::Identified(info.clone()));
                Ok(FlashOutcome {
                    bytes: 0,
                    restarted: false,
                    module: Some(info),
                })
            }
            None => {
                let heard = std::mem::take(&mut self.heard);
                let kind = if heard.trim().is_empty() {
                    FlashErrorKind::NoResponse {
                        waiting_for: "being interrupted (check the port, the baud rate and that \
                                      the module is powered)",
                    }
                } else {
                    FlashErrorKind::BadAnswer {
                        call: "an interrupt",
                        got: crate::link::mp_repl::show_bytes(heard.trim().as_bytes()),
                    }
                };
                let e = FlashError {
                    step: Step::Identify,
                    offset: None,
                    total: None,
                    kind,
                    module_state: "was not changed",
                };
                self.log(LogLevel::Error, e.to_string());
                Err(e)
            }
        };
        self.events.push_back(SessionEvent::Finished(result));
    }

    fn answer_complete(&self, now: Duration) -> bool {
        self.last_rx.is_some_and(|t| now >= t + QUIET)
    }

    fn step(&mut self, now: Duration) {
        match self.phase {
            Phase::Interrupt { deadline } => {
                let text = self.text();
                // Wait for the whole answer (each interrupt prints its own prompt).
                if text.ends_with(">>> ") && self.answer_complete(now) {
                    self.banner(now);
                } else if self.answer_complete(now) || now >= deadline {
                    self.interrupt_answered(now, text);
                }
            }
            Phase::Banner { deadline } => {
                let text = self.text();
                if (text.ends_with(">>> ") && self.answer_complete(now)) || now >= deadline {
                    let info = classify(&text).or_else(|| {
                        Some(ModuleInfo {
                            details: Default::default(),
                            family: Family::MicroPython,
                            model: String::new(),
                            firmware_version: String::new(),
                            runtime: "MicroPython".into(),
                        })
                    });
                    self.finish(info);
                }
            }
            Phase::Smp { deadline } => {
                let answered = self
                    .frames
                    .push(&std::mem::take(&mut self.rx))
                    .iter()
                    .any(|f| matches!(f, Frame::Packet(p) if answers_probe(p)));
                if answered {
                    self.finish(Some(ModuleInfo {
                        details: Default::default(),
                        family: Family::McuBoot,
                        model: "SMP server".into(),
                        firmware_version: String::new(),
                        runtime: "Zephyr / MCUboot".into(),
                    }));
                } else if now >= deadline {
                    self.finish(None);
                }
            }
            Phase::Switched { at, rate } => {
                if now >= at {
                    self.rate_now = Some(rate);
                    self.interrupt(now);
                }
            }
            Phase::Restore { deadline } => {
                let rate = self.line_baud.unwrap_or(NODEMCU_WRITE_BAUD);
                if self.text().contains(&uart_setup_line(rate)) || now >= deadline {
                    self.switch_to(now, rate);
                }
            }
            Phase::Returned { at } => {
                if now >= at {
                    let heard = std::mem::take(&mut self.heard);
                    self.probe_smp(now, heard);
                }
            }
            Phase::Finished => {}
        }
    }

    /// The whole answer to an interrupt is in: say what it is, or find out more.
    fn interrupt_answered(&mut self, now: Duration, text: String) {
        let fast = self.rate_now.filter(|r| Some(*r) != self.line_baud);
        match (classify(&text), fast) {
            (Some(info), Some(rate)) if info.family == Family::NodeMcu => {
                let console = self.line_baud.unwrap_or(rate);
                self.log(
                    LogLevel::Warn,
                    format!(
                        "A Lua prompt answered at {rate} baud, where a write cut short leaves \
                         NodeMCU's console: setting it back to {console} baud"
                    ),
                );
                self.rx.clear();
                self.last_rx = None;
                let line = format!("{}\r\n", uart_setup_line(console));
                self.tx.push_back(line.into_bytes());
                self.phase = Phase::Restore {
                    deadline: now + ANSWER_TIMEOUT,
                };
            }
            (Some(info), _) => self.finish(Some(info)),
            (None, _) if raw_repl_prompt(&text) => {
                self.log(
                    LogLevel::Info,
                    "A MicroPython raw REPL answered (a session was cut off): leaving it",
                );
                self.banner(now);
            }
            (None, None) if garbled(&self.rx) && self.line_baud != Some(NODEMCU_WRITE_BAUD) => {
                self.log(
                    LogLevel::Info,
                    format!(
                        "The answer is garbled: asking again at {NODEMCU_WRITE_BAUD} baud, where \
                         a NodeMCU write cut short leaves the console"
                    ),
                );
                self.heard = text;
                self.switch_to(now, NODEMCU_WRITE_BAUD);
            }
            (None, Some(_)) => {
                // Nothing understood at the other rate either: back to the port's rate (the
                // error tells what the first answer was), then the SMP probe.
                self.baud = self.line_baud;
                self.rate_now = None;
                self.phase = Phase::Returned { at: now + SETTLE };
            }
            (None, None) => self.probe_smp(now, text),
        }
    }

    /// Send the interrupt and collect the answer.
    fn interrupt(&mut self, now: Duration) {
        self.rx.clear();
        self.last_rx = None;
        self.tx.push_back(INTERRUPT.to_vec());
        self.phase = Phase::Interrupt {
            deadline: now + ANSWER_TIMEOUT,
        };
    }

    /// Ctrl-B: a MicroPython REPL prints its banner.
    fn banner(&mut self, now: Duration) {
        self.rx.clear();
        self.last_rx = None;
        self.tx.push_back(vec![0x02]);
        self.phase = Phase::Banner {
            deadline: now + ANSWER_TIMEOUT,
        };
    }

    /// Switch the port to `rate`, then interrupt again.
    fn switch_to(&mut self, now: Duration, rate: u32) {
        self.rx.clear();
        self.last_rx = None;
        self.baud = Some(rate);
        self.phase = Phase::Switched {
            at: now + SETTLE,
            rate,
        };
    }

    /// No REPL answered: ask once whether an SMP server listens.
    fn probe_smp(&mut self, now: Duration, heard: String) {
        self.heard = heard;
        self.rx.clear();
        self.last_rx = None;
        self.log(
            LogLevel::Info,
            "No REPL answered; asking whether an MCUmgr (SMP) server listens",
        );
        self.tx.push_back(smp_probe_frame());
        self.phase = Phase::Smp {
            deadline: now + ANSWER_TIMEOUT,
        };
    }
}

impl Machine for Detector {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.rx.extend_from_slice(data);
        if self.rx.len() > 4096 {
            let cut = self.rx.len() - 4096;
            self.rx.drain(..cut);
        }
        self.last_rx = Some(now);
        self.step(now);
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.step(now);
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Interrupt { deadline } => {
                Some(self.last_rx.map_or(deadline, |t| (t + QUIET).min(deadline)))
            }
            Phase::Banner { deadline } => {
                Some(self.last_rx.map_or(deadline, |t| (t + QUIET).min(deadline)))
            }
            Phase::Smp { deadline } | Phase::Restore { deadline } => Some(deadline),
            Phase::Switched { at, .. } | Phase::Returned { at } => Some(at),
            Phase::Finished => None,
        }
    }

    fn poll_baud(&mut self) -> Option<u32> {
        self.baud.take()
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    fn cancel(&mut self, _now: Duration) {
        if self.phase != Phase::Finished {
            self.phase = Phase::Finished;
            let e = FlashError {
                step: Step::Identify,
                offset: None,
                total: None,
                kind: FlashErrorKind::Cancelled,
                module_state: "was not changed",
            };
            self.events.push_back(SessionEvent::Finished(Err(e)));
        }
    }

    fn link_lost(&mut self, _now: Duration) {
        if self.phase != Phase::Finished {
            self.phase = Phase::Finished;
            let e = FlashError {
                step: Step::Identify,
                offset: None,
                total: None,
                kind: FlashErrorKind::LinkLost,
                module_state: "was not changed",
            };
            self.log(LogLevel::Error, e.to_string());
            self.events.push_back(SessionEvent::Finished(Err(e)));
        }
    }

    fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_name_the_family() {
        let c = |b: &str| classify(b).map(|i| (i.family, i.model, i.firmware_version));
        assert_eq!(
            c("MicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32\r\nType \"help()\" for more information.\r\n>>> "),
            Some((Family::Esp32MicroPython, "Generic ESP32 module".into(), "v1.24.1".into()))
        );
        assert_eq!(
            c("Pycom MicroPython 1.20.2.r6 [v1.11-c5a0a97] on 2021-10-28; FiPy with ESP32\n>>> "),
            Some((Family::Pycom, "FiPy".into(), "1.20.2.r6".into()))
        );
        assert_eq!(
            c("MicroPython v1.13.0 on 2023-06-01; EC600U with QUECTEL\n>>> ").map(|x| x.0),
            Some(Family::QuecPython)
        );
        assert_eq!(
            c("MicroPython v1.22.0 on 2024-01-01; Raspberry Pi Pico with RP2040\n>>> ")
                .map(|x| x.0),
            Some(Family::MicroPython)
        );
        assert_eq!(c("\n> ").map(|x| x.0), Some(Family::NodeMcu));
        assert_eq!(c("garbage \u{fffd}\u{fffd}"), None);
    }
}
