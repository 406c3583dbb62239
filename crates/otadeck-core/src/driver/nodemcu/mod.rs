//! NodeMCU (ESP32) over-the-air update through `otaupgrade`, one Lua console line at a time.
//!
//! Flash: read the slots (`otaupgrade.info()`), check the image (an ESP-IDF app image that fits
//! the slot, and a running firmware that is not on trial), define the helper
//! `function w(s) otaupgrade.write(encoder.fromBase64(s)) end` and `otaupgrade.commence()` in one
//! line, then one `w("…")` line per [`CHUNK`] bytes, printing nothing when it worked. The write
//! lines go one ahead: line N+1 is sent once line N's echo is complete, so it waits in the
//! console's 256-byte RX buffer while N runs, and never more than one line waits there. After a
//! failure nothing more is sent, but a line already sent still runs: its result is read and the
//! error says what it did. Every other line goes alone, once the prompt before it came back.
//! `otaupgrade.complete(0)` verifies the image and selects it; `node.restart()`; the boot log ends
//! at the prompt; the slots are read again, the new slot must run the new version, and
//! `otaupgrade.accept()` unless the technician decides later. Nothing selects the new slot before
//! `complete` verified it, so a failure or a cancel before that leaves the old firmware booting.

pub mod info;
pub mod lines;
pub mod speed;
mod stages;

use std::time::Duration;

use crate::driver::nodemcu::info::{check_image, parse_info, InfoReport, INFO_LINE};
use crate::driver::nodemcu::lines::{
    after_failure, chunk_line, ACCEPT_LINE, COMPLETE_LINE, MAY_HAVE_WRITTEN, RESTART_LINE,
    ROLLBACK_LINE,
};
use crate::driver::repl::flow::{bad_answer, Report, CONNECT_ATTEMPTS};
use crate::image::esp;
use crate::link::lua_repl::{LuaConfig, LuaError, LuaEvent, LuaRepl};
use crate::partition_state::SlotState;
use crate::session::{
    group_digits, FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};

pub use crate::driver::nodemcu::lines::{CHUNK, PREPARE_LINE};
pub use crate::driver::nodemcu::speed::FastBaud;
/// Slot size of NodeMCU's two-slot OTA partition table, when the caller knows no better.
pub const DEFAULT_SLOT_SIZE: u64 = 0x18_0000;

/// What a session does (a rollback marks the running firmware invalid and restarts into the
/// other slot).
pub use super::TrialJob as Job;

/// Tuning of a NodeMCU session.
#[derive(Debug, Clone)]
pub struct NodeMcuConfig {
    /// Console tuning.
    pub lua: LuaConfig,
    /// Size of an OTA slot (`otaupgrade.info()` does not tell it).
    pub slot_size: u64,
    /// Silence allowed while `commence` erases the slot.
    pub erase_timeout: Duration,
    /// Silence allowed while `complete` verifies the image.
    pub verify_timeout: Duration,
    /// How long the module may take to restart and show its prompt.
    pub reboot_timeout: Duration,
    /// Write at a faster console rate (see [`speed`]); `None` keeps the port's rate.
    pub fast_baud: Option<FastBaud>,
}

