//! What a driver on the raw-REPL engine ([`super::flow::ReplFlow`]) deals in: the calls
//! it asks for ([`Call`], [`Next`]), the answers it gets ([`Reply`]), what it reports
//! ([`Report`]), and the [`ReplPlan`] trait itself.

use std::collections::VecDeque;
use std::time::Duration;

use crate::link::mp_repl::{show_bytes, PasteMode};
use crate::module::ModuleInfo;
use crate::partition_state::PartitionState;
use crate::session::{FlashErrorKind, LogLevel, SessionEvent, Step};

/// One piece of code to run on the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The step this call belongs to (shown in progress and errors).
    pub step: Step,
    /// Python source.
    pub code: Vec<u8>,
    /// Silence allowed while it runs.
    pub timeout: Duration,
}

impl Call {
    /// A call in `step` with `timeout`.
    pub fn new(step: Step, code: impl Into<Vec<u8>>, timeout: Duration) -> Self {
        Call {
            step,
            code: code.into(),
            timeout,
        }
    }
}

impl Next {
    /// Run `code` in `step`, allowing `secs` seconds of silence.
    pub fn exec(step: Step, code: impl Into<Vec<u8>>, secs: u64) -> Self {
        Next::Exec(Call::new(step, code, Duration::from_secs(secs)))
    }
}

/// What a plan wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run this and report its output.
    Exec(Call),
    /// Run this code, which restarts the module; then reconnect and report
    /// [`Reply::Reconnected`].
    Restart(Vec<u8>),
    /// Stop: `kind` went wrong in `step` before anything was sent for it (a check failed).
    Fail { step: Step, kind: FlashErrorKind },
    /// The session is over and went well.
    Done {
        /// The module restarted into new firmware during the session.
        restarted: bool,
    },
}

/// What the engine tells a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The raw REPL is open; nothing ran yet.
    Connected,
    /// The last [`Next::Exec`] finished.
    Output {
        /// What it printed.
        stdout: &'a str,
        /// The traceback, when it raised; empty otherwise.
        stderr: &'a str,
    },
    /// The module came back after [`Next::Restart`].
    Reconnected,
}

impl<'a> Reply<'a> {
    /// The printed output of a call that must not raise; a traceback becomes the error.
    pub fn output(self) -> Result<&'a str, FlashErrorKind> {
        match self {
            Reply::Output { stdout, stderr } if stderr.trim().is_empty() => Ok(stdout.trim()),
            Reply::Output { stderr, .. } => Err(traceback(stderr)),
            _ => Ok(""),
        }
    }
}

/// The error for a traceback: its last line (`OSError: -5379`, `ValueError: ...`).
pub fn traceback(stderr: &str) -> FlashErrorKind {
    let last_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    FlashErrorKind::Traceback { last_line }
}

/// An answer that is not what the call prints when it works.
pub fn bad_answer(call: &'static str, got: &str) -> FlashErrorKind {
    FlashErrorKind::BadAnswer {
        call,
        got: show_bytes(got.as_bytes()),
    }
}

/// What a plan can report while it runs.
#[derive(Debug, Default)]
pub struct Report {
    pub(crate) events: VecDeque<SessionEvent>,
    pub(crate) mode: Option<PasteMode>,
    pub(crate) module: Option<ModuleInfo>,
    pub(crate) restart_expected: bool,
}

impl Report {
    /// A line for the session log.
    pub fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.events.push_back(SessionEvent::Log {
            level,
            message: message.into(),
        });
    }

    /// Image bytes the module has accepted.
    pub fn progress(&mut self, done: u64, total: u64) {
        self.events
            .push_back(SessionEvent::Progress { done, total });
    }

    /// The module said what it is.
    pub fn identified(&mut self, info: ModuleInfo) {
        self.log(
            LogLevel::Info,
            format!(
                "Module: {} {} running firmware {}",
                info.family.name(),
                info.model,
                info.firmware_version
            ),
        );
        self.module = Some(info.clone());
        self.events.push_back(SessionEvent::Identified(info));
    }

    /// The module's slots were read.
    pub fn partitions(&mut self, state: PartitionState) {
        for line in state.lines() {
            self.log(LogLevel::Info, format!("Slot {line}"));
        }
        self.events.push_back(SessionEvent::Partitions(state));
    }

    /// The raw-paste window, when code goes through raw-paste mode.
    pub fn paste_window(&self) -> Option<u16> {
        match self.mode {
            Some(PasteMode::RawPaste { window }) => Some(window),
            _ => None,
        }
    }

    /// What the module said it is, once it did.
    pub fn module(&self) -> Option<&ModuleInfo> {
        self.module.as_ref()
    }

    /// Queue any event (for engines other than [`ReplFlow`] that share this report).
    pub(crate) fn push(&mut self, event: SessionEvent) {
        self.events.push_back(event);
    }

    /// The next queued event.
    pub(crate) fn pop(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// From a printed line: the module restarts by itself while this exec runs. The engine
    /// then takes the end of the exec (or the module going quiet) as the restart, reconnects and
    /// reports [`Reply::Reconnected`].
    pub fn expect_restart(&mut self) {
        self.restart_expected = true;
    }
}

/// A driver: the sequence of calls that does one job on one family of modules.
pub trait ReplPlan {
    /// What to do after `reply`. An error ends the session at the current step.
    fn next(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind>;
    /// Image bytes accepted so far and the image size, while an image is being sent.
    fn position(&self) -> Option<(u64, u64)>;
    /// Image bytes the module stored during the session, for the outcome.
    fn bytes_done(&self) -> u64 {
        self.position().map_or(0, |p| p.0)
    }
    /// A complete line the running exec printed, as it arrives (for progress reported by code
    /// that runs long on the module). The whole output still comes with [`Reply::Output`].
    fn on_line(&mut self, _report: &mut Report, _line: &str) {}
    /// The technician pressed Cancel while an exec runs. Returning true interrupts it with
    /// Ctrl-C and keeps reading: its code catches `KeyboardInterrupt`, undoes what it started and
    /// prints that; the plan then sees the output and ends the session with
    /// [`FlashErrorKind::Cancelled`]. False (the default) stops at once.
    fn interrupt_on_cancel(&mut self, _step: Step) -> bool {
        false
    }
    /// What the module holds if the session stops now, at `step`, for `kind`, in words that
    /// follow "The module ".
    fn module_state(&self, step: Step, kind: &FlashErrorKind) -> &'static str;
}
