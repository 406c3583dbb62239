//! Zephyr / MCUboot modules over MCUmgr SMP on a serial console: image state, upload (with `len`,
//! `sha`, offsets, resume from the module's `off`, chunks sized to its `buf_size`), test, reset,
//! confirm, erase, echo. Requests are queued actions; each waits for the response with its
//! sequence number, and is resent a bounded number of times when unanswered.

pub mod state;

use std::collections::VecDeque;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::driver::mcuboot_smp::state::{short_hex, ImageSlot};
use crate::link::smp::{self, Op, Packet, Value};
use crate::link::smp_frame::{self, Frame, FrameDecoder};

mod checks;
use crate::module::ModuleInfo;
use crate::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};
use checks::{check_image, upload_body};

/// What the session does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Upload `image` to slot 1, mark it for test, reset, check that it runs, and confirm it
    /// when `accept`.
    Flash { image: Vec<u8>, accept: bool },
    /// Read the image state.
    Inspect,
    /// Mark the image with this hash for test and reset into it; `None`: return to the other
    /// slot (a reset when the running image is on trial, else a test of the other slot's image).
    Test { hash: Option<Vec<u8>> },
    /// Confirm the running image.
    Confirm,
    /// Erase a slot (1 is the update slot).
    Erase { slot: u32 },
    /// Reset the module and read its state after the boot.
    Reset,
    /// Echo a text and check the module returns it.
    Echo(String),
}

/// Timing and sizes.
#[derive(Debug, Clone)]
pub struct SmpConfig {
    /// SMP version in the headers: 0 legacy, 1 SMP v2.
    pub version: u8,
    /// How long a request waits for its response.
    pub timeout: Duration,
    /// How many times an unanswered request is sent again.
    pub retries: u32,
    /// `buf_size` assumed when the module does not answer the parameters request.
    pub default_buf_size: usize,
    /// Largest `buf_size` used, whatever the module reports.
    pub max_buf_size: usize,
    /// Wait after the reset reply before asking again.
    pub boot_wait: Duration,
    /// How long the module may take to answer after a reset.
    pub reconnect_timeout: Duration,
    /// The `image` number sent in the first upload chunk (multi-image modules); left out
    /// when `None`, which means image 0.
    pub image: Option<u32>,
}

impl Default for SmpConfig {
    fn default() -> Self {
        SmpConfig {
            version: 1,
            timeout: Duration::from_secs(3),
            retries: 3,
            // Zephyr's MCUMGR_TRANSPORT_NETBUF_SIZE default.
            default_buf_size: 384,
            max_buf_size: 8192,
            boot_wait: Duration::from_millis(500),
            // MCUboot swaps both slots sector by sector before the new image starts.
            reconnect_timeout: Duration::from_secs(60),
            image: None,
        }
    }
}

/// What a state read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Before an upload: is there room, is the module in a state that takes one.
    BeforeUpload,
    /// After the upload: slot 1 holds the image.
    Uploaded,
    /// After the reset of a flash: the new image runs.
    Booted,
    /// Rollback: find what to return to.
    Rollback,
    /// Report and finish.
    Final,
}

/// One request and what to do with its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Params,
    SlotInfo,
    State(Check),
    Upload,
    Test(Vec<u8>),
    Confirm,
    Erase(u32),
    Reset,
    Echo(String),
}

impl Action {
    fn describe(&self) -> &'static str {
        match self {
            Action::Params => "reading the MCUmgr parameters",
            Action::SlotInfo => "reading the slot sizes",
            Action::State(_) => "reading the image state",
            Action::Upload => "uploading an image chunk",
            Action::Test(_) => "marking the image for test",
            Action::Confirm => "confirming the image",
            Action::Erase(_) => "erasing the slot",
            Action::Reset => "resetting",
            Action::Echo(_) => "echoing",
        }
    }

    /// Worth sending again when unanswered (the module may not know the optional ones).
    fn retried(&self) -> bool {
        !matches!(self, Action::Params | Action::SlotInfo)
    }
}

