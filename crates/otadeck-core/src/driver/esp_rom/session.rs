//! The ROM loader session: reset (optional), SYNC, chip detection, SPI attach and parameters,
//! an optional baud change, then one [`Job`]: flash regions (compressed or plain, each verified by
//! `SPI_FLASH_MD5` against the image), read the slots into a [`PartitionState`], or switch the boot
//! slot by rewriting otadata.

#[path = "plan.rs"]
mod plan;
#[path = "respond.rs"]
mod respond;
#[path = "stub_upload.rs"]
mod stub_upload;
#[path = "walk.rs"]
mod walk;
#[path = "write.rs"]
mod write;

use crate::module::{Family, ModuleInfo};
use std::collections::VecDeque;
use std::time::Duration;

use md5::{Digest, Md5};

use super::deflating::{self, Deflating};
use super::packet::{self, op, Loader, Response};
use super::reset::{ResetKind, SignalStep};
use super::slots::{self, HEAD_LEN, TABLE_OFFSET};
use super::stub::{Stub, MEM_BLOCK};
use crate::image::esp;
use crate::image::esp_partition::{self, PartitionTable};
use crate::image::otadata::{self, SECTOR_LEN};
use crate::link::slip::{self, SlipDecoder, SlipItem};
use crate::partition_state::PartitionState;
use crate::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};

/// One stretch of flash to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Flash address (sector aligned).
    pub offset: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What the session does once the loader is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Write these regions, each checked with `SPI_FLASH_MD5` afterwards.
    Flash {
        /// The regions, in order.
        regions: Vec<Region>,
        /// Send zlib streams (`FLASH_DEFL_*`) rather than plain blocks.
        compress: bool,
    },
    /// Read the partition table, otadata and app descriptors.
    Info,
    /// Read `len` bytes of flash at `offset` (`READ_FLASH_SLOW`, 64 bytes a request) and check
    /// them against `SPI_FLASH_MD5`; the bytes are in [`EspRomSession::take_read`] afterwards.
    ReadFlash {
        /// Flash address.
        offset: u32,
        /// Bytes to read.
        len: u32,
    },
    /// Make OTA slot `slot` boot next by rewriting otadata.
    SetBootSlot {
        /// The OTA slot number (0 for ota_0).
        slot: u8,
    },
    /// Leave the loader and boot what otadata selects (an empty `FLASH_BEGIN`, then
    /// `FLASH_END` asking for a reboot, as esptool's soft reset does with the ROM).
    Restart,
}

/// How to run a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspRomConfig {
    /// The job.
    pub job: Job,
    /// Reset into the loader with DTR/RTS first (`None`: the chip already waits in it).
    pub reset: Option<ResetKind>,
    /// Switch to this baud rate after attaching (the pump follows [`EspRomSession::poll_baud`]).
    pub baud: Option<u32>,
    /// Flash size declared with `SPI_SET_PARAMS`.
    pub flash_size: u32,
    /// End with `FLASH_END` asking the ROM to reboot into the app.
    pub restart: bool,
    /// A flasher stub to load into RAM and run before the job (none is bundled).
    pub stub: Option<Stub>,
    /// Flash: write the one app region into the OTA slot that does not boot now (its address
    /// is ignored), then switch otadata to it.
    pub update_slot: bool,
    /// Flash: allow a region inside the partition the chip boots now.
    pub overwrite_running: bool,
}

impl EspRomConfig {
    /// A job with no reset, no baud change, 4 MiB flash and no restart.
    pub fn new(job: Job) -> Self {
        EspRomConfig {
            job,
            reset: None,
            baud: None,
            flash_size: 4 * 1024 * 1024,
            restart: false,
            stub: None,
            update_slot: false,
            overwrite_running: false,
        }
    }
}

