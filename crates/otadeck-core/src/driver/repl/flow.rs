//! The session engine shared by every driver that works through the MicroPython raw REPL.
//!
//! A driver is a [`ReplPlan`]: given what the module answered last, it says what to run next.
//! The engine ([`ReplFlow`]) owns everything else: entering the raw REPL (with retries while a
//! module is still booting), running each exec, restarting and reconnecting, cancel, a lost link,
//! and turning any failure into a [`FlashError`] that names the step, the byte offset and what the
//! module holds now.

use std::time::Duration;

pub use super::plan::{bad_answer, traceback, Call, Next, ReplPlan, Reply, Report};
use crate::link::mp_repl::{PasteMode, RawRepl, ReplConfig, ReplError, ReplEvent, FRIENDLY_PROMPT};
use crate::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};

/// Tries at entering the raw REPL before giving up: a module just plugged in may still be
/// booting and ignore the first ones.
pub const CONNECT_ATTEMPTS: u8 = 3;

/// Silence allowed once a running exec is expected to end in a restart of the module.
pub const RESTART_QUIET: Duration = Duration::from_secs(3);
/// How long an interrupted exec may take to print what its handler did.
pub const INTERRUPT_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Running,
    Restarting,
    /// Waiting for the module to boot, then entering its REPL again.
    Reconnect {
        not_before: Duration,
        give_up: Duration,
    },
    /// Bytes the protocol does not allow came: listening until `until` for a boot banner (the
    /// module restarted by itself) before calling them garbled.
    Listening {
        until: Duration,
    },
    Finished,
}

/// How long unexpected bytes are listened to for a boot banner.
pub const BANNER_WAIT: Duration = Duration::from_secs(3);

/// What a module prints when it boots: the ESP32 ROM's reset line and a MicroPython banner or
/// friendly prompt.
const BOOT_SIGNS: [&[u8]; 4] = [b"rst:0x", b"MicroPython v", b"Type \"help()\"", b"\r\n>>> "];

/// Tuning of a [`ReplFlow`].
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// REPL tuning.
    pub repl: ReplConfig,
    /// How long the module may take to come back after a restart.
    pub reboot_timeout: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            repl: ReplConfig::default(),
            reboot_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`Machine`] that runs a [`ReplPlan`] over the raw REPL.
#[derive(Debug)]
pub struct ReplFlow<P> {
    plan: P,
    run: Run,
}

/// Everything of a [`ReplFlow`] but its plan. Its methods take the plan as `dyn ReplPlan`, so
/// that the engine is compiled once for every driver, not once per plan type.
#[derive(Debug)]
struct Run {
    repl: RawRepl,
    config: FlowConfig,
    report: Report,
    phase: Phase,
    step: Step,
    now: Duration,
    connect_attempts: u8,
    /// The incomplete last line of what the running exec printed.
    partial: Vec<u8>,
    /// Cancel interrupted the running exec; its output is awaited.
    cancelling: bool,
    /// What came while [`Phase::Listening`], and the error it stands for unless a banner shows.
    heard: Vec<u8>,
    garbled: Option<ReplError>,
}

impl<P: ReplPlan> ReplFlow<P> {
    fn new(now: Duration, plan: P, config: FlowConfig, step: Step) -> Self {
        let mut flow = ReplFlow {
            plan,
            run: Run {
                repl: RawRepl::new(config.repl.clone()),
                config,
                report: Report::default(),
                phase: Phase::Connect,
                step,
                now,
                connect_attempts: 1,
                partial: Vec::new(),
                cancelling: false,
                heard: Vec::new(),
                garbled: None,
            },
        };
        flow.run.report.events.push_back(SessionEvent::Step(step));
        flow
    }

    /// Start `plan`: interrupt the module and enter its raw REPL.
    pub fn start(now: Duration, plan: P, config: FlowConfig) -> Self {
        let mut flow = Self::new(now, plan, config, Step::Connect);
        flow.run.report.log(
            LogLevel::Info,
            "Interrupting the module and entering its raw REPL",
        );
        flow.run.repl.enter(now);
        flow
    }

