//! ESP32 MicroPython over-the-air update through `esp32.Partition`, on the raw REPL.
//!
//! Flash: read the slots, probe the module's encodings, write the image into the next-update
//! partition in 4 KiB `writeblocks`, each block in the encoding that is shortest for it (the last
//! block padded with erased-flash bytes), read it back and compare its SHA-256, `set_boot()` (the
//! module validates the image), `machine.reset()`, reconnect, check that the new slot runs, and
//! accept it (`mark_app_valid_cancel_rollback`) unless the technician wants to decide later. The
//! running slot is never written, and nothing selects the new slot before the read-back hash
//! matched and the module validated it.

pub mod state;

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::driver::repl::encoding::{
    exec_budget, ChunkEncoder, Encoding, EncodingProbe, ProbeStep, EXEC_CODE_MIN, FREE_HEAP_CODE,
};
use crate::driver::repl::flow::{
    bad_answer, Call, FlowConfig, Next, ReplFlow, ReplPlan, Reply, Report,
};
use crate::image::esp;
use crate::module::{Family, ModuleInfo};
use crate::partition_state::{PartitionState, SlotState};
use crate::session::{group_digits, FlashErrorKind, LogLevel, Step};
use state::{SlotsReport, READ_OTADATA, READ_SLOTS};

/// Block size of `esp32.Partition`.
pub const BLOCK: usize = 4096;
/// Blocks hashed per read-back exec.
const VERIFY_BLOCKS_PER_CALL: usize = 64;
const RESTART: &[u8] = b"import machine\nmachine.reset()";
const ACCEPT: &[u8] = b"from esp32 import Partition as P\nP.mark_app_valid_cancel_rollback()";

/// What a session does.
pub use super::TrialJob as Job;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    ReadSlots,
    ReadOtadata,
    Probe(Encoding),
    Memory,
    Write,
    ReadBack,
    SetBoot,
    Restarting,
    ConfirmSlots,
    ConfirmOtadata,
    Accepting,
    Done,
}

/// The ESP32 MicroPython driver, as a [`ReplPlan`].
#[derive(Debug)]
pub struct Esp32MicroPython {
    job: Job,
    stage: Stage,
    slots: Option<SlotsReport>,
    states: Option<Vec<Option<SlotState>>>,
    encoder: Option<ChunkEncoder>,
    probe: EncodingProbe,
    /// Python source per write exec, from the module's free heap.
    budget: usize,
    /// Bytes of the image the module has stored (as far as it confirmed).
    written: usize,
    /// Blocks hashed so far in the read-back.
    verified_blocks: usize,
    /// The slot the new image (or the rollback) should run from.
    target: Option<String>,
    /// `set_boot` succeeded: the next restart starts the target.
    selected: bool,
    restarted: bool,
}

/// A session on an ESP32 MicroPython module.
pub type Esp32Session = ReplFlow<Esp32MicroPython>;

impl Esp32MicroPython {
    /// A plan for `job`.
    pub fn new(job: Job) -> Self {
        Esp32MicroPython {
            job,
            stage: Stage::ReadSlots,
            slots: None,
            states: None,
            encoder: None,
            probe: EncodingProbe::default(),
            budget: EXEC_CODE_MIN,
            written: 0,
            verified_blocks: 0,
            target: None,
            selected: false,
            restarted: false,
        }
    }

    /// Start a session for `job`.
    pub fn start(now: Duration, job: Job, config: FlowConfig) -> Esp32Session {
        ReplFlow::start(now, Self::new(job), config)
    }

    fn image(&self) -> &[u8] {
        match &self.job {
            Job::Flash { image, .. } => image,
            _ => &[],
        }
    }

    fn blocks(&self) -> usize {
        self.image().len().div_ceil(BLOCK)
    }

    /// Block `n` as written: the last one padded to 4096 with erased-flash bytes.
    fn block(&self, n: usize) -> Vec<u8> {
        let image = self.image();
        let mut b = image[n * BLOCK..((n + 1) * BLOCK).min(image.len())].to_vec();
        b.resize(BLOCK, 0xFF);
        b
    }

