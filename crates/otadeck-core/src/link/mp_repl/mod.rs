//! The MicroPython raw REPL as a sans-IO state machine.
//!
//! Covers what a host needs to run code on a MicroPython module over a serial line:
//! interrupting a running program, entering the raw REPL, executing code with stdout and stderr
//! split on the `\x04` separators, and raw-paste mode with its window flow control. When the module
//! answers the raw-paste request with `R\x00` (unknown sub-command, followed by a `>` that is
//! consumed here) or with the old-firmware banner, the machine falls back to plain raw mode, sending
//! the code in paced pieces, and keeps using plain mode for the rest of the session.
//!
//! Wire facts: MicroPython `docs/reference/repl.rst` and `shared/runtime/pyexec.c`.

mod states;

use std::collections::VecDeque;
use std::time::Duration;

/// The banner a module prints on entering (or resetting) the raw REPL, up to and including `>`.
pub const RAW_BANNER: &[u8] = b"raw REPL; CTRL-B to exit\r\n>";
/// What the host sends to ask for raw-paste mode.
pub const RAW_PASTE_REQUEST: &[u8] = b"\x05A\x01";
/// The friendly REPL's prompt: output that ends with it comes from a module waiting for a line
/// (after an interrupt, or at the end of its boot log).
pub const FRIENDLY_PROMPT: &[u8] = b">>> ";

const CTRL_A: u8 = 0x01;
const CTRL_B: u8 = 0x02;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;

/// Tuning of the REPL machine. The defaults are what MicroPython's own tools use.
#[derive(Debug, Clone)]
pub struct ReplConfig {
    /// Try raw-paste mode first (it is flow controlled and fast). When false, plain raw mode only.
    pub try_raw_paste: bool,
    /// Plain raw mode: size of each piece of code sent (pyboard.py uses 256).
    pub plain_chunk: usize,
    /// Plain raw mode: pause between pieces, so that old boards do not drop bytes.
    pub plain_chunk_interval: Duration,
    /// After the interrupt, input must stay quiet this long before the raw REPL is requested
    /// (unless what came in ends at the friendly prompt, which ends the drain at once).
    pub drain_quiet: Duration,
    /// The drain never lasts longer than this, even when a program keeps printing.
    pub drain_max: Duration,
    /// How long to wait for the raw REPL banner after asking for it.
    pub enter_timeout: Duration,
    /// How long the module may stay silent during a handshake or an upload.
    pub link_timeout: Duration,
}

impl Default for ReplConfig {
    fn default() -> Self {
        ReplConfig {
            try_raw_paste: true,
            plain_chunk: 256,
            plain_chunk_interval: Duration::from_millis(10),
            drain_quiet: Duration::from_millis(100),
            drain_max: Duration::from_secs(1),
            enter_timeout: Duration::from_secs(2),
            link_timeout: Duration::from_secs(3),
        }
    }
}

/// How code is being sent to the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasteMode {
    /// Not asked yet.
    Unknown,
    /// Raw-paste works; the module grants `window` bytes per `\x01`.
    RawPaste { window: u16 },
    /// The module answered `R\x00`: it knows raw-paste but not this sub-command.
    PlainUnsupported,
    /// The module's firmware predates raw-paste.
    PlainOldFirmware,
    /// Raw-paste was switched off in the configuration.
    PlainByChoice,
}

/// What the REPL machine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplEvent {
    /// The module is at the raw REPL prompt and ready for code.
    Ready,
    /// The mode used for code was settled (emitted once, at the first exec).
    ModeChosen(PasteMode),
    /// Output printed by the running exec so far (the new bytes only), for progress that code
    /// reports while it runs. The whole output comes again in [`ReplEvent::ExecDone`].
    Printed(Vec<u8>),
    /// An exec finished. `stderr` holds the traceback when the code raised.
    ExecDone { stdout: Vec<u8>, stderr: Vec<u8> },
    /// Something went wrong; the machine is idle again and needs [`RawRepl::enter`].
    Failed(ReplError),
}