    /// A session refused before anything is sent: it is finished with `kind` at `step`.
    pub fn refused(
        now: Duration,
        plan: P,
        config: FlowConfig,
        step: Step,
        kind: FlashErrorKind,
    ) -> Self {
        let mut flow = Self::new(now, plan, config, step);
        let ReplFlow { plan, run } = &mut flow;
        run.fail(plan, kind);
        flow
    }

    /// A line for the session log, from outside the plan (a warning about its settings).
    pub fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.run.report.log(level, message);
    }

    /// The plan, for inspection.
    pub fn plan(&self) -> &P {
        &self.plan
    }
}

impl Run {
    fn set_step(&mut self, step: Step) {
        if step != self.step {
            self.step = step;
            self.report.events.push_back(SessionEvent::Step(step));
        }
    }

    fn fail(&mut self, plan: &mut dyn ReplPlan, kind: FlashErrorKind) {
        if self.phase == Phase::Finished {
            return;
        }
        let position = plan.position();
        let error = FlashError {
            step: self.step,
            offset: position.map(|p| p.0),
            total: position.map(|p| p.1),
            module_state: plan.module_state(self.step, &kind),
            kind,
        };
        let level = if error.kind == FlashErrorKind::Cancelled {
            LogLevel::Warn
        } else {
            LogLevel::Error
        };
        self.report.log(level, error.to_string());
        self.phase = Phase::Finished;
        self.report
            .events
            .push_back(SessionEvent::Finished(Err(error)));
    }

    /// Stop what runs on the module and give it back its friendly prompt.
    fn release_module(&mut self) {
        self.repl.abort(self.now);
        self.repl.leave(self.now);
    }

    fn advance(&mut self, plan: &mut dyn ReplPlan, reply: Reply<'_>) {
        match plan.next(&mut self.report, reply) {
            Err(kind) => {
                self.release_module();
                self.fail(plan, kind);
            }
            Ok(Next::Fail { step, kind }) => {
                self.set_step(step);
                self.repl.leave(self.now);
                self.fail(plan, kind);
            }
            Ok(Next::Exec(call)) => {
                self.phase = Phase::Running;
                self.set_step(call.step);
                self.repl.exec(self.now, &call.code, call.timeout);
            }
            Ok(Next::Restart(code)) => {
                self.phase = Phase::Restarting;
                self.set_step(Step::Restart);
                self.repl.exec(self.now, &code, Duration::from_secs(2));
            }
            Ok(Next::Done { restarted }) => {
                self.repl.leave(self.now);
                self.phase = Phase::Finished;
                let bytes = plan.bytes_done();
                self.report
                    .events
                    .push_back(SessionEvent::Finished(Ok(FlashOutcome {
                        bytes,
                        restarted,
                        module: self.report.module.clone(),
                    })));
            }
        }
    }

    fn begin_reconnect(&mut self) {
        self.repl.reset();
        self.phase = Phase::Reconnect {
            not_before: self.now + Duration::from_millis(500),
            give_up: self.now + self.config.reboot_timeout,
        };
        self.set_step(Step::Confirm);
    }

    /// The restarting module printed its friendly prompt: it is back, so reconnect at once
    /// instead of waiting out the silence of the restart exec.
    fn back_after_restart(&mut self) {
        self.partial.clear();
        self.repl.reset();
        self.set_step(Step::Confirm);
        self.phase = Phase::Reconnect {
            not_before: self.now + Duration::from_secs(1),
            give_up: self.now + self.config.reboot_timeout,
        };
        self.repl.enter(self.now);
    }

