//! The requests of each job, laid out once the device is idle in DFU mode and its descriptor
//! and memory map are known.

use super::ops::{Command, Goal, Op};
use super::{DfuSession, Job};
use crate::session::{FlashErrorKind, LogLevel, SessionEvent, Step};

/// DfuSe data blocks are numbered from 2: block `n` lands at `(n − 2) · wTransferSize` past the
/// address pointer.
const FIRST_DFUSE_BLOCK: u32 = 2;

impl DfuSession {
    /// The device is idle in DFU mode: lay out the job.
    pub(super) fn plan(&mut self) {
        self.set_step(Step::Identify);
        self.events
            .push_back(SessionEvent::Identified(self.module_info()));
        if let Some(map) = &self.map {
            let runs: Vec<String> = map
                .segments
                .iter()
                .map(|s| {
                    format!(
                        "{:#010x}-{:#010x} pages of {} bytes{}",
                        s.start,
                        s.end - 1,
                        s.page,
                        if s.writable { "" } else { " (read-only)" }
                    )
                })
                .collect();
            let text = format!("Memory \"{}\": {}", map.name, runs.join(", "));
            self.log(LogLevel::Info, text);
        }
        let ops = match &self.job {
            Job::Inspect => Ok(Vec::new()),
            Job::Leave => self.leave_ops(self.map.as_ref().and_then(|m| m.first_writable())),
            Job::Download { .. } if self.is_dfuse() => self.dfuse_download(),
            Job::Download { .. } => self.dfu_download(),
            Job::Upload { address, len } => self.upload_ops(*address, *len),
        };
        match ops {
            Ok(ops) => self.queue.extend(ops),
            Err(kind) => self.fail(kind),
        }
    }

    fn can_upload(&self) -> bool {
        self.functional.is_some_and(|f| f.can_upload)
    }

    fn job_flags(&self) -> (bool, bool, bool) {
        match &self.job {
            Job::Download {
                verify,
                leave,
                mass_erase,
                ..
            } => (*verify, *leave, *mass_erase),
            _ => (false, false, false),
        }
    }

    /// DFU 1.1: one image, blocks numbered from 0, manifestation, then a read back when the
    /// device still answers, and a USB reset to run it.
    fn dfu_download(&mut self) -> Result<Vec<Op>, FlashErrorKind> {
        let (verify, leave, _) = self.job_flags();
        let Job::Download { segments, .. } = &self.job else {
            unreachable!("a download");
        };
        if segments.len() != 1 || segments[0].address.is_some() {
            return Err(FlashErrorKind::Unsuitable(
                "this file places data at addresses, which only DfuSe devices take; this device \
                 speaks plain DFU 1.1: choose a .bin or .dfu file without addresses"
                    .into(),
            ));
        }
        if !self.functional.is_some_and(|f| f.can_download) {
            return Err(FlashErrorKind::ModuleLacks(
                "the device does not accept downloads (its descriptor says so)".into(),
            ));
        }
        self.bases = vec![0];
        let size = self.transfer_size();
        let len = segments[0].data.len();
        let mut ops = vec![Op::Step(Step::Write)];
        let blocks = len.div_ceil(size);
        for i in 0..blocks {
            ops.push(Op::Block {
                seg: 0,
                pos: i * size,
                block: i as u16,
            });
        }
        ops.push(Op::End {
            block: blocks as u16,
        });
        let tolerant = self.functional.is_some_and(|f| f.manifestation_tolerant);
        if verify && self.can_upload() && tolerant {
            ops.push(Op::Step(Step::Verify));
            for i in 0..blocks {
                ops.push(Op::Read {
                    seg: Some(0),
                    pos: i * size,
                    block: i as u16,
                    len: size as u16,
                });
            }
            ops.extend([Op::Abort, Op::Status(Goal::Idle)]);
        } else if verify {
            self.log(
                LogLevel::Warn,
                format!(
                    "The device {}: what it wrote is not read back.",
                    if self.can_upload() {
                        "stops answering after manifestation"
                    } else {
                        "does not allow reading back"
                    }
                ),
            );
        }
        if leave {
            ops.extend(self.leave_ops(None)?);
        }
        Ok(ops)
    }