    fn padded_sha256(&self) -> String {
        let mut h = Sha256::new();
        for n in 0..self.blocks() {
            h.update(self.block(n));
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn state(&self) -> Option<PartitionState> {
        self.slots
            .as_ref()
            .map(|s| s.partition_state(self.states.as_deref()))
    }

    fn on_slots(&mut self, report: &mut Report, out: &str) -> Result<(), FlashErrorKind> {
        let slots =
            state::parse_slots(out).ok_or_else(|| bad_answer("esp32.Partition info", out))?;
        let version = slots
            .running
            .1
            .as_ref()
            .map_or_else(|| slots.uname_field("version"), |d| d.version.clone());
        let info = ModuleInfo {
            details: Default::default(),
            family: Family::Esp32MicroPython,
            model: slots.uname_field("machine"),
            firmware_version: version,
            runtime: format!("MicroPython {}", slots.uname_field("release")),
        };
        if report.module() != Some(&info) {
            report.identified(info);
        }
        self.slots = Some(slots);
        Ok(())
    }

    /// Checks before a byte is written.
    fn check_flash(&mut self) -> Result<(), FlashErrorKind> {
        let slots = self.slots.as_ref().expect("slots read");
        let image = self.image();
        if image.is_empty() {
            return Err(FlashErrorKind::EmptyImage);
        }
        if image[0] != esp::IMAGE_MAGIC {
            return Err(FlashErrorKind::Unsuitable(
                "the file is not an ESP32 application image (it does not start with 0xE9)".into(),
            ));
        }
        let slot = &slots.next_update.0;
        if image.len() > slot.size as usize {
            return Err(FlashErrorKind::Unsuitable(format!(
                "the image ({} bytes) is larger than the update slot {} ({} bytes)",
                group_digits(image.len() as u64),
                slot.label,
                group_digits(u64::from(slot.size))
            )));
        }
        if self.state().is_some_and(|s| s.awaits_decision()) {
            return Err(FlashErrorKind::ModuleState {
                why: "the running firmware is still on trial".into(),
                then: "Accept or roll back the firmware on trial first (Device page, or otadeck accept|rollback), then flash again.",
            });
        }
        self.target = Some(slot.label.clone());
        Ok(())
    }

    /// The next write exec: as many blocks as fit the budget (at least one), each in the
    /// shortest encoding the module decodes and each followed by a print of the blocks stored so
    /// far, so that a failure mid-exec still knows what the module confirmed.
    fn write_call(&mut self) -> Call {
        let mut code = Vec::new();
        let mut n = self.written / BLOCK;
        let blocks = self.blocks();
        while n < blocks {
            let block = self.block(n);
            let encoder = self.encoder.as_mut().expect("probed");
            let (e, expr) = encoder.shortest(&block);
            let mut line = format!("p.writeblocks({n},").into_bytes();
            line.extend_from_slice(&expr);
            line.extend_from_slice(format!(")\nprint({})\n", n + 1).as_bytes());
            if !code.is_empty() && code.len() + line.len() > self.budget {
                break;
            }
            encoder.record(e);
            code.extend_from_slice(&line);
            n += 1;
        }
        Call::new(Step::Write, code, Duration::from_secs(10))
    }

    /// Start writing, with a budget from the module's answer to [`FREE_HEAP_CODE`].
    fn begin_write(&mut self, report: &mut Report, reply: Reply<'_>) -> Next {
        self.budget = exec_budget(report, reply);
        self.stage = Stage::Write;
        report.progress(0, self.image().len() as u64);
        Next::Exec(self.write_call())
    }

    fn read_back_call(&self) -> Call {
        let mut code = String::new();
        if self.verified_blocks == 0 {
            code.push_str("import hashlib,binascii\nh=hashlib.sha256()\nv=bytearray(4096)\n");
        }
        let end = (self.verified_blocks + VERIFY_BLOCKS_PER_CALL).min(self.blocks());
        for n in self.verified_blocks..end {
            code.push_str(&format!("p.readblocks({n},v)\nh.update(v)\n"));
        }
        if end == self.blocks() {
            code.push_str("print(binascii.hexlify(h.digest()))");
        } else {
            code.push_str(&format!("print({end})"));
        }
        Call::new(Step::Verify, code, Duration::from_secs(20))
    }

    fn read_otadata(&mut self, step: Step, stage: Stage) -> Next {
        self.stage = stage;
        Next::exec(step, READ_OTADATA, 5)
    }

    /// The otadata read finished (or failed): report the state and go on with the job.
    fn after_state(&mut self, report: &mut Report) -> Result<Next, FlashErrorKind> {
        if let Some(state) = self.state() {
            report.partitions(state);
        }
        let running_state = self
            .state()
            .and_then(|s| s.running_slot().and_then(|r| r.state));
        match (&self.job, self.stage) {
            (Job::Inspect, _) | (Job::Accept, Stage::ConfirmOtadata) => self.finish(),
            (Job::Flash { .. }, Stage::ReadOtadata) => {
                if let Err(kind) = self.check_flash() {
                    return Ok(Next::Fail {
                        step: Step::Prepare,
                        kind,
                    });
                }
                let first = self.probe.start();
                self.probe_step(report, first)
            }
            // After the restart (the only other stage that reads otadata).
            (Job::Flash { accept, .. }, _) => {
                if *accept && running_state == Some(SlotState::Testing) {
                    self.stage = Stage::Accepting;
                    report.log(LogLevel::Info, "Accepting the new firmware");
                    Ok(Next::exec(Step::Confirm, ACCEPT, 5))
                } else {
                    if running_state == Some(SlotState::Testing) {
                        report.log(
                            LogLevel::Warn,
                            "The new firmware runs on trial: accept it, or it returns to the \
                             previous firmware at the next restart",
                        );
                    }
                    self.finish()
                }
            }
            (Job::Accept, _) => {
                self.stage = Stage::Accepting;
                Ok(Next::exec(Step::Confirm, ACCEPT, 5))
            }
            (Job::Rollback, Stage::ReadOtadata) => self.start_rollback(report, running_state),
            (Job::Rollback, _) => self.finish(),
        }
    }

    fn start_rollback(
        &mut self,
        report: &mut Report,
        running_state: Option<SlotState>,
    ) -> Result<Next, FlashErrorKind> {
        let slots = self.slots.as_ref().expect("slots read");
        let other = &slots.next_update;
        if other.1.is_none() {
            return Ok(Next::Fail {
                step: Step::Prepare,
                kind: FlashErrorKind::ModuleState {
                    why: format!("slot {} holds no firmware to return to", other.0.label),
                    then: "There is nothing to roll back to: keep the firmware it runs, or flash another one.",
                },
            });
        }
        self.target = Some(other.0.label.clone());
        if running_state == Some(SlotState::Testing) {
            report.log(
                LogLevel::Info,
                "The running firmware is on trial: restarting without accepting it rolls back",
            );
            self.selected = true;
            self.stage = Stage::Restarting;
            return Ok(Next::Restart(RESTART.to_vec()));
        }
        self.stage = Stage::SetBoot;
        Ok(Next::exec(
            Step::Prepare,
            "from esp32 import Partition as P\nP(P.RUNNING).get_next_update().set_boot()",
            10,
        ))
    }

    fn probe_step(&mut self, report: &mut Report, step: ProbeStep) -> Result<Next, FlashErrorKind> {
        match step {
            ProbeStep::Try(e) => {
                self.stage = Stage::Probe(e);
                Ok(Next::Exec(Call::new(
                    Step::Prepare,
                    format!(
                        "{}\nfrom esp32 import Partition as P\np=P(P.RUNNING).get_next_update()",
                        e.imports()
                    ),
                    Duration::from_secs(5),
                )))
            }
            ProbeStep::Found(e) => {
                let encoder = ChunkEncoder::new(e);
                report.log(
                    LogLevel::Info,
                    format!(
                        "Writing {} bytes to slot {} in 4 KiB blocks, each {}",
                        group_digits(self.image().len() as u64),
                        self.target.as_deref().unwrap_or("?"),
                        encoder.describe_choice()
                    ),
                );
                self.encoder = Some(encoder);
                self.stage = Stage::Memory;
                Ok(Next::exec(Step::Prepare, FREE_HEAP_CODE, 5))
            }
        }
    }

    fn finish(&mut self) -> Result<Next, FlashErrorKind> {
        self.stage = Stage::Done;
        Ok(Next::Done {
            restarted: self.restarted,
        })
    }

    fn on_output(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        match self.stage {
            Stage::ReadSlots | Stage::ConfirmSlots => {
                let confirming = self.stage == Stage::ConfirmSlots;
                self.on_slots(report, reply.output()?)?;
                if confirming {
                    let running = self.slots.as_ref().map(|s| s.running.0.label.clone());
                    if running != self.target {
                        return Err(FlashErrorKind::Mismatch(format!(
                            "the module came back on slot {} instead of {}: its bootloader \
                             refused the firmware or rolled it back",
                            running.unwrap_or_default(),
                            self.target.clone().unwrap_or_default()
                        )));
                    }
                    report.log(LogLevel::Info, "The module runs from the expected slot");
                    return Ok(self.read_otadata(Step::Confirm, Stage::ConfirmOtadata));
                }
                Ok(self.read_otadata(Step::Identify, Stage::ReadOtadata))
            }
            Stage::ReadOtadata | Stage::ConfirmOtadata => {
                self.states = match reply.output() {
                    Ok(out) => state::parse_otadata(out),
                    Err(_) => None,
                };
                if self.states.is_none() {
                    report.log(
                        LogLevel::Warn,
                        "The otadata partition could not be read: slot states are unknown",
                    );
                }
                self.after_state(report)
            }
            Stage::Probe(e) => match self.probe.on_reply(reply) {
                Some(step) => {
                    if step != ProbeStep::Found(e) {
                        report.log(LogLevel::Debug, format!("The module cannot decode {e:?}"));
                    }
                    self.probe_step(report, step)
                }
                None => Err(FlashErrorKind::ModuleLacks(
                    "this MicroPython cannot open its update partition with esp32.Partition".into(),
                )),
            },
            Stage::Memory => Ok(self.begin_write(report, reply)),
            Stage::Write => {
                let out = reply.output()?;
                let next: usize = out
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse().ok())
                    .ok_or_else(|| bad_answer("Partition.writeblocks", out))?;
                let confirmed = (next * BLOCK).min(self.image().len());
                if confirmed != self.written {
                    self.written = confirmed;
                    report.progress(self.written as u64, self.image().len() as u64);
                }
                if self.written < self.image().len() {
                    return Ok(Next::Exec(self.write_call()));
                }
                let summary = self.encoder.as_ref().map(ChunkEncoder::summary);
                report.log(
                    LogLevel::Info,
                    format!(
                        "All blocks written ({}); reading them back to compare",
                        summary.unwrap_or_default()
                    ),
                );
                self.stage = Stage::ReadBack;
                Ok(Next::Exec(self.read_back_call()))
            }
            Stage::ReadBack => {
                let out = reply.output()?;
                if let Ok(n) = out.parse::<usize>() {
                    self.verified_blocks = n;
                    return Ok(Next::Exec(self.read_back_call()));
                }
                let expected = self.padded_sha256();
                let got = state::parse_hexlified(out)
                    .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
                    .ok_or_else(|| bad_answer("hashlib.sha256 read-back", out))?;
                if got != expected {
                    return Err(FlashErrorKind::Mismatch(format!(
                        "the slot's SHA-256 after writing is {got}, not {expected} as sent"
                    )));
                }
                report.log(
                    LogLevel::Info,
                    format!(
                        "Read-back SHA-256 matches ({expected}); the module validates the image"
                    ),
                );
                self.stage = Stage::SetBoot;
                Ok(Next::exec(Step::Verify, "p.set_boot()", 20))
            }
            Stage::SetBoot => {
                reply.output()?;
                self.selected = true;
                self.stage = Stage::Restarting;
                report.log(
                    LogLevel::Info,
                    "Slot selected for the next boot; restarting the module",
                );
                Ok(Next::Restart(RESTART.to_vec()))
            }
            Stage::Accepting => {
                reply.output()?;
                report.log(LogLevel::Info, "The running firmware is accepted");
                Ok(self.read_otadata(Step::Confirm, Stage::ConfirmOtadata))
            }
            Stage::Restarting | Stage::Done => Ok(Next::Done {
                restarted: self.restarted,
            }),
        }
    }
}

impl ReplPlan for Esp32MicroPython {
    fn next(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        match reply {
            Reply::Connected => {
                self.stage = Stage::ReadSlots;
                Ok(Next::exec(Step::Identify, READ_SLOTS, 5))
            }
            Reply::Reconnected => {
                self.restarted = true;
                self.stage = Stage::ConfirmSlots;
                Ok(Next::exec(Step::Confirm, READ_SLOTS, 5))
            }
            Reply::Output { .. } => self.on_output(report, reply),
        }
    }

