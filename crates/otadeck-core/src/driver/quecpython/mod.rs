//! QuecPython local firmware update: `fota()`, then the image streamed as `write(<bytes>, total)`
//! calls, `flush()`, `verify()`, and `Power.powerRestart()` unless the technician asked not to
//! restart. Runs over the MicroPython raw REPL ([`crate::link::mp_repl`]).
//!
//! Nothing makes the new image bootable before the module's own `verify()` returned 0, so every
//! failure before that point leaves the module on its previous firmware.

pub mod download;

use std::collections::VecDeque;
use std::time::Duration;

use crate::driver::repl::encoding::{ChunkEncoder, Encoding};
use crate::link::mp_repl::{PasteMode, RawRepl, ReplConfig, ReplError, ReplEvent, FRIENDLY_PROMPT};
use crate::module::{parse_uname, Family, ModuleInfo};
use crate::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};

/// Image bytes per `write` call in raw-paste mode: 4096 base64 characters (about 3.2 kB as a
/// bytes literal), which the flow control streams without the module buffering the whole exec.
pub const RAW_PASTE_CHUNK: usize = 3072;
/// Image bytes per `write` call in plain raw mode, where the module buffers the whole exec.
pub const PLAIN_CHUNK: usize = 768;

/// How the flash runs.
#[derive(Debug, Clone)]
pub struct FotaOptions {
    /// Restart the module into the new firmware after a passing verify. When false the `fota`
    /// object is made with `reset_disable=1` and the module boots the new firmware at its next
    /// restart.
    pub restart: bool,
    /// Image bytes per `write` call; `None` picks by REPL mode.
    pub chunk_size: Option<usize>,
    /// REPL tuning.
    pub repl: ReplConfig,
    /// Silence allowed while a `write` or `flush` runs.
    pub call_timeout: Duration,
    /// Silence allowed while `verify()` runs (it reads the whole package back).
    pub verify_timeout: Duration,
    /// How long the module may take to come back after the restart.
    pub reboot_timeout: Duration,
}

impl Default for FotaOptions {
    fn default() -> Self {
        FotaOptions {
            restart: true,
            chunk_size: None,
            repl: ReplConfig::default(),
            call_timeout: Duration::from_secs(5),
            verify_timeout: Duration::from_secs(60),
            reboot_timeout: Duration::from_secs(30),
        }
    }
}

pub(crate) const IDENTIFY_CODE: &[u8] =
    b"import uos,modem\nprint(uos.uname())\nprint(modem.getDevFwVersion())";
pub(crate) const IDENTIFY_CALL: &str = "uos.uname() and modem.getDevFwVersion()";
pub(crate) const RESTART_CODE: &[u8] = b"from misc import Power\nPower.powerRestart()";

/// The module's identity from what [`IDENTIFY_CODE`] printed.
pub(crate) fn parse_identity(out: &str) -> Option<ModuleInfo> {
    let mut lines = out.trim().lines();
    let uname = parse_uname(lines.next()?)?;
    let firmware_version = lines.next()?.trim().to_string();
    let field = |k: &str| {
        uname
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Some(ModuleInfo {
        family: Family::QuecPython,
        model: field("sysname"),
        firmware_version,
        runtime: format!("MicroPython {}", field("release")),
    })
}
const KEEP_OLD: &str = "still runs its previous firmware";
/// The verify call may have passed on the module before the session stopped without its answer.
const VERIFY_UNKNOWN: &str =
    "still runs its previous firmware, but boots the new one at its next restart if its verify passed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Identify,
    Prepare,
    Write,
    Flush,
    Verify,
    Restart,
    /// Waiting for the module to boot, then entering its REPL again.
    Reconnect {
        not_before: Duration,
        give_up: Duration,
    },
    Confirm,
    Finished,
}

/// One session with a QuecPython module: identify it, or flash it.
#[derive(Debug)]
pub struct QuecPythonSession {
    repl: RawRepl,
    image: Option<Vec<u8>>,
    options: FotaOptions,
    phase: Phase,
    written: u64,
    in_flight: usize,
    /// Base64 (the firmware always has `ubinascii`) or a bytes literal, per chunk.
    encoder: ChunkEncoder,
    module: Option<ModuleInfo>,
    events: VecDeque<SessionEvent>,
    now: Duration,
    connect_attempts: u8,
    /// The last bytes the restarting module printed, to see its prompt come back.
    restart_tail: Vec<u8>,
}

/// Tries at entering the raw REPL before giving up: a module just plugged in may still be
/// booting and ignore the first ones.
pub const CONNECT_ATTEMPTS: u8 = 3;