struct Pending {
    action: Action,
    seq: u8,
    group: u16,
    id: u8,
    deadline: Duration,
    tries: u32,
    /// Upload: bytes this chunk carries.
    chunk: usize,
}

/// The image to upload, checked.
struct Upload {
    data: Vec<u8>,
    /// The MCUboot hash TLV: how the module names the image.
    hash: Vec<u8>,
    /// SHA-256 of the whole file (`sha` in the first chunk).
    sha: [u8; 32],
    version: String,
    off: u64,
    started: bool,
    accept: bool,
}

/// An MCUmgr SMP session.
pub struct McuBootSmp {
    config: SmpConfig,
    queue: VecDeque<Action>,
    pending: Option<Pending>,
    decoder: FrameDecoder,
    console: Vec<u8>,
    seq: u8,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    buf_size: usize,
    upload: Option<Upload>,
    slots: Vec<ImageSlot>,
    /// After a reset: ask again from this instant until `reconnect_deadline`.
    wake: Option<Duration>,
    reconnect_deadline: Option<Duration>,
    step: Step,
    restarted: bool,
    tested: bool,
    finished: bool,
    module: Option<ModuleInfo>,
}

impl McuBootSmp {
    /// A session for `job`, started at `now`. A flash checks the image first: an MCUboot image
    /// whose hash TLV matches, or the session ends at once with nothing sent.
    pub fn start(now: Duration, job: Job, config: SmpConfig) -> Self {
        let mut s = McuBootSmp {
            buf_size: config.default_buf_size,
            config,
            queue: VecDeque::new(),
            pending: None,
            decoder: FrameDecoder::new(),
            console: Vec::new(),
            seq: 0,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            upload: None,
            slots: Vec::new(),
            wake: None,
            reconnect_deadline: None,
            step: Step::Connect,
            restarted: false,
            tested: false,
            finished: false,
            module: None,
        };
        s.set_step(Step::Connect);
        let actions: Vec<Action> = match job {
            Job::Flash { image, accept } => match check_image(&image) {
                Ok((hash, version)) => {
                    s.log(
                        LogLevel::Info,
                        format!(
                            "MCUboot image {version}, {} bytes, hash {}",
                            image.len(),
                            short_hex(&hash)
                        ),
                    );
                    s.upload = Some(Upload {
                        sha: Sha256::digest(&image).into(),
                        data: image,
                        hash,
                        version,
                        off: 0,
                        started: false,
                        accept,
                    });
                    vec![
                        Action::Params,
                        Action::SlotInfo,
                        Action::State(Check::BeforeUpload),
                        Action::Upload,
                        Action::State(Check::Uploaded),
                    ]
                }
                Err(text) => {
                    s.fail(now, Step::Prepare, FlashErrorKind::Unsuitable(text));
                    return s;
                }
            },
            Job::Inspect => vec![Action::Params, Action::State(Check::Final)],
            Job::Test { hash: Some(h) } => vec![Action::Test(h), Action::Reset],
            Job::Test { hash: None } => vec![Action::State(Check::Rollback)],
            Job::Confirm => vec![Action::Confirm],
            Job::Erase { slot } => vec![Action::Erase(slot), Action::State(Check::Final)],
            Job::Reset => vec![Action::Reset],
            Job::Echo(text) => vec![Action::Echo(text)],
        };
        s.queue.extend(actions);
        s.next(now);
        s
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.push_back(SessionEvent::Log { level, message });
    }

    fn set_step(&mut self, step: Step) {
        self.step = step;
        self.events.push_back(SessionEvent::Step(step));
    }

