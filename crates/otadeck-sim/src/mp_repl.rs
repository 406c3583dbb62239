//! The module side of the MicroPython REPL: the friendly prompt, the raw REPL and raw-paste mode
//! with its flow-control window, as `shared/runtime/pyexec.c` behaves. What the code *does* is up
//! to an [`Interpreter`] (a QuecPython module, an ESP32 port, ...).

use std::collections::VecDeque;
use std::time::Duration;

use crate::line::Device;

const CTRL_A: u8 = 0x01;
const CTRL_B: u8 = 0x02;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_E: u8 = 0x05;

/// What an exec produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// Printed output (`\r\n` line ends, as on a board).
    pub stdout: String,
    /// The traceback, when the code raised.
    pub stderr: String,
    /// The code restarted the module (`machine.reset()`, `Power.powerRestart()`).
    pub reboot: bool,
    /// Time the code takes to run on the module.
    pub duration: Duration,
    /// The code is still running (it waits on the clock): what is in `stdout` was printed so
    /// far, and [`Interpreter::resume`] is due after this long. `stderr` and `duration` are
    /// unused then.
    pub pending: Option<Duration>,
}

/// The language side of a simulated MicroPython module.
pub trait Interpreter {
    /// Run `code` (a whole exec: one or more statements). From the REPL it holds one `char` per
    /// byte received (Latin-1), so bytes literals carry any byte ([`crate::interp::python::lit`]).
    fn exec(&mut self, code: &str) -> ExecResult;
    /// The friendly REPL banner, e.g. `MicroPython v1.12 on 2023-03-01; EC600U with QUECTEL`.
    fn banner(&self) -> String;
    /// The module restarted: forget variables, apply what the restart applies.
    fn reboot(&mut self);
    /// Soft reset (Ctrl-D at an empty prompt): forget variables only.
    fn soft_reset(&mut self);
    /// The module's clock, given before every other call.
    fn clock(&mut self, _now: Duration) {}
    /// Go on with an exec that returned [`ExecResult::pending`].
    fn resume(&mut self) -> ExecResult {
        ExecResult::default()
    }
    /// Ctrl-C while an exec is pending: raise `KeyboardInterrupt` in it.
    fn interrupt(&mut self) -> ExecResult {
        ExecResult {
            stderr: "Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n".into(),
            ..ExecResult::default()
        }
    }
    /// Time the restart just begun takes beyond an ordinary boot (work the module does while
    /// booting, such as a second upgrade stage).
    fn boot_delay(&self) -> Duration {
        Duration::ZERO
    }
}

/// How the simulated firmware answers the raw-paste request `\x05A\x01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawPasteSupport {
    /// Current firmware: `R\x01` and a window of this many bytes.
    Window(u16),
    /// Firmware that knows raw-paste commands but not `A`: `R\x00` then `>`.
    Refuses,
    /// Firmware older than raw-paste: the `\x01` acts as Ctrl-A and reprints the banner.
    Absent,
}

#[derive(Debug)]
enum Mode {
    Friendly {
        line: Vec<u8>,
    },
    Raw {
        buf: Vec<u8>,
    },
    RawPaste {
        buf: Vec<u8>,
        window: u16,
        window_remain: u16,
        /// Bytes received and not read yet (only with a nonzero `paste_byte_time`); its room is
        /// the two windows the host may send ahead.
        stdin: VecDeque<u8>,
        /// When the byte at the head of `stdin` has been read.
        read_at: Duration,
    },
    /// An exec waits on the clock; it goes on at `wake`, and Ctrl-C interrupts it.
    Running {
        wake: Duration,
    },
    /// Running an exec or rebooting: input is ignored until `until`.
    Busy {
        until: Duration,
        then: Box<AfterBusy>,
    },
}

#[derive(Debug)]
enum AfterBusy {
    /// Print the rest of the exec output and go back to the raw prompt.
    RawOutput(Vec<u8>),
    /// Finish a reboot: print the boot banner, land at the friendly prompt.
    Boot,
}

