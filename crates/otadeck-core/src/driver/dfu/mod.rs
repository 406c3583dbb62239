//! USB DFU 1.1 and ST DfuSe devices over USB control transfers (WebUSB in the browser).
//!
//! The session claims the DFU interface, reads the functional descriptor from the configuration
//! descriptor (transfer size, manifestation tolerance, detach behaviour) and, on DfuSe, the memory
//! map from the alt setting's name. A device still in its application (runtime protocol) is
//! detached and found again after it re-enumerates. A download erases the pages it touches
//! (DfuSe), writes block by block waiting each `bwPollTimeout`, reads everything back to compare
//! (UPLOAD) unless told not to, and leaves DFU mode through manifestation. Status and state codes
//! reach the technician in words.

mod ops;
mod plan;
pub mod segments;
mod status;
pub mod wire;

use std::collections::VecDeque;
use std::time::Duration;

use crate::backup::{file_stem, BackupRegion};
use crate::module::{Family, ModuleDetails, ModuleInfo};
use crate::session::{
    ControlTransfer, FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, Next,
    SessionEvent, Step, TransferError, UsbAlt,
};
use ops::{Goal, Op};
pub use segments::Segment;
use wire::{Functional, MemoryMap};

/// What the session does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Read the descriptor, the state and (DfuSe) the memory map.
    Inspect,
    /// Write `segments`, read them back when `verify`, and leave DFU mode when `leave`.
    Download {
        /// What to write where (an address is needed on DfuSe and refused on DFU 1.1).
        segments: Vec<Segment>,
        /// Read everything back and compare.
        verify: bool,
        /// Run the new firmware at the end (manifestation, then a USB reset if needed).
        leave: bool,
        /// DfuSe: erase the whole flash instead of the pages written.
        mass_erase: bool,
    },
    /// Read `len` bytes back (from `address` on DfuSe; from the start on DFU 1.1).
    Upload {
        /// DfuSe start address; `None`: the first readable address.
        address: Option<u32>,
        /// How many bytes.
        len: u32,
    },
    /// Leave DFU mode and run the application.
    Leave,
}

/// Limits.
#[derive(Debug, Clone)]
pub struct DfuConfig {
    /// The alt setting to use (a `.dfu` target's); `None`: [`wire::choose_alt`] decides.
    pub alt: Option<u8>,
    /// How long a device may stay busy on one request (erase, program, manifest).
    pub busy_limit: Duration,
    /// How long a detached or restarted device may take to come back.
    pub reconnect_timeout: Duration,
}

impl Default for DfuConfig {
    fn default() -> Self {
        DfuConfig {
            alt: None,
            busy_limit: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(10),
        }
    }
}

/// The largest DFU 1.1 firmware read back in one backup.
pub const DFU11_BACKUP_LIMIT: u32 = 16 << 20;

/// The region a backup reads on a device with these interfaces: the writable memory of the alt
/// setting a download would use (DfuSe), or the whole firmware (DFU 1.1, up to
/// [`DFU11_BACKUP_LIMIT`], ended by a short block).
pub fn backup_region(alts: &[UsbAlt]) -> Option<BackupRegion> {
    let alt = wire::choose_alt(alts, None)?;
    if alt.protocol != wire::PROTOCOL_DFU_MODE {
        return None;
    }
    let Some(map) = MemoryMap::parse(&alt.name) else {
        return Some(BackupRegion {
            offset: 0,
            len: DFU11_BACKUP_LIMIT,
            what: "the firmware".into(),
            name: "firmware".into(),
        });
    };
    // The first run of writable memory, as far as it continues.
    let first = map.segments.iter().position(|s| s.writable)?;
    let mut end = map.segments[first].end;
    for s in &map.segments[first + 1..] {
        if !s.writable || !s.readable || s.start != end {
            break;
        }
        end = s.end;
    }
    let start = map.segments[first].start;
    Some(BackupRegion {
        offset: start,
        len: end - start,
        what: map.name.clone(),
        name: file_stem(&map.name),
    })
}