const SYNC_TIMEOUT: Duration = Duration::from_millis(100);
const SYNC_ATTEMPTS: u32 = 30;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
const BLOCK_ATTEMPTS: u32 = 3;
const CHIP_MAGIC_REG: u32 = 0x4000_1000;
const MODULE_UNCHANGED: &str = "is unchanged and still runs its previous firmware";
const MODULE_NOT_REACHED: &str = "was not written to: it did not answer, so what it runs now is \
                                  not known";
const MODULE_ONLY_READ: &str = "was only read: nothing was written to it";
const MODULE_PARTIAL: &str = "has an incomplete region at the address being written: flash it \
                              again before resetting it (the other slots are untouched)";

/// `secs_per_mb` seconds for every MiB of `size`, at least the default timeout.
fn scaled(secs_per_mb: u64, size: usize) -> Duration {
    let t = Duration::from_millis(secs_per_mb * 1000 * size as u64 / (1024 * 1024));
    t.max(DEFAULT_TIMEOUT)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reset(usize),
    Sync,
    SecurityInfo,
    ChipMagic,
    MemBegin(usize),
    MemData(usize, usize),
    MemEnd,
    AwaitOhai,
    Attach,
    SetParams,
    Baud,
    BaudSettle,
    /// The empty `FLASH_BEGIN` of a restart.
    RestartBegin,
    /// Deflating the region, a slice per turn of the caller's loop.
    Deflate,
    Begin,
    Data(usize),
    Md5,
    /// Before a region of a several-region install is written: does the flash hold it already
    /// (an install cut short and started again)?
    Precheck,
    Read(ReadWhat),
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadWhat {
    Table,
    Otadata(u8),
    Head(usize),
    /// A segment header of the image being walked (see [`walk`]).
    Segment,
    /// The checksum and hash that end the image being walked.
    ImageEnd,
    OtadataAfter(u8),
    User,
}

#[derive(Debug)]
struct Pending {
    op: u8,
    frame: Vec<u8>,
    deadline: Duration,
    timeout: Duration,
    attempts: u32,
    max_attempts: u32,
    waiting_for: &'static str,
}

/// The session; see the module docs.
#[derive(Debug)]
pub struct EspRomSession {
    cfg: EspRomConfig,
    loader: Loader,
    chip: &'static str,
    decoder: SlipDecoder,
    phase: Phase,
    pending: Option<Pending>,
    wait_until: Option<Duration>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    signals: VecDeque<SignalStep>,
    baud_request: Option<u32>,
    finished: bool,
    now: Duration,
    // Writing.
    regions: Vec<Region>,
    compress: bool,
    region: usize,
    blocks: Vec<Vec<u8>>,
    /// The current region being deflated.
    deflating: Option<Deflating>,
    done: u64,
    total: u64,
    wrote: bool,
    /// The layout was read and the regions checked against it.
    planned: bool,
    /// The region whose flash was compared before writing (several-region installs).
    prechecked: Option<usize>,
    /// The OTA slot to switch otadata to once the app is written and checked.
    switch_to: Option<u8>,
    /// Writing otadata after the app.
    switching: bool,
    /// The line was switched to `cfg.baud` (a stub loaded later keeps that rate).
    baud_switched: bool,
    // Reading.
    read_addr: u32,
    read_len: usize,
    read_buf: Vec<u8>,
    read_out: Vec<u8>,
    table: Option<PartitionTable>,
    entries: [Vec<u8>; 2],
    heads: Vec<(String, Vec<u8>)>,
    /// The walk through a slot's image in progress.
    walk: Option<walk::Walk>,
    /// What is wrong with each slot's image, where something is.
    problems: Vec<(String, String)>,
    /// The length of each whole image walked to its end, by slot label.
    image_lens: Vec<(String, u32)>,
}

impl EspRomSession {
    /// A session for `cfg`, starting at `now`.
    pub fn start(now: Duration, cfg: EspRomConfig) -> Self {
        let (regions, compress) = match &cfg.job {
            Job::Flash { regions, compress } => (regions.clone(), *compress),
            _ => (Vec::new(), false),
        };
        let total = regions.iter().map(|r| r.data.len() as u64).sum();
        let mut s = EspRomSession {
            loader: Loader::Rom,
            chip: "unknown chip",
            decoder: SlipDecoder::default(),
            phase: Phase::Sync,
            pending: None,
            wait_until: None,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            signals: VecDeque::new(),
            baud_request: None,
            finished: false,
            now,
            regions,
            compress,
            region: 0,
            blocks: Vec::new(),
            deflating: None,
            done: 0,
            total,
            wrote: false,
            planned: false,
            prechecked: None,
            switch_to: None,
            switching: false,
            baud_switched: false,
            read_addr: 0,
            read_len: 0,
            read_buf: Vec::new(),
            read_out: Vec::new(),
            table: None,
            entries: [Vec::new(), Vec::new()],
            heads: Vec::new(),
            walk: None,
            problems: Vec::new(),
            image_lens: Vec::new(),
            cfg,
        };
        s.events.push_back(SessionEvent::Step(Step::Connect));
        if matches!(s.cfg.job, Job::Flash { .. }) && s.total == 0 {
            s.fail(Step::Prepare, FlashErrorKind::EmptyImage);
        } else if let Some(text) = s.out_of_flash() {
            s.fail(Step::Prepare, FlashErrorKind::Unsuitable(text));
        } else if let Some(kind) = s.cfg.reset {
            s.phase = Phase::Reset(0);
            s.signal_step(kind, 0);
        } else {
            s.sync();
        }
        s
    }

    /// The bytes a [`Job::ReadFlash`] read (empty before it finished).
    pub fn take_read(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.read_out)
    }

    /// The chip detected, once known.
    pub fn chip(&self) -> &'static str {
        self.chip
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.push_back(SessionEvent::Log { level, message });
    }

    fn signal_step(&mut self, kind: ResetKind, i: usize) {
        let step = kind.steps()[i];
        self.signals.push_back(step);
        self.wait_until = Some(self.now + step.hold);
    }

    fn step_of(&self) -> Step {
        match self.phase {
            Phase::Reset(_) | Phase::Sync => Step::Connect,
            Phase::SecurityInfo | Phase::ChipMagic | Phase::Read(_) => Step::Identify,
            Phase::MemBegin(_) | Phase::MemData(..) | Phase::MemEnd | Phase::AwaitOhai => {
                Step::Connect
            }
            Phase::Attach
            | Phase::SetParams
            | Phase::Baud
            | Phase::BaudSettle
            | Phase::Deflate
            | Phase::Begin => Step::Prepare,
            Phase::RestartBegin => Step::Restart,
            Phase::Data(_) => Step::Write,
            Phase::Md5 => Step::Verify,
            Phase::Precheck => Step::Prepare,
            Phase::End => Step::Restart,
        }
    }

    fn fail(&mut self, step: Step, kind: FlashErrorKind) {
        if self.finished {
            return;
        }
        let writing = self.total > 0 && matches!(self.cfg.job, Job::Flash { .. });
        let e = FlashError {
            step,
            offset: writing.then_some(self.done),
            total: writing.then_some(self.total),
            kind,
            module_state: if self.switching {
                plan::MODULE_SWITCH_PARTIAL
            } else if self.wrote && self.cfg.update_slot {
                plan::MODULE_SLOT_PARTIAL
            } else if self.wrote {
                MODULE_PARTIAL
            } else if step == Step::Connect {
                MODULE_NOT_REACHED
            } else if matches!(self.cfg.job, Job::Info | Job::ReadFlash { .. }) {
                MODULE_ONLY_READ
            } else {
                MODULE_UNCHANGED
            },
        };
        self.log(LogLevel::Error, e.to_string());
        self.finish(Err(e));
    }

    fn finish(&mut self, r: Result<FlashOutcome, FlashError>) {
        self.finished = true;
        self.pending = None;
        self.wait_until = None;
        self.events.push_back(SessionEvent::Finished(r));
    }

    fn send(&mut self, op: u8, data: &[u8], checksum: u32, timeout: Duration, attempts: u32) {
        self.send_for(op, data, checksum, timeout, attempts, "answering a command");
    }

    fn send_for(
        &mut self,
        op: u8,
        data: &[u8],
        checksum: u32,
        timeout: Duration,
        max_attempts: u32,
        waiting_for: &'static str,
    ) {
        let frame = slip::encode(&packet::command(op, data, checksum));
        self.tx.push_back(frame.clone());
        self.pending = Some(Pending {
            op,
            frame,
            deadline: self.now + timeout,
            timeout,
            attempts: 1,
            max_attempts,
            waiting_for,
        });
    }

    fn sync(&mut self) {
        self.phase = Phase::Sync;
        self.send_for(
            op::SYNC,
            &packet::sync_data(),
            0,
            SYNC_TIMEOUT,
            SYNC_ATTEMPTS,
            "syncing with its serial loader (is it in download mode?)",
        );
    }

    fn read_reg(&mut self, addr: u32) {
        self.send(op::READ_REG, &packet::words(&[addr]), 0, DEFAULT_TIMEOUT, 3);
    }

    fn start_read(&mut self, what: ReadWhat, addr: u32, len: usize) {
        self.phase = Phase::Read(what);
        self.read_addr = addr;
        self.read_len = len;
        self.read_buf.clear();
        self.next_read();
    }

    fn next_read(&mut self) {
        let Some(at) = self.read_addr.checked_add(self.read_buf.len() as u32) else {
            let text = format!("a read at {:#x} runs past 4 GiB", self.read_addr);
            return self.fail(Step::Identify, FlashErrorKind::Unsuitable(text));
        };
        let n = (self.read_len - self.read_buf.len()).min(64) as u32;
        self.send_for(
            op::READ_FLASH_SLOW,
            &packet::words(&[at, n]),
            0,
            DEFAULT_TIMEOUT,
            3,
            "reading flash",
        );
    }

    /// Start the job once the loader is attached (and the baud settled).
    fn start_job(&mut self) {
        match self.cfg.job {
            Job::Flash { .. } => self.start_flash(),
            Job::ReadFlash { offset, len } => self.start_read(ReadWhat::User, offset, len as usize),
            Job::Info | Job::SetBootSlot { .. } => {
                self.start_read(ReadWhat::Table, TABLE_OFFSET, esp_partition::MAX_TABLE_LEN)
            }
            Job::Restart => {
                self.phase = Phase::RestartBegin;
                self.events.push_back(SessionEvent::Step(Step::Restart));
                let block = self.loader.flash_block() as u32;
                let mut words = vec![0, 0, block, 0];
                if !matches!(self.chip, "ESP32" | "ESP8266") || self.loader == Loader::Stub {
                    words.push(0);
                }
                self.send(
                    op::FLASH_BEGIN,
                    &packet::words(&words),
                    0,
                    DEFAULT_TIMEOUT,
                    1,
                );
            }
        }
    }

    /// Ask the loader to reboot into the app: the last command of a restart or a flash.
    pub(super) fn reboot(&mut self, opc: u8) {
        self.phase = Phase::End;
        self.events.push_back(SessionEvent::Step(Step::Restart));
        self.send(opc, &packet::words(&[0]), 0, DEFAULT_TIMEOUT, 1);
    }

    fn end(&mut self) {
        if self.cfg.restart {
            let opc = if self.compress {
                op::FLASH_DEFL_END
            } else {
                op::FLASH_END
            };
            self.reboot(opc);
        } else {
            self.succeed(false);
        }
    }

    fn succeed(&mut self, restarted: bool) {
        let bytes = if matches!(self.cfg.job, Job::Flash { .. }) {
            self.total
        } else {
            0
        };
        let module = self.module();
        self.events
            .push_back(SessionEvent::Identified(module.clone()));
        self.finish(Ok(FlashOutcome {
            bytes,
            restarted,
            module: Some(module),
        }));
    }
}
