//! NodeMCU's Lua console as a sans-IO state machine: lines echoed back byte for byte, then their
//! output, then the prompt; one line at a time, or one line queued behind the one running.
//!
//! Wire facts (NodeMCU `dev-esp32`, `components/lua/common/linput.c` and `lua.c`):
//! - prompts are `"> "` for a new statement and `">> "` when the statement is incomplete;
//! - every input byte is echoed; CR and LF echo as LF; stdout lines end CRLF or LF;
//! - errors print `Lua error: <msg>`;
//! - a line reaching 255 bytes is silently discarded, and the console RX buffer holds 256 bytes:
//!   so a line is at most [`MAX_LINE`] bytes.
//!
//! The console task echoes each byte as it takes it from the RX buffer, and the UART keeps
//! filling that buffer while a line runs. So once a line's echo is complete (its line end came
//! back), none of its bytes wait in the buffer, and the next line may go out while it runs
//! ([`LuaRepl::queue_line`]): at most one line ever waits in the buffer. The stream then reads
//! echo, output, prompt, echo of the queued line, and so on; while a line is queued, the first
//! prompt at the start of a line ends the output of the running one, and what follows must be the
//! queued line's echo.
//!
//! The echo is checked against what was sent: a byte garbled on the wire shows up as an echo that
//! differs, and is reported ([`LuaError::EchoMismatch`]) rather than carried on.

use std::collections::VecDeque;
use std::time::Duration;

use crate::link::mp_repl::show_bytes;

/// Longest line sent, without its line end (the firmware drops lines of 255 bytes or more).
pub const MAX_LINE: usize = 250;
/// The prompt for a new statement.
pub const PROMPT: &[u8] = b"> ";
/// The prompt for the rest of an incomplete statement.
pub const PROMPT2: &[u8] = b">> ";
/// What starts an error report.
pub const ERROR_PREFIX: &str = "Lua error: ";

/// Tuning of the Lua console machine.
#[derive(Debug, Clone)]
pub struct LuaConfig {
    /// How long the module may stay silent while a line is echoed or before its prompt, unless a
    /// line asks for more.
    pub line_timeout: Duration,
    /// How long to wait for the first prompt.
    pub connect_timeout: Duration,
    /// Quiet time after a prompt before it counts (so that stale output and a boot log that
    /// still runs are not taken for the answer).
    pub prompt_quiet: Duration,
    /// Quiet time after a prompt that ends a boot log (after a restart).
    pub boot_quiet: Duration,
}

impl Default for LuaConfig {
    fn default() -> Self {
        LuaConfig {
            line_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
            prompt_quiet: Duration::from_millis(100),
            boot_quiet: Duration::from_millis(200),
        }
    }
}

/// What the console machine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LuaEvent {
    /// The module is at its prompt and takes a line.
    Ready,
    /// A line ran. `output` is what it printed (LF line ends); `error` the message after
    /// `Lua error: ` when it raised.
    Done {
        output: String,
        error: Option<String>,
    },
    /// Something went wrong; the machine is idle.
    Failed(LuaError),
}

/// Why the console machine stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LuaError {
    /// Nothing (or not enough) came back in time.
    #[error("the module did not answer while {waiting_for}")]
    NoResponse { waiting_for: &'static str },
    /// The echo differs from the line sent: a byte was garbled on the wire.
    #[error(
        "byte {at} of the line sent came back as {} instead of {} (garbled on the wire)",
        show_bytes(got),
        show_bytes(&[*expected])
    )]
    EchoMismatch {
        at: usize,
        expected: u8,
        got: Vec<u8>,
    },
    /// The module answered `>> `: it took the line for an unfinished statement.
    #[error("the module took the line for an unfinished statement (it answered \">> \")")]
    Incomplete,
    /// The line is too long for the console; nothing was sent.
    #[error("a {len}-byte line is longer than the {MAX_LINE} bytes the console takes")]
    LineTooLong { len: usize },
}

#[derive(Debug)]
enum State {
    Idle,
    /// Waiting for a prompt followed by `quiet`.
    Syncing {
        deadline: Duration,
        quiet: Duration,
        last_rx: Duration,
        waiting_for: &'static str,
    },
    Ready,
    /// The line (with its LF) was sent; `matched` bytes of its echo came back.
    Echo {
        line: Vec<u8>,
        matched: usize,
        deadline: Duration,
        timeout: Duration,
    },
    /// The echo is complete; collecting output up to the prompt.
    Output {
        deadline: Duration,
        timeout: Duration,
    },
}

/// A line sent while the one before it runs: its bytes (with the LF) and its silence timeout.
#[derive(Debug)]
struct Queued {
    line: Vec<u8>,
    timeout: Duration,
}

/// The console machine. See the module documentation.
#[derive(Debug)]
pub struct LuaRepl {
    config: LuaConfig,
    state: State,
    queued: Option<Queued>,
    rx: Vec<u8>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<LuaEvent>,
    now: Duration,
}