/// A DFU session.
pub struct DfuSession {
    job: Job,
    config: DfuConfig,
    alts: Vec<UsbAlt>,
    target: Option<UsbAlt>,
    functional: Option<Functional>,
    map: Option<MemoryMap>,
    queue: VecDeque<Op>,
    out: Option<ControlTransfer>,
    inflight: Option<Op>,
    wake: Option<Duration>,
    reconnect: Option<(bool, Duration)>,
    awaiting_reconnect: bool,
    /// The reconnect awaited follows manifestation (not a detach).
    leaving: bool,
    cancel_requested: bool,
    /// Where each segment is written (DfuSe), once planned.
    bases: Vec<u32>,
    upload_base: u32,
    busy_since: Option<Duration>,
    events: VecDeque<SessionEvent>,
    step: Step,
    total: u64,
    written: u64,
    verified: u64,
    read: Vec<u8>,
    erased: bool,
    detached: bool,
    restarted: bool,
    finished: bool,
    now: Duration,
}

impl DfuSession {
    /// A session for `job` on a device with these interfaces, started at `now`.
    pub fn start(now: Duration, alts: Vec<UsbAlt>, job: Job, config: DfuConfig) -> Self {
        let total = match &job {
            Job::Download { segments, .. } => segments.iter().map(|s| s.data.len() as u64).sum(),
            Job::Upload { len, .. } => u64::from(*len),
            _ => 0,
        };
        let mut s = DfuSession {
            job,
            config,
            alts,
            target: None,
            functional: None,
            map: None,
            queue: VecDeque::new(),
            out: None,
            inflight: None,
            wake: None,
            reconnect: None,
            awaiting_reconnect: false,
            leaving: false,
            cancel_requested: false,
            bases: Vec::new(),
            upload_base: 0,
            busy_since: None,
            events: VecDeque::new(),
            step: Step::Connect,
            total,
            written: 0,
            verified: 0,
            read: Vec::new(),
            erased: false,
            detached: false,
            restarted: false,
            finished: false,
            now,
        };
        s.events.push_back(SessionEvent::Step(Step::Connect));
        if s.total == 0 && matches!(s.job, Job::Download { .. } | Job::Upload { .. }) {
            s.fail(FlashErrorKind::EmptyImage);
        } else {
            s.attach();
        }
        s.advance();
        s
    }

    /// Choose the alt setting among the device's interfaces and queue the claim.
    fn attach(&mut self) {
        let Some(alt) = wire::choose_alt(&self.alts, self.config.alt).cloned() else {
            let why = match self.config.alt {
                Some(a) if self.alts.iter().any(|x| x.is_dfu()) => {
                    format!("the device has no DFU alt setting {a}, which the file is for")
                }
                _ => "the USB device has no DFU interface".into(),
            };
            self.fail(FlashErrorKind::Unsuitable(why));
            return;
        };
        self.log(
            LogLevel::Info,
            format!(
                "DFU interface {} alt {} ({}){}",
                alt.interface,
                alt.alt,
                if alt.protocol == wire::PROTOCOL_RUNTIME {
                    "in the application"
                } else {
                    "in DFU mode"
                },
                if alt.name.is_empty() {
                    String::new()
                } else {
                    format!(": {}", alt.name)
                }
            ),
        );
        self.map = MemoryMap::parse(&alt.name);
        self.target = Some(alt);
        self.queue.clear();
        self.queue.extend([Op::Claim, Op::ConfigHead]);
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.push_back(SessionEvent::Log { level, message });
    }

    fn set_step(&mut self, step: Step) {
        if self.step != step {
            self.step = step;
            self.events.push_back(SessionEvent::Step(step));
        }
    }

