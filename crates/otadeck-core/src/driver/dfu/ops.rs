//! The requests a DFU session makes, one at a time: what each sends and what its answer means.
//! The plans of the jobs are in `plan`, what each device state means in `status`.

use super::wire::{self, DeviceStatus};
use super::{DfuSession, Job};
use crate::session::{
    ControlTransfer, FlashErrorKind, LogLevel, RequestKind, SessionEvent, Step, TransferData,
    TransferError,
};

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    /// Claim the interface and select the alt setting.
    Claim,
    /// The first 9 bytes of the configuration descriptor (for its total length).
    ConfigHead,
    /// The whole configuration descriptor.
    Config(u16),
    /// GETSTATUS, and what the answer must show.
    Status(Goal),
    ClrStatus,
    Abort,
    Detach,
    /// Wait for the device to come back; `leaving`: after manifestation.
    Reconnect {
        reset: bool,
        leaving: bool,
    },
    /// A DfuSe command (block 0).
    Command(Command),
    /// A block of segment `seg` from byte `pos`.
    Block {
        seg: usize,
        pos: usize,
        block: u16,
    },
    /// The zero-length DNLOAD that ends a download.
    End {
        block: u16,
    },
    /// UPLOAD `len` bytes as block `block`: compared with segment `seg` from `pos`, or kept.
    Read {
        seg: Option<usize>,
        pos: usize,
        block: u16,
        len: u16,
    },
    /// A new step begins.
    Step(Step),
    /// ABORT, then end as cancelled.
    CancelAbort,
}

/// What a GETSTATUS must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Goal {
    /// Before anything: idle in DFU mode, or in the application; `tries` so far.
    Start(u8),
    /// A DNLOAD finished (polled through dfuDNBUSY).
    Busy(&'static str),
    /// The download ends (polled through dfuMANIFEST).
    Manifest,
    /// After an ABORT or CLRSTATUS: dfuIDLE.
    Idle,
    /// A request stalled: say why.
    Explain(&'static str),
}

/// A DfuSe command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    SetAddress(u32),
    Erase(u32),
    MassErase,
}

impl Command {
    fn bytes(self) -> Vec<u8> {
        match self {
            Command::SetAddress(a) => [&[wire::DFUSE_SET_ADDRESS][..], &a.to_le_bytes()].concat(),
            Command::Erase(a) => [&[wire::DFUSE_ERASE][..], &a.to_le_bytes()].concat(),
            Command::MassErase => vec![wire::DFUSE_ERASE],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Command::SetAddress(_) => "setting the address",
            Command::Erase(_) => "erasing a page",
            Command::MassErase => "erasing the whole flash",
        }
    }
}

impl Op {
    fn describe(&self) -> &'static str {
        match self {
            Op::Claim => "claiming the DFU interface",
            Op::ConfigHead | Op::Config(_) => "reading the configuration descriptor",
            Op::Status(_) => "reading the status",
            Op::ClrStatus => "clearing the error state",
            Op::Abort | Op::CancelAbort => "returning to idle",
            Op::Detach => "detaching into DFU mode",
            Op::Reconnect { .. } => "coming back",
            Op::Command(c) => c.describe(),
            Op::Block { .. } => "a block of the image",
            Op::End { .. } => "ending the download",
            Op::Read { .. } => "reading back",
            Op::Step(_) => "",
        }
    }
}

fn class(request: u8, value: u16, index: u16, data: TransferData) -> ControlTransfer {
    ControlTransfer {
        kind: RequestKind::Class,
        request,
        value,
        index,
        data,
    }
}

impl DfuSession {
    pub(super) fn interface(&self) -> u16 {
        self.target.as_ref().map_or(0, |t| u16::from(t.interface))
    }

    pub(super) fn transfer_size(&self) -> usize {
        self.functional
            .map_or(1024, |f| usize::from(f.transfer_size.max(1)))
    }

    pub(super) fn is_dfuse(&self) -> bool {
        self.functional.is_some_and(|f| f.is_dfuse())
    }

    fn segment_data(&self, seg: usize) -> &[u8] {
        match &self.job {
            Job::Download { segments, .. } => &segments[seg].data,
            _ => &[],
        }
    }