impl QuecPythonSession {
    /// A session that only asks the module what it is.
    pub fn identify(now: Duration, repl: ReplConfig) -> Self {
        Self::start(
            now,
            None,
            FotaOptions {
                repl,
                ..FotaOptions::default()
            },
        )
    }

    /// A session that flashes `image`.
    pub fn flash(now: Duration, image: Vec<u8>, options: FotaOptions) -> Self {
        Self::start(now, Some(image), options)
    }

    fn start(now: Duration, image: Option<Vec<u8>>, options: FotaOptions) -> Self {
        let mut s = QuecPythonSession {
            repl: RawRepl::new(options.repl.clone()),
            image,
            options,
            phase: Phase::Connect,
            written: 0,
            in_flight: 0,
            encoder: ChunkEncoder::new(Encoding::Base64),
            module: None,
            events: VecDeque::new(),
            now,
            connect_attempts: 1,
            restart_tail: Vec::new(),
        };
        if s.image.as_ref().is_some_and(|i| i.is_empty()) {
            s.fail(Step::Prepare, FlashErrorKind::EmptyImage);
            return s;
        }
        s.enter_step(Step::Connect);
        s.log(
            LogLevel::Info,
            "Interrupting the module and entering its raw REPL",
        );
        s.repl.enter(now);
        s
    }

    fn total(&self) -> u64 {
        self.image.as_ref().map_or(0, |i| i.len() as u64)
    }

    fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.events.push_back(SessionEvent::Log {
            level,
            message: message.into(),
        });
    }

    fn enter_step(&mut self, step: Step) {
        self.events.push_back(SessionEvent::Step(step));
    }

    fn step_of(&self) -> Step {
        match self.phase {
            Phase::Connect => Step::Connect,
            Phase::Identify => Step::Identify,
            Phase::Prepare => Step::Prepare,
            Phase::Write => Step::Write,
            Phase::Flush => Step::Flush,
            Phase::Verify => Step::Verify,
            Phase::Restart => Step::Restart,
            Phase::Reconnect { .. } | Phase::Confirm | Phase::Finished => Step::Confirm,
        }
    }

    /// What the module holds if the session stops now for `kind`.
    fn module_state(&self, kind: &FlashErrorKind) -> &'static str {
        match self.phase {
            Phase::Restart | Phase::Reconnect { .. } | Phase::Confirm => {
                "verified the new firmware and was told to restart into it; reconnect to check \
                 the version it runs"
            }
            _ if self.image.is_none() => "was not changed",
            // Stopped (cancel, lost link, silence) while `verify()` may already have run and
            // passed: the module then boots the new image at its next restart. Only a failing
            // answer or a traceback from the verify rules that out.
            Phase::Verify
                if !matches!(
                    kind,
                    FlashErrorKind::Rejected { .. } | FlashErrorKind::Traceback { .. }
                ) =>
            {
                VERIFY_UNKNOWN
            }
            _ => KEEP_OLD,
        }
    }

    fn fail(&mut self, step: Step, kind: FlashErrorKind) {
        let flashing = self.image.is_some();
        let in_image = flashing && matches!(step, Step::Write | Step::Flush | Step::Verify);
        let error = FlashError {
            step,
            offset: in_image.then_some(self.written),
            total: in_image.then(|| self.total()),
            module_state: self.module_state(&kind),
            kind,
        };
        let level = if error.kind == FlashErrorKind::Cancelled {
            LogLevel::Warn
        } else {
            LogLevel::Error
        };
        self.log(level, error.to_string());
        self.phase = Phase::Finished;
        self.events.push_back(SessionEvent::Finished(Err(error)));
    }

    fn succeed(&mut self, restarted: bool) {
        self.phase = Phase::Finished;
        self.events
            .push_back(SessionEvent::Finished(Ok(FlashOutcome {
                bytes: self.written,
                restarted,
                module: self.module.clone(),
            })));
    }

    /// Stop what runs on the module and give it back its friendly prompt.
    fn release_module(&mut self) {
        self.repl.abort(self.now);
        self.repl.leave(self.now);
    }

    fn exec(&mut self, code: &[u8], timeout: Duration) {
        self.repl.exec(self.now, code, timeout);
    }

    fn chunk_size(&self) -> usize {
        self.options.chunk_size.unwrap_or(match self.repl.mode() {
            PasteMode::RawPaste { .. } => RAW_PASTE_CHUNK,
            _ => PLAIN_CHUNK,
        })
    }

    fn send_next_chunk(&mut self) {
        let total = self.total();
        let start = self.written as usize;
        let size = self.chunk_size();
        let image = self.image.as_ref().expect("writing without an image");
        let end = (start + size).min(image.len());
        let mut code = b"print(f.write(".to_vec();
        code.extend_from_slice(&self.encoder.encode(&image[start..end]));
        code.extend_from_slice(format!(",{total}))").as_bytes());
        self.in_flight = end - start;
        self.exec(&code, self.options.call_timeout);
    }

    fn begin_prepare(&mut self) {
        self.phase = Phase::Prepare;
        self.enter_step(Step::Prepare);
        let ctor = if self.options.restart {
            "fota()"
        } else {
            "fota(reset_disable=1)"
        };
        self.log(
            LogLevel::Info,
            format!(
                "Starting the update: {} bytes, {ctor}",
                crate::session::group_digits(self.total())
            ),
        );
        let code = format!("import fota\nfrom ubinascii import a2b_base64 as A\nf={ctor}");
        self.exec(code.as_bytes(), self.options.call_timeout);
    }

    fn on_ready(&mut self) {
        match self.phase {
            Phase::Connect => {
                self.phase = Phase::Identify;
                self.enter_step(Step::Identify);
                self.exec(IDENTIFY_CODE, self.options.call_timeout);
            }
            Phase::Reconnect { .. } => {
                self.phase = Phase::Confirm;
                self.log(LogLevel::Info, "The module is back; reading its version");
                self.exec(IDENTIFY_CODE, self.options.call_timeout);
            }
            _ => {}
        }
    }

    /// The output of the exec that just ended, for the current phase.
    fn on_exec_done(&mut self, stdout: Vec<u8>, stderr: Vec<u8>) {
        let out = String::from_utf8_lossy(&stdout).trim().to_string();
        if !stderr.is_empty() && self.phase != Phase::Restart {
            let text = String::from_utf8_lossy(&stderr);
            let last_line = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            self.log(
                LogLevel::Debug,
                format!("Traceback from the module:\n{text}"),
            );
            self.release_module();
            let step = self.step_of();
            return self.fail(step, FlashErrorKind::Traceback { last_line });
        }
        match self.phase {
            Phase::Identify | Phase::Confirm => self.on_identity(&out),
            Phase::Prepare => {
                self.phase = Phase::Write;
                self.enter_step(Step::Write);
                self.events.push_back(SessionEvent::Progress {
                    done: 0,
                    total: self.total(),
                });
                let size = self.chunk_size();
                self.log(
                    LogLevel::Info,
                    format!(
                        "Writing the image in calls of {size} bytes, each {}",
                        self.encoder.describe_choice()
                    ),
                );
                self.send_next_chunk();
            }
            Phase::Write => {
                if out != "0" {
                    self.release_module();
                    return self.rejected("fota.write", &out);
                }
                self.written += self.in_flight as u64;
                self.in_flight = 0;
                self.events.push_back(SessionEvent::Progress {
                    done: self.written,
                    total: self.total(),
                });
                if self.written < self.total() {
                    self.send_next_chunk();
                } else {
                    self.phase = Phase::Flush;
                    self.enter_step(Step::Flush);
                    self.log(
                        LogLevel::Info,
                        format!("All bytes written ({})", self.encoder.summary()),
                    );
                    self.exec(b"print(f.flush())", self.options.call_timeout);
                }
            }
            Phase::Flush => {
                if out != "0" {
                    self.release_module();
                    return self.rejected("fota.flush", &out);
                }
                self.phase = Phase::Verify;
                self.enter_step(Step::Verify);
                self.log(
                    LogLevel::Info,
                    "All bytes written; the module verifies the package",
                );
                self.exec(b"print(f.verify())", self.options.verify_timeout);
            }
            Phase::Verify => {
                if out != "0" {
                    self.release_module();
                    return self.rejected("fota.verify", &out);
                }
                self.log(LogLevel::Info, "The module verified the package");
                if self.options.restart {
                    self.phase = Phase::Restart;
                    self.enter_step(Step::Restart);
                    self.log(
                        LogLevel::Info,
                        "Restarting the module into the new firmware",
                    );
                    self.exec(RESTART_CODE, Duration::from_secs(2));
                } else {
                    self.log(
                        LogLevel::Info,
                        "Not restarting, as asked: the new firmware runs after the next restart",
                    );
                    self.repl.leave(self.now);
                    self.succeed(false);
                }
            }
            Phase::Restart => self.begin_reconnect(),
            Phase::Connect | Phase::Reconnect { .. } | Phase::Finished => {}
        }
    }

    fn rejected(&mut self, call: &'static str, out: &str) {
        let step = self.step_of();
        let kind = if out.parse::<i64>().is_ok() {
            FlashErrorKind::Rejected {
                call,
                returned: out.to_string(),
            }
        } else {
            FlashErrorKind::BadAnswer {
                call,
                got: crate::link::mp_repl::show_bytes(out.as_bytes()),
            }
        };
        self.fail(step, kind);
    }

    fn on_identity(&mut self, out: &str) {
        let Some(info) = parse_identity(out) else {
            self.release_module();
            let step = self.step_of();
            return self.fail(
                step,
                FlashErrorKind::BadAnswer {
                    call: IDENTIFY_CALL,
                    got: crate::link::mp_repl::show_bytes(out.as_bytes()),
                },
            );
        };
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
        match (self.phase, self.image.is_some()) {
            (Phase::Identify, true) => self.begin_prepare(),
            (Phase::Identify, false) => {
                self.repl.leave(self.now);
                self.succeed(false);
            }
            _ => {
                self.repl.leave(self.now);
                self.succeed(true);
            }
        }
    }

    fn begin_reconnect(&mut self) {
        self.repl.reset();
        self.phase = Phase::Reconnect {
            not_before: self.now + Duration::from_millis(500),
            give_up: self.now + self.options.reboot_timeout,
        };
        self.enter_step(Step::Confirm);
    }

    fn on_repl_failed(&mut self, error: ReplError) {
        match self.phase {
            // A restarting module goes quiet or prints its boot log: both are expected.
            Phase::Restart => self.begin_reconnect(),
            Phase::Reconnect { give_up, .. } if self.now < give_up => {
                // Not up yet: the next attempt starts from handle_timeout.
            }
            Phase::Connect
                if self.connect_attempts < CONNECT_ATTEMPTS
                    && matches!(error, ReplError::NoResponse { .. }) =>
            {
                self.connect_attempts += 1;
                self.log(
                    LogLevel::Warn,
                    format!(
                        "No answer from the module yet (it may still be starting); try {} of {CONNECT_ATTEMPTS}",
                        self.connect_attempts
                    ),
                );
                self.repl.enter(self.now);
            }
            _ => {
                let step = self.step_of();
                let kind = match error {
                    ReplError::NoResponse { waiting_for } => {
                        FlashErrorKind::NoResponse { waiting_for }
                    }
                    other => FlashErrorKind::Protocol(other.to_string()),
                };
                self.release_module();
                self.fail(step, kind);
            }
        }
    }

    fn pump_repl(&mut self) {
        while let Some(event) = self.repl.poll_event() {
            if self.phase == Phase::Finished {
                continue;
            }
            match event {
                ReplEvent::Ready => self.on_ready(),
                ReplEvent::ModeChosen(mode) => {
                    self.log(LogLevel::Info, crate::driver::repl::flow::mode_text(mode))
                }
                ReplEvent::Printed(bytes) if self.phase == Phase::Restart => {
                    self.restart_tail.extend_from_slice(&bytes);
                    let keep = self
                        .restart_tail
                        .len()
                        .saturating_sub(FRIENDLY_PROMPT.len());
                    self.restart_tail.drain(..keep);
                    if self.restart_tail == FRIENDLY_PROMPT {
                        // The boot log ended at the friendly prompt: the module is back.
                        self.begin_reconnect();
                        self.phase = Phase::Reconnect {
                            not_before: self.now + Duration::from_secs(1),
                            give_up: self.now + self.options.reboot_timeout,
                        };
                        self.repl.enter(self.now);
                    }
                }
                ReplEvent::Printed(_) => {}
                ReplEvent::ExecDone { stdout, stderr } => self.on_exec_done(stdout, stderr),
                ReplEvent::Failed(error) => self.on_repl_failed(error),
            }
        }
    }
}

impl Machine for QuecPythonSession {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        self.repl.handle_input(now, data);
        self.pump_repl();
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        if let Phase::Reconnect {
            not_before,
            give_up,
        } = self.phase
        {
            if now >= give_up {
                return self.fail(
                    Step::Confirm,
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
        self.pump_repl();
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.repl.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Finished => None,
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
        self.events.pop_front()
    }

    fn cancel(&mut self, now: Duration) {
        self.now = now;
        if self.phase == Phase::Finished {
            return;
        }
        self.release_module();
        let step = self.step_of();
        self.fail(step, FlashErrorKind::Cancelled);
    }

    fn link_lost(&mut self, now: Duration) {
        self.now = now;
        if self.phase == Phase::Finished {
            return;
        }
        let step = self.step_of();
        self.fail(step, FlashErrorKind::LinkLost);
    }

    fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }
}