impl Default for NodeMcuConfig {
    fn default() -> Self {
        NodeMcuConfig {
            lua: LuaConfig::default(),
            slot_size: DEFAULT_SLOT_SIZE,
            erase_timeout: Duration::from_secs(30),
            verify_timeout: Duration::from_secs(30),
            reboot_timeout: Duration::from_secs(30),
            fast_baud: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connect,
    ReadInfo,
    /// `=uart` asks whether the console can change its rate.
    UartCheck,
    /// `uart.setup` switches it.
    UartSetup,
    /// Waiting for a prompt at the fast rate.
    FastSync,
    /// No prompt there: waiting for one back at the usual rate.
    SlowSync,
    Prepare,
    Write,
    Complete,
    Restart,
    Rollback,
    /// Waiting for a prompt after a restart line printed nothing.
    Boot,
    ConfirmInfo,
    Accept,
    FinalInfo,
    Done,
}

/// A session on a NodeMCU module, as a [`Machine`].
#[derive(Debug)]
pub struct NodeMcuSession {
    job: Job,
    config: NodeMcuConfig,
    repl: LuaRepl,
    report: Report,
    stage: Stage,
    step: Step,
    now: Duration,
    connect_attempts: u8,
    /// The line in flight, for errors.
    call: &'static str,
    /// Image bytes in the write lines sent, and in those the module acknowledged.
    sent: usize,
    written: usize,
    /// A write line failed while the next one was already sent: its result is awaited.
    draining: Option<FlashErrorKind>,
    /// What a write line already sent did after a failure.
    after_failure: Option<&'static str>,
    target: Option<String>,
    /// `complete` succeeded: the next restart starts the new slot.
    selected: bool,
    restarted: bool,
    cancel_requested: bool,
    finished: bool,
    /// The console (and the port) run at the fast rate now.
    fast: bool,
    /// A rate the port must switch to, for [`Machine::poll_baud`].
    rate_change: Option<u32>,
    /// The fast rate was tried after no prompt came at the usual one.
    tried_fast: bool,
}

impl NodeMcuSession {
    /// Start a session for `job`: send a line end and wait for the Lua prompt.
    pub fn start(now: Duration, job: Job, config: NodeMcuConfig) -> Self {
        let mut s = NodeMcuSession {
            job,
            repl: LuaRepl::new(config.lua.clone()),
            config,
            report: Report::default(),
            stage: Stage::Connect,
            step: Step::Connect,
            now,
            connect_attempts: 1,
            call: "the Lua prompt",
            sent: 0,
            written: 0,
            draining: None,
            after_failure: None,
            target: None,
            selected: false,
            restarted: false,
            cancel_requested: false,
            finished: false,
            fast: false,
            rate_change: None,
            tried_fast: false,
        };
        s.report.push(SessionEvent::Step(Step::Connect));
        s.report
            .log(LogLevel::Info, "Waking the module's Lua console");
        s.repl.connect(now);
        s
    }

    fn image(&self) -> &[u8] {
        match &self.job {
            Job::Flash { image, .. } => image,
            _ => &[],
        }
    }

    fn set_step(&mut self, step: Step) {
        if step != self.step {
            self.step = step;
            self.report.push(SessionEvent::Step(step));
        }
    }

    fn send(&mut self, step: Step, call: &'static str, line: &str, timeout: Duration) {
        self.set_step(step);
        self.call = call;
        self.repl.send_line(self.now, line, timeout);
    }

    fn send_info(&mut self, step: Step, stage: Stage) {
        self.stage = stage;
        let timeout = self.config.lua.line_timeout;
        self.send(step, "otaupgrade.info", INFO_LINE, timeout);
    }

    fn position(&self) -> Option<(u64, u64)> {
        match (&self.job, self.stage) {
            (Job::Flash { image, .. }, Stage::Prepare | Stage::Write | Stage::Complete) => {
                Some((self.written as u64, image.len() as u64))
            }
            _ => None,
        }
    }

    fn module_state(&self, kind: &FlashErrorKind) -> &'static str {
        let refused = matches!(kind, FlashErrorKind::Traceback { .. });
        match self.stage {
            _ if self.job == Job::Inspect => "was not changed",
            Stage::Write if self.after_failure.is_some() => self.after_failure.unwrap_or_default(),
            Stage::Complete if !refused => {
                "still runs its previous firmware, and may start the new slot at its next restart"
            }
            Stage::Rollback if refused => "was not changed",
            Stage::Rollback => {
                "may have restarted into the other slot; reconnect and read its slots"
            }
            Stage::Accept => "runs the new firmware on trial; read its state before going on",
            _ if self.restarted => {
                "restarted; reconnect and read its slots to see which firmware runs"
            }
            _ if self.selected => {
                "starts the new firmware at its next restart; reconnect to check which firmware runs"
            }
            _ if matches!(self.job, Job::Accept | Job::Rollback) => "was not changed",
            _ => "still runs its previous firmware",
        }
    }

    fn fail(&mut self, kind: FlashErrorKind) {
        if self.finished {
            return;
        }
        self.slow_down_on_failure();
        let position = self.position();
        let error = FlashError {
            step: self.step,
            offset: position.map(|p| p.0),
            total: position.map(|p| p.1),
            module_state: self.module_state(&kind),
            kind,
        };
        let level = if error.kind == FlashErrorKind::Cancelled {
            LogLevel::Warn
        } else {
            LogLevel::Error
        };
        self.report.log(level, error.to_string());
        self.finished = true;
        self.stage = Stage::Done;
        self.repl.reset();
        self.report.push(SessionEvent::Finished(Err(error)));
    }

    fn finish(&mut self) {
        self.finished = true;
        self.stage = Stage::Done;
        let outcome = FlashOutcome {
            bytes: self.written as u64,
            restarted: self.restarted,
            module: self.report.module().cloned(),
        };
        self.report.push(SessionEvent::Finished(Ok(outcome)));
    }

    fn on_info(&mut self, output: &str) -> Result<InfoReport, FlashErrorKind> {
        let info = parse_info(output).ok_or_else(|| bad_answer("otaupgrade.info", output))?;
        let module = info.module();
        if self.report.module() != Some(&module) {
            self.report.identified(module);
        }
        self.report.partitions(info.state.clone());
        Ok(info)
    }

    fn image_version(&self) -> String {
        esp::app_descriptor(self.image())
            .map(|d| d.version)
            .unwrap_or_default()
    }

    /// Bytes of the oldest write line not yet acknowledged.
    fn next_ack(&self) -> usize {
        CHUNK.min(self.image().len() - self.written)
    }

    /// A write line is out behind the one whose result comes next.
    fn queued_behind(&self) -> bool {
        self.stage == Stage::Write && self.sent > self.written + self.next_ack()
    }

    /// Send the next write line when the console takes it: alone at the prompt, or queued once
    /// the running line's echo is complete. Nothing after a failure or a cancel.
    fn feed_writes(&mut self) {
        let image = self.image();
        if self.finished
            || self.stage != Stage::Write
            || self.cancel_requested
            || self.draining.is_some()
            || self.sent >= image.len()
        {
            return;
        }
        let (line, end) = chunk_line(image, self.sent);
        let timeout = self.config.lua.line_timeout;
        if self.repl.is_ready() {
            self.send(Step::Write, "otaupgrade.write", &line, timeout);
        } else if self.repl.can_queue() {
            self.repl.queue_line(self.now, &line, timeout);
        } else {
            return;
        }
        self.sent = end;
    }

    fn restart_line(&mut self, stage: Stage, call: &'static str, line: &str) {
        self.stage = stage;
        let timeout = self.config.reboot_timeout;
        self.send(Step::Restart, call, line, timeout);
    }

    fn on_failed(&mut self, error: LuaError) {
        if let Some(kind) = self.draining.take() {
            self.report.log(
                LogLevel::Warn,
                format!("The write line sent before the failure got no clear result: {error}"),
            );
            self.after_failure = Some(MAY_HAVE_WRITTEN);
            return self.fail(kind);
        }
        if self.queued_behind() {
            self.after_failure = Some(MAY_HAVE_WRITTEN);
        }
        if self.cancel_requested {
            return self.fail(FlashErrorKind::Cancelled);
        }
        if self.stage == Stage::Connect
            && self.connect_attempts < CONNECT_ATTEMPTS
            && matches!(error, LuaError::NoResponse { .. })
        {
            self.connect_attempts += 1;
            self.report.log(
                LogLevel::Warn,
                format!(
                    "No prompt from the module yet (it may still be starting); try {} of \
                     {CONNECT_ATTEMPTS}",
                    self.connect_attempts
                ),
            );
            return self.repl.connect(self.now);
        }
        if matches!(error, LuaError::NoResponse { .. }) && self.try_other_rate() {
            return;
        }
        if let Some(kind) = self.restarted_at_fast_rate(&error) {
            return self.fail(kind);
        }
        let kind = match error {
            LuaError::NoResponse { waiting_for } => FlashErrorKind::NoResponse { waiting_for },
            LuaError::LineTooLong { .. } => FlashErrorKind::Protocol(error.to_string()),
            other => FlashErrorKind::Protocol(format!("{}: {other}", self.call)),
        };
        self.fail(kind);
    }

    fn pump(&mut self) {
        while let Some(event) = self.repl.poll_event() {
            if self.finished {
                continue;
            }
            match event {
                LuaEvent::Ready if self.stage == Stage::Connect => {
                    if self.cancel_requested {
                        self.fail(FlashErrorKind::Cancelled);
                    } else {
                        self.send_info(Step::Identify, Stage::ReadInfo);
                    }
                }
                LuaEvent::Ready if matches!(self.stage, Stage::FastSync | Stage::SlowSync) => {
                    if self.cancel_requested {
                        self.fail(FlashErrorKind::Cancelled);
                    } else {
                        self.prepare();
                    }
                }
                LuaEvent::Ready => {
                    if let Err(kind) = self.on_done("(boot)", None) {
                        self.fail(kind);
                    }
                }
                LuaEvent::Done { output, error } => {
                    if let Err(kind) = self.on_done(&output, error) {
                        self.fail(kind);
                    }
                }
                LuaEvent::Failed(error) => self.on_failed(error),
            }
        }
        self.follow_rate();
        self.feed_writes();
    }
}

impl Machine for NodeMcuSession {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        self.repl.handle_input(now, data);
        self.pump();
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        self.repl.handle_timeout(now);
        self.pump();
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.repl.poll_transmit()
    }