    /// What the module holds now, in words, from how far the session got.
    fn module_state(&self) -> &'static str {
        match &self.upload {
            _ if self.restarted && self.tested => {
                "may run the new image on trial; a reset without a confirm returns it to the \
                 previous image"
            }
            _ if self.tested => "boots the new image on trial at its next reset",
            Some(u) if u.started && u.off >= u.data.len() as u64 => {
                "still runs its previous image; slot 1 holds the new one, not marked for boot"
            }
            Some(u) if u.started => {
                "still runs its previous image; slot 1 holds part of the new one (flashing again \
                 resumes it)"
            }
            _ => "still runs its previous image; nothing was changed",
        }
    }

    fn fail(&mut self, _now: Duration, step: Step, kind: FlashErrorKind) {
        if self.finished {
            return;
        }
        let (offset, total) = match &self.upload {
            Some(u) if step == Step::Write => (Some(u.off), Some(u.data.len() as u64)),
            _ => (None, None),
        };
        let error = FlashError {
            step,
            offset,
            total,
            kind,
            module_state: self.module_state(),
        };
        self.log(LogLevel::Error, error.to_string());
        self.finish(Err(error));
    }

    fn finish(&mut self, result: Result<FlashOutcome, FlashError>) {
        self.finished = true;
        self.pending = None;
        self.queue.clear();
        self.wake = None;
        self.events.push_back(SessionEvent::Finished(result));
    }

    fn succeed(&mut self) {
        let bytes = self.upload.as_ref().map_or(0, |u| u.data.len() as u64);
        let outcome = FlashOutcome {
            bytes,
            restarted: self.restarted,
            module: self.module.clone(),
        };
        self.finish(Ok(outcome));
    }

    /// Send the next queued request, or finish when none is left.
    fn next(&mut self, now: Duration) {
        if self.finished || self.pending.is_some() || self.wake.is_some() {
            return;
        }
        match self.queue.pop_front() {
            Some(action) => self.send(now, action, 0),
            None => self.succeed(),
        }
    }

    fn send(&mut self, now: Duration, action: Action, tries: u32) {
        let step = match &action {
            Action::Params | Action::SlotInfo | Action::State(Check::BeforeUpload) => {
                Step::Identify
            }
            Action::State(Check::Booted) => Step::Confirm,
            Action::State(_) | Action::Erase(_) | Action::Echo(_) => self.step,
            Action::Upload => Step::Write,
            Action::Test(_) => Step::Verify,
            Action::Confirm => Step::Confirm,
            Action::Reset => Step::Restart,
        };
        if step != self.step {
            self.set_step(step);
        }
        let (op, group, id, body, chunk) = match self.request(&action) {
            Ok(r) => r,
            Err(kind) => return self.fail(now, step, kind),
        };
        self.seq = self.seq.wrapping_add(1);
        let packet = Packet::new(op, self.config.version, group, id, self.seq, body).encode();
        self.tx.push_back(smp_frame::encode(&packet));
        let timeout = if self.reconnect_deadline.is_some() {
            self.config.timeout.min(Duration::from_secs(1))
        } else {
            self.config.timeout
        };
        self.pending = Some(Pending {
            action,
            seq: self.seq,
            group,
            id,
            deadline: now + timeout,
            tries,
            chunk,
        });
    }

    /// The request for an action: op, group, id, body and (upload) chunk length.
    fn request(&self, action: &Action) -> Result<(Op, u16, u8, Value, usize), FlashErrorKind> {
        use smp::*;
        Ok(match action {
            Action::Params => (Op::Read, GROUP_OS, ID_PARAMS, Value::map([]), 0),
            Action::SlotInfo => (Op::Read, GROUP_IMAGE, ID_SLOT_INFO, Value::map([]), 0),
            Action::State(_) => (Op::Read, GROUP_IMAGE, ID_STATE, Value::map([]), 0),
            Action::Test(hash) => (
                Op::Write,
                GROUP_IMAGE,
                ID_STATE,
                Value::map([
                    ("hash", Value::Bytes(hash.clone())),
                    ("confirm", Value::Bool(false)),
                ]),
                0,
            ),
            Action::Confirm => (
                Op::Write,
                GROUP_IMAGE,
                ID_STATE,
                Value::map([("confirm", Value::Bool(true))]),
                0,
            ),
            Action::Erase(slot) => (
                Op::Write,
                GROUP_IMAGE,
                ID_ERASE,
                Value::map([("slot", Value::Int((*slot).into()))]),
                0,
            ),
            Action::Reset => (Op::Write, GROUP_OS, ID_RESET, Value::map([]), 0),
            Action::Echo(text) => (
                Op::Write,
                GROUP_OS,
                ID_ECHO,
                Value::map([("d", Value::Text(text.clone()))]),
                0,
            ),
            Action::Upload => {
                let u = self.upload.as_ref().expect("an upload job has an image");
                let (body, chunk) =
                    upload_body(u, self.buf_size, self.config.image).ok_or_else(|| {
                        FlashErrorKind::ModuleLacks(format!(
                            "the module's buffer of {} bytes cannot hold an upload request",
                            self.buf_size
                        ))
                    })?;
                (Op::Write, GROUP_IMAGE, ID_UPLOAD, body, chunk)
            }
        })
    }

    fn packet(&mut self, now: Duration, bytes: &[u8]) {
        let packet = match Packet::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.log(LogLevel::Warn, format!("dropped an SMP packet: {e}"));
                return;
            }
        };
        let h = packet.header;
        let Some(p) = &self.pending else {
            self.log(LogLevel::Debug, format!("unexpected answer, seq {}", h.seq));
            return;
        };
        if h.op.is_request() || h.seq != p.seq || h.group != p.group || h.id != p.id {
            self.log(
                LogLevel::Debug,
                format!(
                    "ignored an answer (group {} id {} seq {}), waiting for seq {}",
                    h.group, h.id, h.seq, p.seq
                ),
            );
            return;
        }
        let p = self.pending.take().expect("checked above");
        if self.reconnect_deadline.take().is_some() {
            self.log(
                LogLevel::Info,
                "the module answers again after its reset".into(),
            );
        }
        self.answer(now, p, packet.body);
        self.next(now);
    }

    fn timed_out(&mut self, now: Duration) {
        let Some(p) = self.pending.take() else { return };
        if let Some(deadline) = self.reconnect_deadline {
            if now < deadline {
                return self.send(now, p.action, p.tries);
            }
            self.reconnect_deadline = None;
            return self.fail(
                now,
                Step::Confirm,
                FlashErrorKind::NoResponse {
                    waiting_for: "starting after its reset",
                },
            );
        }
        if !p.action.retried() {
            self.log(
                LogLevel::Info,
                format!("no answer while {}: going on", p.action.describe()),
            );
            return self.next(now);
        }
        if p.tries < self.config.retries {
            self.log(
                LogLevel::Warn,
                format!(
                    "no answer while {} (try {} of {}): sending again",
                    p.action.describe(),
                    p.tries + 1,
                    self.config.retries + 1
                ),
            );
            return self.send(now, p.action, p.tries + 1);
        }
        let step = self.step;
        self.fail(
            now,
            step,
            FlashErrorKind::NoResponse {
                waiting_for: p.action.describe(),
            },
        );
    }
}