    fn on_repl_failed(&mut self, plan: &mut dyn ReplPlan, error: ReplError) {
        match self.phase {
            // A restarting module goes quiet or prints its boot log: both are expected.
            Phase::Restarting => self.begin_reconnect(),
            Phase::Reconnect { give_up, .. } if self.now < give_up => {}
            Phase::Connect
                if self.connect_attempts < CONNECT_ATTEMPTS
                    && matches!(error, ReplError::NoResponse { .. }) =>
            {
                self.connect_attempts += 1;
                self.report.log(
                    LogLevel::Warn,
                    format!(
                        "No answer from the module yet (it may still be starting); try {} of \
                         {CONNECT_ATTEMPTS}",
                        self.connect_attempts
                    ),
                );
                self.repl.enter(self.now);
            }
            _ if self.cancelling => {
                self.release_module();
                self.fail(plan, FlashErrorKind::Cancelled);
            }
            Phase::Running if matches!(error, ReplError::Unexpected { .. }) => {
                // Maybe the start of a boot banner: listen before calling it garbled.
                self.heard = match &error {
                    ReplError::Unexpected { got, .. } => got.clone(),
                    _ => Vec::new(),
                };
                self.garbled = Some(error);
                self.phase = Phase::Listening {
                    until: self.now + BANNER_WAIT,
                };
                self.check_banner(plan);
            }
            _ => {
                let kind = match error {
                    ReplError::NoResponse { waiting_for } => {
                        FlashErrorKind::NoResponse { waiting_for }
                    }
                    other => FlashErrorKind::Protocol(other.to_string()),
                };
                self.release_module();
                self.fail(plan, kind);
            }
        }
    }

    fn pump(&mut self, plan: &mut dyn ReplPlan) {
        while let Some(event) = self.repl.poll_event() {
            if self.phase == Phase::Finished {
                continue;
            }
            match event {
                ReplEvent::Ready => match self.phase {
                    Phase::Connect => self.advance(plan, Reply::Connected),
                    Phase::Reconnect { .. } => {
                        self.phase = Phase::Running;
                        self.report
                            .log(LogLevel::Info, "The module is back after its restart");
                        self.advance(plan, Reply::Reconnected);
                    }
                    _ => {}
                },
                ReplEvent::ModeChosen(mode) => {
                    self.report.mode = Some(mode);
                    self.report.log(LogLevel::Info, mode_text(mode));
                }
                ReplEvent::Printed(bytes) => {
                    self.partial.extend_from_slice(&bytes);
                    while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = self.partial.drain(..=i).collect();
                        let line = String::from_utf8_lossy(&line);
                        plan.on_line(&mut self.report, line.trim_end());
                    }
                    if std::mem::take(&mut self.report.restart_expected)
                        && self.phase == Phase::Running
                    {
                        self.phase = Phase::Restarting;
                        self.set_step(Step::Restart);
                        self.repl.quiet_after(self.now, RESTART_QUIET);
                    }
                    if self.phase == Phase::Restarting && self.partial.ends_with(FRIENDLY_PROMPT) {
                        self.back_after_restart();
                    }
                }
                ReplEvent::ExecDone { stdout, stderr } => {
                    self.partial.clear();
                    if self.phase == Phase::Restarting {
                        self.begin_reconnect();
                        continue;
                    }
                    let stdout = String::from_utf8_lossy(&stdout);
                    let stderr = String::from_utf8_lossy(&stderr);
                    if !stderr.trim().is_empty() {
                        self.report.log(
                            LogLevel::Debug,
                            format!("Traceback from the module:\n{stderr}"),
                        );
                    }
                    self.advance(
                        plan,
                        Reply::Output {
                            stdout: &stdout,
                            stderr: &stderr,
                        },
                    );
                }
                ReplEvent::Failed(error) => self.on_repl_failed(plan, error),
            }
        }
    }
}

impl Run {
    /// While listening: a boot banner means the module restarted by itself.
    fn check_banner(&mut self, plan: &mut dyn ReplPlan) {
        let booted = BOOT_SIGNS
            .iter()
            .any(|sign| self.heard.windows(sign.len()).any(|w| w == *sign));
        if booted {
            self.garbled = None;
            self.release_module();
            self.fail(
                plan,
                FlashErrorKind::ModuleState {
                    why: "the module restarted by itself (its power was cut, it was reset, or it \
                      crashed)"
                        .into(),
                    then: "Keep the module powered and its reset line still, then flash again.",
                },
            );
        }
    }