/// Why the REPL machine stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplError {
    /// Nothing came back in time.
    #[error("the module did not answer while {waiting_for}")]
    NoResponse { waiting_for: &'static str },
    /// Bytes came back that the protocol does not allow at this point.
    #[error("the module sent unexpected bytes while {during}: {}", show_bytes(got))]
    Unexpected { during: &'static str, got: Vec<u8> },
}

/// Printable rendering of a few bytes for error messages.
pub fn show_bytes(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(48)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > 48 {
        format!("\"{shown}...\" ({} bytes)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}

#[derive(Debug)]
enum State {
    Idle,
    /// Interrupt sent; discarding whatever the module prints until it goes quiet.
    Draining {
        started: Duration,
        last_rx: Duration,
        /// The last bytes received, to see the friendly prompt even when it comes in pieces.
        tail: Vec<u8>,
    },
    /// `\r\x01` sent; waiting for the banner.
    Entering {
        deadline: Duration,
    },
    Ready,
    /// `\x05A\x01` sent; waiting for the two-byte answer (and what follows it).
    PasteHandshake {
        code: Vec<u8>,
        deadline: Duration,
    },
    /// Sending code under the window credit.
    PasteUpload {
        code: Vec<u8>,
        pos: usize,
        window: u16,
        credit: usize,
        deadline: Duration,
    },
    /// All code sent and `\x04` too; waiting for the module's `\x04`.
    PasteAwaitAck {
        deadline: Duration,
    },
    /// Plain raw mode: sending pieces with a pause between them.
    PlainUpload {
        code: Vec<u8>,
        pos: usize,
        next_at: Duration,
    },
    /// Plain raw mode: code and `\x04` sent; expecting `OK`.
    PlainAwaitOk {
        deadline: Duration,
    },
    /// Reading the exec output: stdout until `\x04`, stderr until `\x04`, then `>`.
    Output {
        stdout: Vec<u8>,
        stderr: Option<Vec<u8>>,
        deadline: Duration,
        timeout: Duration,
    },
}

/// The raw REPL machine. See the module documentation.
#[derive(Debug)]
pub struct RawRepl {
    config: ReplConfig,
    state: State,
    mode: PasteMode,
    mode_reported: bool,
    rx: Vec<u8>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<ReplEvent>,
    exec_timeout: Duration,
    now: Duration,
}

impl RawRepl {
    /// A machine that has not talked to the module yet.
    pub fn new(config: ReplConfig) -> Self {
        let mode = if config.try_raw_paste {
            PasteMode::Unknown
        } else {
            PasteMode::PlainByChoice
        };
        RawRepl {
            config,
            state: State::Idle,
            mode,
            mode_reported: false,
            rx: Vec::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            exec_timeout: Duration::from_secs(5),
            now: Duration::ZERO,
        }
    }

    /// The way code is sent, once known.
    pub fn mode(&self) -> PasteMode {
        self.mode
    }

    /// True when the machine waits for [`RawRepl::exec`].
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready)
    }

    /// True when nothing is in progress (before [`RawRepl::enter`], or after a failure).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Interrupt whatever runs on the module and enter the raw REPL. Ends with
    /// [`ReplEvent::Ready`] or [`ReplEvent::Failed`].
    pub fn enter(&mut self, now: Duration) {
        self.now = now;
        self.rx.clear();
        self.tx.push_back(vec![b'\r', CTRL_C, CTRL_C]);
        self.state = State::Draining {
            started: now,
            last_rx: now,
            tail: Vec::new(),
        };
    }

    /// Run `code` on the module. `timeout` bounds the silence allowed while the code runs (a flash
    /// verify takes longer than a print). Ends with [`ReplEvent::ExecDone`] or [`ReplEvent::Failed`].
    ///
    /// # Panics
    /// When the machine is not [ready](RawRepl::is_ready): that is a bug in the caller.
    pub fn exec(&mut self, now: Duration, code: &[u8], timeout: Duration) {
        assert!(self.is_ready(), "exec while the raw REPL is not ready");
        self.now = now;
        self.exec_timeout = timeout;
        match self.mode {
            PasteMode::Unknown | PasteMode::RawPaste { .. } => {
                self.tx.push_back(RAW_PASTE_REQUEST.to_vec());
                self.state = State::PasteHandshake {
                    code: code.to_vec(),
                    deadline: now + self.config.link_timeout,
                };
            }
            _ => self.start_plain(code.to_vec()),
        }
    }

    /// Send Ctrl-C twice (stops a running exec with KeyboardInterrupt, ends a raw-paste upload)
    /// and go idle, dropping whatever was in progress.
    pub fn abort(&mut self, now: Duration) {
        self.now = now;
        self.tx.clear();
        self.tx.push_back(vec![CTRL_C, CTRL_C]);
        self.state = State::Idle;
    }

    /// Ctrl-C to the running exec, which keeps being read: its code may catch
    /// `KeyboardInterrupt` and print what it did. The exec must answer within `wait`. Returns
    /// false (and sends nothing) when no exec output is being read.
    pub fn interrupt(&mut self, now: Duration, wait: Duration) -> bool {
        self.now = now;
        if !matches!(self.state, State::Output { .. }) {
            return false;
        }
        self.tx.push_back(vec![CTRL_C]);
        self.quiet_after(now, wait);
        true
    }

    /// From now on the running exec may stay silent only `quiet` (it is expected to end, or the
    /// module to restart). Does nothing when no exec output is being read.
    pub fn quiet_after(&mut self, now: Duration, quiet: Duration) {
        if let State::Output {
            deadline, timeout, ..
        } = &mut self.state
        {
            *timeout = quiet;
            *deadline = now + quiet;
        }
    }

    /// Forget the module's state without sending anything (it restarted, or the link was
    /// replaced). The next step is [`RawRepl::enter`].
    pub fn reset(&mut self) {
        self.rx.clear();
        self.tx.clear();
        self.state = State::Idle;
    }

    /// Leave the raw REPL for the friendly one (Ctrl-B), so a person at a terminal finds the
    /// usual prompt.
    pub fn leave(&mut self, now: Duration) {
        self.now = now;
        self.tx.push_back(vec![CTRL_B]);
        self.state = State::Idle;
    }

    /// Bytes received from the module.
    pub fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        if let State::Output {
            deadline, timeout, ..
        } = &mut self.state
        {
            // Output restarts the silence timer. Only new bytes count: a separator held back in
            // `rx` while the prompt is awaited must not keep the exec alive forever.
            if !data.is_empty() {
                *deadline = now + *timeout;
            }
        }
        self.rx.extend_from_slice(data);
        self.process();
    }

    /// The clock moved on.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        self.process();
    }

    /// Bytes to send to the module, in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// What happened.
    pub fn poll_event(&mut self) -> Option<ReplEvent> {
        self.events.pop_front()
    }

    /// The next instant the machine needs [`RawRepl::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Duration> {
        match &self.state {
            State::Idle | State::Ready => None,
            State::Draining {
                started, last_rx, ..
            } => Some((*last_rx + self.config.drain_quiet).min(*started + self.config.drain_max)),
            State::Entering { deadline }
            | State::PasteHandshake { deadline, .. }
            | State::PasteUpload { deadline, .. }
            | State::PasteAwaitAck { deadline }
            | State::PlainAwaitOk { deadline }
            | State::Output { deadline, .. } => Some(*deadline),
            State::PlainUpload { next_at, .. } => Some(*next_at),
        }
    }

    fn fail(&mut self, error: ReplError) {
        self.state = State::Idle;
        self.events.push_back(ReplEvent::Failed(error));
    }

    fn report_mode(&mut self) {
        if !self.mode_reported {
            self.mode_reported = true;
            self.events.push_back(ReplEvent::ModeChosen(self.mode));
        }
    }

    fn start_plain(&mut self, code: Vec<u8>) {
        self.report_mode();
        self.state = State::PlainUpload {
            code,
            pos: 0,
            next_at: self.now,
        };
        self.process();
    }

    fn start_output(&mut self) {
        let timeout = self.exec_timeout;
        self.state = State::Output {
            stdout: Vec::new(),
            stderr: None,
            deadline: self.now + timeout,
            timeout,
        };
    }

    /// Advance as far as the received bytes and the clock allow.
    fn process(&mut self) {
        loop {
            let before = std::mem::discriminant(&self.state);
            let rx_len = self.rx.len();
            self.step();
            if std::mem::discriminant(&self.state) == before && self.rx.len() == rx_len {
                break;
            }
        }
    }
}

/// Position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