impl Machine for McuBootSmp {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        if self.finished {
            return;
        }
        for frame in self.decoder.push(data) {
            match frame {
                Frame::Packet(p) => self.packet(now, &p),
                Frame::Error(e) => self.log(LogLevel::Warn, format!("dropped a frame: {e}")),
            }
        }
        // Console output between frames (boot banner, log lines), one log line per line.
        self.console.extend(self.decoder.take_noise());
        while let Some(end) = self.console.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.console.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if !text.is_empty() {
                self.log(LogLevel::Debug, format!("console: {text}"));
            }
        }
        if self.console.len() > 256 {
            self.console.clear();
        }
    }

    fn handle_timeout(&mut self, now: Duration) {
        if self.finished {
            return;
        }
        if self.wake.is_some_and(|w| w <= now) {
            self.wake = None;
            return self.next(now);
        }
        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
            self.timed_out(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if self.finished {
            return None;
        }
        self.wake.or(self.pending.as_ref().map(|p| p.deadline))
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    fn cancel(&mut self, now: Duration) {
        let step = self.step;
        self.fail(now, step, FlashErrorKind::Cancelled);
    }

    fn link_lost(&mut self, now: Duration) {
        let step = self.step;
        self.fail(now, step, FlashErrorKind::LinkLost);
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}