    /// DfuSe: erase the pages touched, write each segment from its address, read them back,
    /// and leave from the first one.
    fn dfuse_download(&mut self) -> Result<Vec<Op>, FlashErrorKind> {
        let (verify, leave, mass_erase) = self.job_flags();
        let map = self.map.clone().ok_or_else(|| {
            FlashErrorKind::ModuleLacks("the DfuSe device gives no memory map".into())
        })?;
        let Job::Download { segments, .. } = &self.job else {
            unreachable!("a download");
        };
        let first = map.first_writable().ok_or_else(|| {
            FlashErrorKind::ModuleLacks("the device's memory map has no writable memory".into())
        })?;
        let lens: Vec<usize> = segments.iter().map(|s| s.data.len()).collect();
        let bases: Vec<u32> = segments
            .iter()
            .map(|s| s.address.unwrap_or(first))
            .collect();
        if segments.iter().any(|s| s.address.is_none()) {
            self.log(
                LogLevel::Info,
                format!(
                    "No address given: writing at {first:#010x}, the start of {}.",
                    map.name
                ),
            );
        }
        let mut erase = Vec::new();
        for (base, len) in bases.iter().zip(&lens) {
            let pages = map.pages_for(*base, *len as u32).map_err(|at| {
                FlashErrorKind::Unsuitable(format!(
                    "address {at:#010x} is outside the device's writable memory ({})",
                    map.name
                ))
            })?;
            erase.extend(pages);
        }
        crate::order::sort(&mut erase);
        erase.dedup();
        let mut ops = vec![Op::Step(Step::Prepare)];
        if mass_erase {
            self.log(
                LogLevel::Info,
                "Erasing the whole flash (mass erase).".to_string(),
            );
            ops.push(Op::Command(Command::MassErase));
        } else {
            self.log(LogLevel::Info, format!("Erasing {} pages.", erase.len()));
            ops.extend(erase.into_iter().map(|p| Op::Command(Command::Erase(p))));
        }
        ops.push(Op::Step(Step::Write));
        let size = self.transfer_size();
        for (seg, (base, len)) in bases.iter().zip(&lens).enumerate() {
            ops.extend(addressed_blocks(*base, *len, size, |pos, block, _| {
                Op::Block { seg, pos, block }
            }));
        }
        if verify && self.can_upload() {
            ops.push(Op::Step(Step::Verify));
            for (seg, (base, len)) in bases.iter().zip(&lens).enumerate() {
                ops.extend(self.dfuse_reads(*base, *len, Some(seg)));
            }
        } else if verify {
            self.log(
                LogLevel::Warn,
                "The device does not allow reading back: what it wrote is not compared.".into(),
            );
        }
        if leave {
            ops.extend(self.leave_ops(bases.first().copied())?);
        }
        self.bases = bases;
        Ok(ops)
    }

    /// Return to idle, then read `len` bytes from `base` (compared with `seg`, or kept).
    fn dfuse_reads(&self, base: u32, len: usize, seg: Option<usize>) -> Vec<Op> {
        let size = self.transfer_size();
        let mut ops = vec![Op::Abort, Op::Status(Goal::Idle)];
        ops.extend(addressed_blocks(base, len, size, |pos, block, n| {
            Op::Read {
                seg,
                pos,
                block,
                len: n as u16,
            }
        }));
        // Every SET_ADDRESS leaves the device in dfuDNLOAD-IDLE: return to idle before reading.
        let mut out = Vec::with_capacity(ops.len() + 4);
        for op in ops {
            let after_address = matches!(op, Op::Command(Command::SetAddress(_)));
            out.push(op);
            if after_address {
                out.extend([Op::Abort, Op::Status(Goal::Idle)]);
            }
        }
        out.extend([Op::Abort, Op::Status(Goal::Idle)]);
        out
    }

    fn upload_ops(&mut self, address: Option<u32>, len: u32) -> Result<Vec<Op>, FlashErrorKind> {
        if !self.can_upload() {
            return Err(FlashErrorKind::ModuleLacks(
                "the device does not allow reading back (its descriptor says so)".into(),
            ));
        }
        let size = self.transfer_size();
        if !self.is_dfuse() {
            let mut ops = vec![Op::Step(Step::ReadBack)];
            for i in 0..(len as usize).div_ceil(size) {
                ops.push(Op::Read {
                    seg: None,
                    pos: i * size,
                    block: i as u16,
                    len: size as u16,
                });
            }
            ops.extend([Op::Abort, Op::Status(Goal::Idle)]);
            return Ok(ops);
        }
        let map = self.map.clone().ok_or_else(|| {
            FlashErrorKind::ModuleLacks("the DfuSe device gives no memory map".into())
        })?;
        let base = address
            .or_else(|| map.segments.iter().find(|s| s.readable).map(|s| s.start))
            .unwrap_or(0);
        if !map.readable(base, len) {
            return Err(FlashErrorKind::Unsuitable(format!(
                "{len} bytes from {base:#010x} are not all in the device's readable memory ({})",
                map.name
            )));
        }
        self.upload_base = base;
        let mut ops = vec![Op::Step(Step::ReadBack)];
        ops.extend(self.dfuse_reads(base, len as usize, None));
        Ok(ops)
    }

    /// Leave DFU mode: DfuSe from `address` by a zero-length DNLOAD; DFU 1.1 by a USB reset.
    fn leave_ops(&self, address: Option<u32>) -> Result<Vec<Op>, FlashErrorKind> {
        let mut ops = vec![Op::Step(Step::Restart)];
        if self.is_dfuse() {
            let address = address.ok_or_else(|| {
                FlashErrorKind::ModuleLacks("the device's memory map has no writable memory".into())
            })?;
            ops.extend([
                Op::Command(Command::SetAddress(address)),
                Op::End { block: 0 },
                Op::Reconnect {
                    reset: false,
                    leaving: true,
                },
            ]);
        } else {
            ops.push(Op::Reconnect {
                reset: true,
                leaving: true,
            });
        }
        Ok(ops)
    }
}

/// DfuSe blocks covering `len` bytes from `base`: a SET_ADDRESS, then blocks numbered from 2,
/// with a new SET_ADDRESS where the block number would pass 65535. `make(pos, block, n)` builds
/// the op for the `n` bytes at `pos`.
fn addressed_blocks(
    base: u32,
    len: usize,
    size: usize,
    make: impl Fn(usize, u16, usize) -> Op,
) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut pos = 0;
    let mut block = u32::MAX;
    while pos < len {
        if block > u32::from(u16::MAX) {
            ops.push(Op::Command(Command::SetAddress(base + pos as u32)));
            block = FIRST_DFUSE_BLOCK;
        }
        let n = size.min(len - pos);
        ops.push(make(pos, block as u16, n));
        pos += n;
        block += 1;
    }
    ops
}