impl LuaRepl {
    /// A machine that has not talked to the module yet.
    pub fn new(config: LuaConfig) -> Self {
        LuaRepl {
            config,
            state: State::Idle,
            queued: None,
            rx: Vec::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            now: Duration::ZERO,
        }
    }

    /// True when the machine takes [`LuaRepl::send_line`].
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready)
    }

    /// True when nothing is in progress.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// True while a line is out and its prompt has not come back.
    pub fn line_in_flight(&self) -> bool {
        matches!(self.state, State::Echo { .. } | State::Output { .. })
    }

    /// True when the machine takes [`LuaRepl::queue_line`]: the running line's echo is complete
    /// and no line is queued behind it.
    pub fn can_queue(&self) -> bool {
        matches!(self.state, State::Output { .. }) && self.queued.is_none()
    }

    /// True while a line waits (on the wire or in the module's RX buffer) behind the running one.
    pub fn has_queued(&self) -> bool {
        self.queued.is_some()
    }

    /// Send an empty line and wait for the prompt. Ends with [`LuaEvent::Ready`] or
    /// [`LuaEvent::Failed`].
    pub fn connect(&mut self, now: Duration) {
        self.now = now;
        self.rx.clear();
        self.tx.push_back(b"\n".to_vec());
        self.state = State::Syncing {
            deadline: now + self.config.connect_timeout,
            quiet: self.config.prompt_quiet,
            last_rx: now,
            waiting_for: "showing its Lua prompt",
        };
    }

    /// Wait, without sending, for the module to boot: a prompt followed by a quiet spell, within
    /// `timeout`. Ends with [`LuaEvent::Ready`] or [`LuaEvent::Failed`].
    pub fn await_boot(&mut self, now: Duration, timeout: Duration) {
        self.now = now;
        self.rx.clear();
        self.state = State::Syncing {
            deadline: now + timeout,
            quiet: self.config.boot_quiet,
            last_rx: now,
            waiting_for: "starting up (no prompt after the restart)",
        };
    }

    /// Send one line (no line end in it). `timeout` bounds the silence while it runs. Ends with
    /// [`LuaEvent::Done`] or [`LuaEvent::Failed`]; a line longer than [`MAX_LINE`] fails at once
    /// and nothing is sent.
    ///
    /// # Panics
    /// When the machine is not [ready](LuaRepl::is_ready), or the line holds a CR or LF.
    pub fn send_line(&mut self, now: Duration, line: &str, timeout: Duration) {
        assert!(
            self.is_ready(),
            "line sent while the Lua console is not ready"
        );
        assert!(!line.contains(['\r', '\n']), "one line at a time");
        self.now = now;
        let Some(bytes) = self.line_bytes(line) else {
            return;
        };
        self.tx.push_back(bytes.clone());
        self.rx.clear();
        self.state = State::Echo {
            line: bytes,
            matched: 0,
            deadline: now + timeout,
            timeout,
        };
    }

    /// Send one line (no line end in it) while the one before it runs; it ends, after the
    /// running line's [`LuaEvent::Done`], with its own [`LuaEvent::Done`] or a
    /// [`LuaEvent::Failed`]. `timeout` bounds the silence once its echo is due. A line longer than
    /// [`MAX_LINE`] fails at once and nothing is sent.
    ///
    /// # Panics
    /// When the machine does not [take a queued line](LuaRepl::can_queue), or the line holds a
    /// CR or LF.
    pub fn queue_line(&mut self, now: Duration, line: &str, timeout: Duration) {
        assert!(
            self.can_queue(),
            "line queued while the console is not running a fully echoed line"
        );
        assert!(!line.contains(['\r', '\n']), "one line at a time");
        self.now = now;
        let Some(bytes) = self.line_bytes(line) else {
            return;
        };
        self.tx.push_back(bytes.clone());
        self.queued = Some(Queued {
            line: bytes,
            timeout,
        });
    }

    /// The line with its LF, or `None` (and the machine failed) when it is too long.
    fn line_bytes(&mut self, line: &str) -> Option<Vec<u8>> {
        if line.len() > MAX_LINE {
            self.fail(LuaError::LineTooLong { len: line.len() });
            return None;
        }
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        Some(bytes)
    }

    /// What came back since the last line was sent holds bytes no console prints at the line's
    /// rate (the lines and their output are ASCII): the module talks at another rate now.
    pub fn heard_garbage(&self) -> bool {
        self.rx.iter().any(|b| !b.is_ascii())
    }

    /// Forget the module's state without sending anything.
    pub fn reset(&mut self) {
        self.rx.clear();
        self.tx.clear();
        self.queued = None;
        self.state = State::Idle;
    }

    /// Bytes received from the module.
    pub fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        if data.is_empty() {
            return;
        }
        match &mut self.state {
            State::Echo {
                deadline, timeout, ..
            }
            | State::Output { deadline, timeout } => *deadline = now + *timeout,
            State::Syncing { last_rx, .. } => *last_rx = now,
            _ => {}
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
    pub fn poll_event(&mut self) -> Option<LuaEvent> {
        self.events.pop_front()
    }

    /// The next instant the machine needs [`LuaRepl::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Duration> {
        match &self.state {
            State::Idle | State::Ready => None,
            State::Syncing {
                deadline,
                quiet,
                last_rx,
                ..
            } => Some(if ends_with_prompt(&self.rx) {
                (*last_rx + *quiet).min(*deadline)
            } else {
                *deadline
            }),
            State::Echo { deadline, .. } | State::Output { deadline, .. } => Some(*deadline),
        }
    }

    fn fail(&mut self, error: LuaError) {
        self.state = State::Idle;
        self.queued = None;
        self.events.push_back(LuaEvent::Failed(error));
    }

    fn process(&mut self) {
        let now = self.now;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => self.rx.clear(),
            State::Ready => {
                // Stray output at the prompt (an application's print): nobody asked for it.
                self.rx.clear();
                self.state = State::Ready;
            }
            State::Syncing {
                deadline,
                quiet,
                last_rx,
                waiting_for,
            } => {
                if ends_with_prompt(&self.rx) && now >= last_rx + quiet {
                    self.rx.clear();
                    self.state = State::Ready;
                    self.events.push_back(LuaEvent::Ready);
                } else if now >= deadline {
                    self.fail(LuaError::NoResponse { waiting_for });
                } else {
                    self.state = State::Syncing {
                        deadline,
                        quiet,
                        last_rx,
                        waiting_for,
                    };
                }
            }
            State::Echo {
                line,
                mut matched,
                deadline,
                timeout,
            } => {
                let mut used = 0;
                while matched < line.len() && used < self.rx.len() {
                    let got = self.rx[used];
                    let expected = line[matched];
                    if got != expected {
                        let got = self.rx[used..].iter().take(8).copied().collect();
                        self.rx.clear();
                        return self.fail(LuaError::EchoMismatch {
                            at: matched,
                            expected,
                            got,
                        });
                    }
                    used += 1;
                    matched += 1;
                }
                self.rx.drain(..used);
                if matched == line.len() {
                    self.state = State::Output { deadline, timeout };
                    return self.process();
                }
                if now >= deadline {
                    self.fail(LuaError::NoResponse {
                        waiting_for: "echoing the line sent",
                    });
                } else {
                    self.state = State::Echo {
                        line,
                        matched,
                        deadline,
                        timeout,
                    };
                }
            }
            State::Output { deadline, timeout } => {
                let prompt = if self.queued.is_some() {
                    first_prompt(&self.rx)
                } else if ends_with(&self.rx, PROMPT2) {
                    Some((self.rx.len() - PROMPT2.len(), PROMPT2))
                } else if ends_with(&self.rx, PROMPT) {
                    Some((self.rx.len() - PROMPT.len(), PROMPT))
                } else {
                    None
                };
                if prompt.is_some_and(|(_, p)| p == PROMPT2) {
                    self.rx.clear();
                    return self.fail(LuaError::Incomplete);
                }
                if let Some((at, _)) = prompt {
                    let output = String::from_utf8_lossy(&self.rx[..at]).replace("\r\n", "\n");
                    let error = output
                        .lines()
                        .find_map(|l| l.strip_prefix(ERROR_PREFIX))
                        .map(|m| m.trim_end().to_string());
                    self.rx.drain(..at + PROMPT.len());
                    self.events.push_back(LuaEvent::Done { output, error });
                    match self.queued.take() {
                        Some(Queued { line, timeout }) => {
                            self.state = State::Echo {
                                line,
                                matched: 0,
                                deadline: now + timeout,
                                timeout,
                            };
                            self.process();
                        }
                        None => {
                            self.rx.clear();
                            self.state = State::Ready;
                        }
                    }
                } else if now >= deadline {
                    self.fail(LuaError::NoResponse {
                        waiting_for: "running the line sent (no prompt came back)",
                    });
                } else {
                    self.state = State::Output { deadline, timeout };
                }
            }
        }
    }
}

/// `buf` ends with `prompt` at the start of a line.
fn ends_with(buf: &[u8], prompt: &[u8]) -> bool {
    buf.ends_with(prompt)
        && (buf.len() == prompt.len() || buf[buf.len() - prompt.len() - 1] == b'\n')
}

/// `buf` ends with the statement prompt (not the continuation prompt).
fn ends_with_prompt(buf: &[u8]) -> bool {
    ends_with(buf, PROMPT)
}

/// The first prompt at the start of a line in `buf`: where it starts, and which one.
fn first_prompt(buf: &[u8]) -> Option<(usize, &'static [u8])> {
    (0..buf.len()).find_map(|at| {
        if at > 0 && buf[at - 1] != b'\n' {
            return None;
        }
        [PROMPT, PROMPT2]
            .into_iter()
            .find(|p| buf[at..].starts_with(p))
            .map(|p| (at, p))
    })
}