    fn on_line(&mut self, report: &mut Report, line: &str) {
        // A block stored: `print(n)` after `writeblocks(n - 1, ...)`.
        let Ok(n) = line.trim().parse::<usize>() else {
            return;
        };
        let len = self.image().len();
        if self.stage == Stage::Write && n > self.written / BLOCK && n <= self.blocks() {
            self.written = (n * BLOCK).min(len);
            report.progress(self.written as u64, len as u64);
        }
    }

    fn position(&self) -> Option<(u64, u64)> {
        match (&self.job, self.stage) {
            (Job::Flash { image, .. }, Stage::Write | Stage::ReadBack | Stage::SetBoot) => {
                Some((self.written as u64, image.len() as u64))
            }
            _ => None,
        }
    }

    fn bytes_done(&self) -> u64 {
        self.written as u64
    }

    fn module_state(&self, step: Step, kind: &FlashErrorKind) -> &'static str {
        let answered_no = matches!(
            kind,
            FlashErrorKind::Traceback { .. } | FlashErrorKind::Rejected { .. }
        );
        match self.stage {
            _ if self.job == Job::Inspect => "was not changed",
            Stage::SetBoot if !answered_no => {
                "still runs its previous firmware, and may start the other slot at its next restart"
            }
            Stage::Accepting => "runs the new firmware on trial; read its state before going on",
            _ if self.restarted && step == Step::Confirm => {
                "restarted; reconnect and read its slots to see which firmware runs"
            }
            _ if self.selected => {
                "starts the selected slot at its next restart; reconnect to check which firmware runs"
            }
            _ => "still runs its previous firmware",
        }
    }
}