    /// Begin `op`: hand out its transfer, or do it at once.
    pub(super) fn start_op(&mut self, op: Op) {
        let index = self.interface();
        let transfer = match &op {
            Op::Claim => {
                let t = self.target.as_ref().expect("chosen before the claim");
                ControlTransfer {
                    kind: RequestKind::StandardInterface,
                    request: wire::SET_INTERFACE,
                    value: u16::from(t.alt),
                    index,
                    data: TransferData::Out(Vec::new()),
                }
            }
            Op::ConfigHead | Op::Config(_) => ControlTransfer {
                kind: RequestKind::StandardDevice,
                request: wire::GET_DESCRIPTOR,
                value: u16::from(wire::CONFIGURATION_DESCRIPTOR) << 8,
                index: 0,
                data: TransferData::In(match op {
                    Op::Config(n) => n,
                    _ => 9,
                }),
            },
            Op::Status(_) => class(wire::GETSTATUS, 0, index, TransferData::In(6)),
            Op::ClrStatus => class(wire::CLRSTATUS, 0, index, TransferData::Out(Vec::new())),
            Op::Abort | Op::CancelAbort => {
                class(wire::ABORT, 0, index, TransferData::Out(Vec::new()))
            }
            Op::Detach => {
                let ms = self
                    .functional
                    .map_or(1000, |f| f.detach_timeout_ms.min(5000));
                class(wire::DETACH, ms, index, TransferData::Out(Vec::new()))
            }
            Op::Reconnect { reset, leaving } => {
                if *leaving {
                    self.set_step(Step::Confirm);
                }
                self.leaving = *leaving;
                self.reconnect = Some((*reset, self.now + self.config.reconnect_timeout));
                return;
            }
            Op::Command(c) => class(wire::DNLOAD, 0, index, TransferData::Out(c.bytes())),
            Op::Block { seg, pos, block } => {
                let data = self.segment_data(*seg);
                let end = (pos + self.transfer_size()).min(data.len());
                let chunk = data[*pos..end].to_vec();
                class(wire::DNLOAD, *block, index, TransferData::Out(chunk))
            }
            Op::End { block } => class(wire::DNLOAD, *block, index, TransferData::Out(vec![])),
            Op::Read { block, len, .. } => {
                class(wire::UPLOAD, *block, index, TransferData::In(*len))
            }
            Op::Step(step) => {
                self.set_step(*step);
                return;
            }
        };
        self.out = Some(transfer);
        self.inflight = Some(op);
    }

    /// The answer to `op`'s transfer.
    pub(super) fn transfer_done(&mut self, op: Op, result: Result<Vec<u8>, TransferError>) {
        let leaving = matches!(op, Op::End { .. } | Op::Status(Goal::Manifest));
        let data = match result {
            Ok(data) => data,
            Err(_) if op == Op::CancelAbort => return self.fail(FlashErrorKind::Cancelled),
            // A device that leaves DFU mode may drop off the bus or refuse the last request.
            Err(TransferError::Disconnected | TransferError::Stall) if leaving && self.leave() => {
                self.log(LogLevel::Info, "The device left DFU mode.".into());
                self.restarted = true;
                self.queue.retain(|o| matches!(o, Op::Reconnect { .. }));
                return;
            }
            Err(TransferError::Disconnected) => return self.fail(FlashErrorKind::LinkLost),
            Err(TransferError::Unsupported) => {
                return self.fail(FlashErrorKind::ModuleLacks(
                    "this connection cannot make USB control transfers: connect the DFU device \
                     with \"Connect USB device\""
                        .into(),
                ))
            }
            Err(TransferError::Stall) => return self.stalled(op),
        };
        match op {
            Op::CancelAbort => self.fail(FlashErrorKind::Cancelled),
            Op::ConfigHead => match data.get(2..4) {
                Some(len) => {
                    let total = u16::from_le_bytes([len[0], len[1]]).max(9);
                    self.queue.push_front(Op::Config(total));
                }
                None => self.bad_answer("reading the configuration descriptor", &data),
            },
            Op::Config(_) => self.descriptor_read(&data),
            Op::Status(goal) => match DeviceStatus::parse(&data) {
                Some(st) => self.on_status(goal, st),
                None => self.bad_answer("GETSTATUS", &data),
            },
            Op::Block { seg, pos, .. } => {
                let len = (self.segment_data(seg).len() - pos).min(self.transfer_size());
                self.written += len as u64;
                self.events.push_back(SessionEvent::Progress {
                    done: self.written,
                    total: self.total,
                });
                self.queue
                    .push_front(Op::Status(Goal::Busy("writing a block")));
            }
            Op::Command(c) => {
                if matches!(c, Command::Erase(_) | Command::MassErase) {
                    self.erased = true;
                }
                self.queue.push_front(Op::Status(Goal::Busy(c.describe())));
            }
            Op::End { .. } => self.queue.push_front(Op::Status(Goal::Manifest)),
            Op::Read { seg, pos, len, .. } => self.read_done(seg, pos, len, data),
            Op::Claim | Op::ClrStatus | Op::Abort | Op::Detach => {}
            Op::Reconnect { .. } | Op::Step(_) => {}
        }
    }