    /// What the device holds now, for an error.
    fn module_state(&self) -> &'static str {
        let written = self.total > 0 && self.written >= self.total;
        if written && self.verified >= self.total {
            "holds the new application, written and read back, but did not confirm leaving DFU \
             mode: reset it (or press Restart) to run it"
        } else if written && self.step == Step::Restart {
            "holds the new application (written, not read back), but did not confirm leaving \
             DFU mode: reset it (or press Restart) to run it"
        } else if self.erased || self.written > 0 {
            "stays in its DFU loader with an incomplete application: flash it again before it \
             leaves DFU mode"
        } else if self.detached {
            "waits in its DFU loader; nothing was written"
        } else {
            "is unchanged; nothing was written"
        }
    }

    fn fail(&mut self, kind: FlashErrorKind) {
        if self.finished {
            return;
        }
        let writing = matches!(self.step, Step::Write | Step::Verify);
        let error = FlashError {
            step: self.step,
            offset: writing.then_some(if self.step == Step::Verify {
                self.verified
            } else {
                self.written
            }),
            total: writing.then_some(self.total),
            kind,
            module_state: self.module_state(),
        };
        self.finish(Err(error));
    }

    fn finish(&mut self, result: Result<FlashOutcome, FlashError>) {
        self.finished = true;
        self.queue.clear();
        self.out = None;
        self.wake = None;
        self.reconnect = None;
        self.events.push_back(SessionEvent::Finished(result));
    }

    fn succeed(&mut self) {
        let outcome = FlashOutcome {
            bytes: self.written,
            restarted: self.restarted,
            module: Some(self.module_info()),
        };
        self.finish(Ok(outcome));
    }

    fn module_info(&self) -> ModuleInfo {
        let target = self.target.as_ref();
        let in_application = target.is_some_and(|t| t.protocol == wire::PROTOCOL_RUNTIME);
        let model = self
            .map
            .as_ref()
            .map(|m| format!("DfuSe device, {}", m.name))
            .or_else(|| in_application.then(|| "application with a DFU interface".into()))
            .or_else(|| {
                target
                    .filter(|t| !t.name.is_empty())
                    .map(|t| t.name.clone())
            })
            .unwrap_or_else(|| "USB DFU device".into());
        let runtime = self
            .functional
            .map(|f| {
                let v = f.dfu_version;
                format!("DFU {:x}.{:02x}", v >> 8, v & 0xFF)
            })
            .unwrap_or_default();
        ModuleInfo {
            family: Family::Dfu,
            model,
            firmware_version: String::new(),
            runtime,
            details: ModuleDetails::default(),
        }
    }

    /// Hand out the next request, or act on the next step that needs no transfer.
    fn advance(&mut self) {
        while !self.finished
            && self.out.is_none()
            && self.inflight.is_none()
            && self.wake.is_none()
            && self.reconnect.is_none()
            && !self.awaiting_reconnect
        {
            let finishing_request = matches!(
                self.queue.front(),
                Some(Op::Status(Goal::Busy(_) | Goal::Manifest | Goal::Idle) | Op::CancelAbort)
            );
            if self.cancel_requested && !finishing_request {
                self.queue.clear();
                self.queue.push_back(Op::CancelAbort);
            }
            let Some(op) = self.queue.pop_front() else {
                self.succeed();
                return;
            };
            self.start_op(op);
        }
    }
}

impl Machine for DfuSession {
    fn handle_input(&mut self, _now: Duration, _data: &[u8]) {}

    fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        if self.awaiting_reconnect {
            self.awaiting_reconnect = false;
            self.reconnect_timed_out();
        } else if self.wake.is_some_and(|w| w <= now) {
            self.wake = None;
        }
        self.advance();
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        None
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.wake
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    fn cancel(&mut self, now: Duration) {
        self.now = now;
        if self.finished {
            return;
        }
        if self.functional.is_none() || self.awaiting_reconnect {
            return self.fail(FlashErrorKind::Cancelled);
        }
        // Let the block or erase under way finish, then abort: the device is left idle in its
        // loader.
        self.cancel_requested = true;
        self.advance();
    }

    fn link_lost(&mut self, now: Duration) {
        self.now = now;
        self.fail(FlashErrorKind::LinkLost);
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn handle_transfer(&mut self, now: Duration, result: Result<Vec<u8>, TransferError>) {
        self.now = now;
        let Some(op) = self.inflight.take() else {
            return;
        };
        self.transfer_done(op, result);
        self.advance();
    }

    fn handle_reconnected(&mut self, now: Duration, interfaces: Vec<UsbAlt>) {
        self.now = now;
        self.awaiting_reconnect = false;
        self.reconnected(interfaces);
        self.advance();
    }

    fn poll_next(&mut self) -> Next {
        if let Some(t) = self.out.take() {
            return Next::Control(t);
        }
        if let Some((reset, until)) = self.reconnect.take() {
            self.awaiting_reconnect = true;
            return Next::Reconnect { reset, until };
        }
        if self.finished {
            return Next::Finished;
        }
        Next::Wait { until: self.wake }
    }
}