    /// Listened long enough without a banner: the bytes were garbled after all.
    fn end_listening(&mut self, plan: &mut dyn ReplPlan) {
        let error = self.garbled.take();
        self.phase = Phase::Running;
        if let Some(error) = error {
            self.release_module();
            self.fail(plan, FlashErrorKind::Protocol(error.to_string()));
        }
    }
}

/// The paste mode in words, for the log.
pub(crate) fn mode_text(mode: PasteMode) -> String {
    match mode {
        PasteMode::RawPaste { window } => format!("Raw-paste mode with a {window}-byte window"),
        PasteMode::PlainUnsupported => {
            "The module refused raw-paste (R\\x00); using paced raw mode".into()
        }
        PasteMode::PlainOldFirmware => {
            "The module's firmware predates raw-paste; using paced raw mode".into()
        }
        PasteMode::PlainByChoice | PasteMode::Unknown => "Paced raw mode".into(),
    }
}

impl Run {
    fn handle_input(&mut self, plan: &mut dyn ReplPlan, now: Duration, data: &[u8]) {
        self.now = now;
        if let Phase::Listening { .. } = self.phase {
            self.heard.extend_from_slice(data);
            return self.check_banner(plan);
        }
        self.repl.handle_input(now, data);
        self.pump(plan);
    }

    fn handle_timeout(&mut self, plan: &mut dyn ReplPlan, now: Duration) {
        self.now = now;
        if let Phase::Listening { until } = self.phase {
            if now >= until {
                self.end_listening(plan);
            }
            return;
        }
        if let Phase::Reconnect {
            not_before,
            give_up,
        } = self.phase
        {
            if now >= give_up {
                return self.fail(
                    plan,
                    FlashErrorKind::NoResponse {
                        waiting_for: "restarting (it did not come back)",
                    },
                );
            }
            if now >= not_before && self.repl.is_idle() {
                self.repl.enter(now);
                self.phase = Phase::Reconnect {
                    not_before: now + Duration::from_secs(1),
                    give_up,
                };
            }
        }
        self.repl.handle_timeout(now);
        self.pump(plan);
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.repl.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Finished => None,
            Phase::Listening { until } => Some(until),
            Phase::Reconnect {
                not_before,
                give_up,
            } => {
                let own = if self.repl.is_idle() {
                    not_before
                } else {
                    give_up
                };
                Some(self.repl.poll_timeout().map_or(own, |t| t.min(own)))
            }
            _ => self.repl.poll_timeout(),
        }
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.report.events.pop_front()
    }

    fn cancel(&mut self, plan: &mut dyn ReplPlan, now: Duration) {
        self.now = now;
        if self.phase == Phase::Finished {
            return;
        }
        if self.phase == Phase::Running
            && !self.cancelling
            && plan.interrupt_on_cancel(self.step)
            && self.repl.interrupt(now, INTERRUPT_WAIT)
        {
            self.cancelling = true;
            self.report.log(
                LogLevel::Warn,
                "Cancel: interrupting the module and waiting for it to stop its work",
            );
            return;
        }
        self.release_module();
        self.fail(plan, FlashErrorKind::Cancelled);
    }

    fn link_lost(&mut self, plan: &mut dyn ReplPlan, now: Duration) {
        self.now = now;
        self.fail(plan, FlashErrorKind::LinkLost);
    }

    fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }
}

impl<P: ReplPlan> Machine for ReplFlow<P> {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.run.handle_input(&mut self.plan, now, data)
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.run.handle_timeout(&mut self.plan, now)
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.run.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.run.poll_timeout()
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.run.poll_event()
    }

    fn cancel(&mut self, now: Duration) {
        self.run.cancel(&mut self.plan, now)
    }

    fn link_lost(&mut self, now: Duration) {
        self.run.link_lost(&mut self.plan, now)
    }

    fn is_finished(&self) -> bool {
        self.run.is_finished()
    }
}