    fn leave(&self) -> bool {
        matches!(&self.job, Job::Download { leave: true, .. } | Job::Leave)
    }

    fn bad_answer(&mut self, call: &'static str, data: &[u8]) {
        self.fail(FlashErrorKind::BadAnswer {
            call,
            got: format!("{} bytes", data.len()),
        });
    }

    /// A request stalled: a claim means another program holds the device; anything else is
    /// explained by the status the device reports.
    fn stalled(&mut self, op: Op) {
        match op {
            Op::Claim => self.fail(FlashErrorKind::ModuleState {
                why: "the DFU interface is in use by another program".into(),
                then: "Close dfu-util, STM32CubeProgrammer or another tab that uses this device, \
                       then connect again.",
            }),
            // Nothing explains a stall here: the device refuses even its status.
            Op::Status(_) | Op::ConfigHead | Op::Config(_) => {
                self.fail(FlashErrorKind::ModuleState {
                    why: format!(
                        "the device refused a USB request (a stall) while {}",
                        op.describe()
                    ),
                    then: "Unplug the device and plug it back in (in its loader: on an STM32,                            with BOOT0 held), then flash again.",
                })
            }
            op => self
                .queue
                .push_front(Op::Status(Goal::Explain(op.describe()))),
        }
    }

    fn descriptor_read(&mut self, data: &[u8]) {
        let interface = self.target.as_ref().map_or(0, |t| t.interface);
        let Some(f) = wire::functional_in(data, interface) else {
            return self.fail(FlashErrorKind::ModuleLacks(
                "the device's DFU interface has no DFU functional descriptor".into(),
            ));
        };
        self.functional = Some(f);
        self.log(
            LogLevel::Info,
            format!(
                "{}: blocks of {} bytes; {}{}{}",
                if f.is_dfuse() { "DfuSe" } else { "DFU 1.1" },
                f.transfer_size,
                if f.can_upload {
                    "can be read back"
                } else {
                    "cannot be read back"
                },
                if f.manifestation_tolerant {
                    ", answers after manifestation"
                } else {
                    ""
                },
                if f.will_detach {
                    ", detaches by itself"
                } else {
                    ""
                },
            ),
        );
        self.queue.push_front(Op::Status(Goal::Start(0)));
    }

    fn read_done(&mut self, seg: Option<usize>, pos: usize, len: u16, data: Vec<u8>) {
        let short = data.len() < usize::from(len);
        match seg {
            Some(seg) => {
                let want = self.segment_data(seg);
                let end = (pos + data.len()).min(want.len());
                let expected = &want[pos.min(end)..end];
                if let Some(i) = expected.iter().zip(&data).position(|(a, b)| a != b) {
                    let at = self.segment_address(seg).map_or(String::new(), |a| {
                        format!(" (address {:#010x})", a as u64 + (pos + i) as u64)
                    });
                    return self.fail(FlashErrorKind::Mismatch(format!(
                        "the device holds other data than was written at byte {}{at}",
                        self.verified + i as u64
                    )));
                }
                let (matched, whole) = (expected.len() as u64, end >= want.len());
                self.verified += matched;
                if short && !whole {
                    return self.fail(FlashErrorKind::Mismatch(format!(
                        "the device returned only {} of {} bytes when read back",
                        self.verified, self.total
                    )));
                }
            }
            None => {
                self.read.extend_from_slice(&data);
                self.events.push_back(SessionEvent::Progress {
                    done: self.read.len() as u64,
                    total: self.total,
                });
                if short && (self.read.len() as u64) < self.total {
                    self.log(
                        LogLevel::Warn,
                        format!("The device ended the read at {} bytes.", self.read.len()),
                    );
                    self.queue.retain(|o| !matches!(o, Op::Read { .. }));
                    self.deliver_read();
                } else if self.read.len() as u64 >= self.total {
                    self.deliver_read();
                }
                return;
            }
        }
        // A short block returns the device to dfuIDLE: the reads after it are not needed.
        if short {
            self.queue.retain(|o| !matches!(o, Op::Read { .. }));
        }
    }

    fn deliver_read(&mut self) {
        let offset = self.upload_base;
        let mut data = std::mem::take(&mut self.read);
        data.truncate(self.total as usize);
        self.log(
            LogLevel::Info,
            format!("Read {} bytes back from {offset:#010x}.", data.len()),
        );
        self.events
            .push_back(SessionEvent::ReadBack { offset, data });
    }

    fn segment_address(&self, seg: usize) -> Option<u32> {
        self.bases.get(seg).copied().filter(|_| self.is_dfuse())
    }
}