    fn poll_baud(&mut self) -> Option<u32> {
        self.take_rate_change()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if self.finished {
            None
        } else {
            self.repl.poll_timeout()
        }
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.report.pop()
    }

    /// Stops at a line boundary: a line already sent runs to its prompt (the module cannot be
    /// interrupted mid-line), nothing after it is sent.
    fn cancel(&mut self, now: Duration) {
        self.now = now;
        if self.finished {
            return;
        }
        self.cancel_requested = true;
        if !self.repl.line_in_flight() {
            self.fail(FlashErrorKind::Cancelled);
        }
    }

    fn link_lost(&mut self, now: Duration) {
        self.now = now;
        if self.draining.is_some() || self.queued_behind() {
            self.after_failure = Some(MAY_HAVE_WRITTEN);
        }
        let kind = self.draining.take().unwrap_or(FlashErrorKind::LinkLost);
        self.fail(kind);
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    /// Back on a new port after its restart: the boot log and prompt went out while the port
    /// was away, so ask for a prompt.
    fn handle_reconnected(&mut self, now: Duration, _interfaces: Vec<crate::session::UsbAlt>) {
        self.now = now;
        if matches!(self.stage, Stage::Restart | Stage::Rollback | Stage::Boot) && !self.finished {
            self.repl.reset();
            // The port went before the restart line's echo: the module boots at its usual
            // rate, so the port goes back there first, then asks for a prompt.
            if !self.back_to_console_rate() {
                self.repl.connect(now);
            }
        }
    }
}