/// A MicroPython module's REPL over its serial line.
#[derive(Debug)]
pub struct ReplDevice<I> {
    /// What runs the code.
    pub interpreter: I,
    paste: RawPasteSupport,
    mode: Mode,
    out: Vec<u8>,
    now: Duration,
    /// Bytes the host sent beyond the raw-paste window (a host bug; a real module loses them).
    /// Only a module that reads slower than the line can fill its buffer, so this counts only
    /// with a nonzero [`ReplDevice::paste_byte_time`].
    pub overflowed: u64,
    /// Time the module takes to read (lex and compile) one byte in raw-paste mode. Zero reads
    /// every byte as it arrives. When it is slower than the line, bytes wait in a buffer of two
    /// windows, and a host that sends ahead of its credit overflows it.
    pub paste_byte_time: Duration,
    /// Execs run, for tests.
    pub execs: u64,
    /// Reboots done, for tests.
    pub reboots: u64,
    boot_time: Duration,
}

impl<I: Interpreter> ReplDevice<I> {
    /// A module sitting at its friendly prompt.
    pub fn new(interpreter: I, paste: RawPasteSupport) -> Self {
        ReplDevice {
            interpreter,
            paste,
            mode: Mode::Friendly { line: Vec::new() },
            out: b">>> ".to_vec(),
            now: Duration::ZERO,
            overflowed: 0,
            paste_byte_time: Duration::ZERO,
            execs: 0,
            reboots: 0,
            boot_time: Duration::from_millis(1200),
        }
    }

    /// Pull the plug and plug it back: whatever ran is lost, the module boots again.
    pub fn power_cycle(&mut self, now: Duration) {
        self.out.clear();
        self.begin_reboot(now);
    }

    fn begin_reboot(&mut self, now: Duration) {
        self.reboots += 1;
        self.interpreter.clock(now);
        self.interpreter.reboot();
        self.mode = Mode::Busy {
            until: now + self.boot_time + self.interpreter.boot_delay(),
            then: Box::new(AfterBusy::Boot),
        };
    }

    fn friendly_banner(&self) -> Vec<u8> {
        format!(
            "{}\r\nType \"help()\" for more information.\r\n>>> ",
            self.interpreter.banner()
        )
        .into_bytes()
    }

    fn run_raw(&mut self, code: &[u8], prefix_ok: bool) {
        self.execs += 1;
        if prefix_ok {
            self.out.extend_from_slice(b"OK");
        }
        // One char per byte, as MicroPython's lexer reads bytes: a bytes literal keeps every
        // byte value the line carried.
        let code: String = code.iter().map(|&b| char::from(b)).collect();
        self.interpreter.clock(self.now);
        let result = self.interpreter.exec(&code);
        self.after_exec(result);
    }

    /// Print what an exec (or its continuation) produced and set what comes next.
    fn after_exec(&mut self, result: ExecResult) {
        if let Some(wait) = result.pending {
            self.out.extend_from_slice(result.stdout.as_bytes());
            self.mode = Mode::Running {
                wake: self.now + wait,
            };
            return;
        }
        if result.reboot {
            // The restart cuts the exec short: nothing more is printed before the boot log.
            self.out.extend_from_slice(result.stdout.as_bytes());
            self.begin_reboot(self.now + result.duration);
            return;
        }
        let mut rest = result.stdout.into_bytes();
        rest.push(CTRL_D);
        rest.extend_from_slice(result.stderr.as_bytes());
        rest.push(CTRL_D);
        rest.push(b'>');
        if result.duration.is_zero() {
            self.out.extend_from_slice(&rest);
            self.mode = Mode::Raw { buf: Vec::new() };
        } else {
            self.mode = Mode::Busy {
                until: self.now + result.duration,
                then: Box::new(AfterBusy::RawOutput(rest)),
            };
        }
    }

    fn byte(&mut self, b: u8) {
        match &mut self.mode {
            Mode::Busy { .. } => {}
            Mode::Running { .. } => {
                if b == CTRL_C {
                    self.interpreter.clock(self.now);
                    let result = self.interpreter.interrupt();
                    self.after_exec(result);
                }
            }
            Mode::Friendly { .. } => self.friendly_byte(b),
            Mode::Raw { .. } => self.raw_byte(b),
            Mode::RawPaste {
                window,
                stdin,
                read_at,
                ..
            } => {
                if self.paste_byte_time.is_zero() {
                    return self.paste_byte(b);
                }
                // Ctrl-C and Ctrl-D end the paste; the host sends them outside the window.
                let control = matches!(b, CTRL_C | CTRL_D);
                if !control && stdin.len() >= 2 * usize::from(*window) {
                    // Beyond the window: a real module's buffer has no room for it.
                    self.overflowed += 1;
                    return;
                }
                if stdin.is_empty() {
                    *read_at = self.now + self.paste_byte_time;
                }
                stdin.push_back(b);
            }
        }
    }

    /// A byte at the friendly prompt: a line editor, Ctrl-A into raw mode.
    fn friendly_byte(&mut self, b: u8) {
        let Mode::Friendly { line } = &mut self.mode else {
            return;
        };
        match b {
            CTRL_A => {
                self.out
                    .extend_from_slice(b"\r\nraw REPL; CTRL-B to exit\r\n>");
                self.mode = Mode::Raw { buf: Vec::new() };
            }
            CTRL_C => {
                line.clear();
                self.out.extend_from_slice(b"\r\n>>> ");
            }
            CTRL_B => {
                line.clear();
                self.out.extend_from_slice(b"\r\n");
                let banner = self.friendly_banner();
                self.out.extend_from_slice(&banner);
            }
            CTRL_D if line.is_empty() => {
                self.interpreter.soft_reset();
                self.out.extend_from_slice(b"\r\nMPY: soft reboot\r\n");
                let banner = self.friendly_banner();
                self.out.extend_from_slice(&banner);
            }
            b'\r' | b'\n' => {
                let code = std::mem::take(line);
                self.out.extend_from_slice(b"\r\n");
                if !code.is_empty() {
                    let result = self.interpreter.exec(&String::from_utf8_lossy(&code));
                    self.out.extend_from_slice(result.stdout.as_bytes());
                    self.out.extend_from_slice(result.stderr.as_bytes());
                    if result.reboot {
                        return self.begin_reboot(self.now + result.duration);
                    }
                }
                self.out.extend_from_slice(b">>> ");
            }
            0x08 | 0x7f if !line.is_empty() => {
                line.pop();
                self.out.extend_from_slice(b"\x08 \x08");
            }
            0x20..=0x7e => {
                line.push(b);
                self.out.push(b);
            }
            _ => {}
        }
    }

    /// A byte in raw mode: code up to Ctrl-D, or the raw-paste request.
    fn raw_byte(&mut self, b: u8) {
        let Mode::Raw { buf } = &mut self.mode else {
            return;
        };
        match b {
            CTRL_A if buf.len() == 2 && buf[0] == CTRL_E => {
                let sub = buf[1];
                buf.clear();
                match (self.paste, sub) {
                    (RawPasteSupport::Window(window), b'A') => {
                        self.out.extend_from_slice(b"R\x01");
                        self.out.extend_from_slice(&window.to_le_bytes());
                        self.out.push(CTRL_A);
                        self.mode = Mode::RawPaste {
                            buf: Vec::new(),
                            window,
                            window_remain: window,
                            stdin: VecDeque::new(),
                            read_at: Duration::ZERO,
                        };
                    }
                    (RawPasteSupport::Absent, _) => {
                        self.out.extend_from_slice(b"raw REPL; CTRL-B to exit\r\n>");
                    }
                    _ => self.out.extend_from_slice(b"R\x00>"),
                }
            }
            CTRL_A => {
                buf.clear();
                self.out.extend_from_slice(b"raw REPL; CTRL-B to exit\r\n>");
            }
            CTRL_B => {
                self.out.extend_from_slice(b"\r\n");
                let banner = self.friendly_banner();
                self.out.extend_from_slice(&banner);
                self.mode = Mode::Friendly { line: Vec::new() };
            }
            CTRL_C => buf.clear(),
            CTRL_D if buf.is_empty() => {
                self.interpreter.soft_reset();
                self.out
                    .extend_from_slice(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>");
            }
            CTRL_D => {
                let code = std::mem::take(buf);
                self.run_raw(&code, true);
            }
            _ => buf.push(b),
        }
    }

    /// Raw-paste mode reads one byte of the upload.
    fn paste_byte(&mut self, b: u8) {
        let Mode::RawPaste {
            buf,
            window,
            window_remain,
            stdin,
            ..
        } = &mut self.mode
        else {
            return;
        };
        match b {
            CTRL_D | CTRL_C => {
                let code = std::mem::take(buf);
                // What the host sent after the end is read by the raw REPL that follows.
                let rest = std::mem::take(stdin);
                if b == CTRL_D {
                    self.out.push(CTRL_D);
                    self.run_raw(&code, false);
                } else {
                    self.out.push(CTRL_D);
                    self.out.extend_from_slice(
                        b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>",
                    );
                    self.mode = Mode::Raw { buf: Vec::new() };
                }
                for b in rest {
                    self.byte(b);
                }
            }
            _ => {
                buf.push(b);
                *window_remain -= 1;
                if *window_remain == 0 {
                    *window_remain = *window;
                    self.out.push(CTRL_A);
                }
            }
        }
    }

    /// The raw-paste reader catches up with the clock.
    fn read_paste(&mut self, now: Duration) {
        loop {
            let Mode::RawPaste { stdin, read_at, .. } = &mut self.mode else {
                return;
            };
            if *read_at > now {
                return;
            }
            let Some(b) = stdin.pop_front() else {
                return;
            };
            let at = *read_at;
            *read_at += self.paste_byte_time;
            self.now = at;
            self.paste_byte(b);
            self.now = now;
        }
    }
}

impl<I: Interpreter> Device for ReplDevice<I> {
    fn receive(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        self.tick(now);
        for &b in data {
            self.byte(b);
        }
    }

    fn transmit(&mut self, _now: Duration) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn next_wakeup(&self) -> Option<Duration> {
        match &self.mode {
            Mode::Busy { until, .. } => Some(*until),
            Mode::Running { wake } => Some(*wake),
            Mode::RawPaste { stdin, read_at, .. } if !stdin.is_empty() => Some(*read_at),
            _ => None,
        }
    }

    fn hard_resets(&self) -> u64 {
        self.reboots
    }

    fn tick(&mut self, now: Duration) {
        self.read_paste(now);
        self.now = now;
        while let Mode::Running { wake } = self.mode {
            if now < wake {
                break;
            }
            self.now = wake;
            self.interpreter.clock(wake);
            let result = self.interpreter.resume();
            self.after_exec(result);
            self.now = now;
        }
        if let Mode::Busy { until, .. } = &self.mode {
            if now >= *until {
                let Mode::Busy { then, .. } =
                    std::mem::replace(&mut self.mode, Mode::Raw { buf: Vec::new() })
                else {
                    unreachable!()
                };
                match *then {
                    AfterBusy::RawOutput(rest) => self.out.extend_from_slice(&rest),
                    AfterBusy::Boot => {
                        let banner = self.friendly_banner();
                        self.out.extend_from_slice(b"\r\n");
                        self.out.extend_from_slice(&banner);
                        self.mode = Mode::Friendly { line: Vec::new() };
                    }
                }
            }
        }
    }
}
