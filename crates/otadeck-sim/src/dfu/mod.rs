//! A USB DFU device: DFU 1.1 (one firmware image, manifestation tolerant or not) or an STM32
//! DfuSe loader (a memory map, page erase, addressed writes and reads), answering control
//! transfers as the specification and ST's bootloader do, with `bwPollTimeout` waits it enforces,
//! detach and re-enumeration, and faults to inject.

mod requests;

use std::time::Duration;

use otadeck_core::driver::dfu::wire::{self, Functional, MemoryMap, State, Status, UsbAlt};
use otadeck_core::session::{ControlTransfer, RequestKind, TransferData, TransferError};

/// The STM32F4 system bootloader's map of its internal flash.
pub const STM32_FLASH_MAP: &str = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg";
/// Its option bytes: readable only.
pub const STM32_OPTION_MAP: &str = "@Option Bytes  /0x1FFFC000/01*016 a";
/// ST's vendor id, and the product ids of an application and of the DFU loader.
pub const ST_VENDOR: u16 = 0x0483;
/// The product id of ST's DFU loader.
pub const ST_DFU_PRODUCT: u16 = 0xDF11;
/// The product id of the demo application (an STM32 virtual COM port).
pub const ST_APP_PRODUCT: u16 = 0x5740;

/// A Cortex-M application image of `len` bytes: a vector table (stack at the top of 128 KiB of
/// RAM, reset handler in flash) and a deterministic body, the same on every machine.
pub fn stm32_image(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&0x2002_0000u32.to_le_bytes());
    out.extend_from_slice(&0x0800_01C1u32.to_le_bytes());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push((x >> 24) as u8);
    }
    out.truncate(len);
    out
}

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfuFault {
    /// The `n`-th data block (from 0) fails with this status.
    BlockFails { n: u32, status: u8 },
    /// Erasing fails with this status.
    EraseFails(u8),
    /// One byte at this offset into the written memory is stored wrong.
    CorruptAt(u32),
    /// After a detach or a reset the device never comes back.
    NeverReturns,
}

/// Which protocol the device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// DFU 1.1.
    Dfu11 { tolerant: bool },
    /// ST DfuSe.
    DfuSe,
}

/// Where the device is on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Running its application (a runtime DFU interface).
    Runtime,
    /// In its DFU loader.
    Loader,
    /// Off the bus until this instant, then back in the given mode.
    Away { back: Duration, loader: bool },
}

/// The simulated device.
#[derive(Debug, Clone)]
pub struct DfuDevice {
    flavour: Flavour,
    functional: Functional,
    map: Option<MemoryMap>,
    /// DfuSe: the whole flash from the map's start; DFU 1.1: the firmware image.
    pub memory: Vec<u8>,
    base: u32,
    presence: Presence,
    state: State,
    status: Status,
    /// A DNLOAD or command waiting for its GETSTATUS, and when the work ends.
    pending: Option<(u16, Vec<u8>)>,
    busy_until: Duration,
    pointer: u32,
    /// DFU 1.1: the image being received.
    incoming: Vec<u8>,
    blocks: u32,
    /// How long a block takes to program, and a page to erase (per KiB).
    pub program_time: Duration,
    /// How long erasing one KiB takes.
    pub erase_time_per_kib: Duration,
    /// How long re-enumeration takes.
    pub reenumerate: Duration,
    /// Fault to inject.
    pub fault: Option<DfuFault>,
    /// USB resets seen.
    pub resets: u32,
    /// Control transfers answered.
    pub transfers: u64,
    /// USB identity: vendor, serial number.
    pub vendor: u16,
    /// The serial number string, the same in both modes.
    pub serial: String,
}

impl DfuDevice {
    /// An STM32 in its DfuSe system bootloader with blank flash.
    pub fn stm32() -> Self {
        let map = MemoryMap::parse(STM32_FLASH_MAP).expect("a valid map");
        let end = map.segments.last().map_or(0, |s| s.end);
        let base = map.segments[0].start;
        DfuDevice {
            flavour: Flavour::DfuSe,
            functional: Functional {
                can_download: true,
                can_upload: true,
                manifestation_tolerant: true,
                will_detach: true,
                detach_timeout_ms: 255,
                transfer_size: 2048,
                dfu_version: 0x011A,
            },
            memory: vec![0xFF; (end - base) as usize],
            base,
            map: Some(map),
            presence: Presence::Loader,
            state: State::DfuIdle,
            status: Status::OK,
            pending: None,
            busy_until: Duration::ZERO,
            pointer: base,
            incoming: Vec::new(),
            blocks: 0,
            program_time: Duration::from_millis(5),
            erase_time_per_kib: Duration::from_millis(12),
            reenumerate: Duration::from_millis(1500),
            fault: None,
            resets: 0,
            transfers: 0,
            vendor: ST_VENDOR,
            serial: "3276384B3431".into(),
        }
    }

    /// A DFU 1.1 device holding `firmware`, in its application (runtime) or its loader.
    pub fn dfu11(firmware: Vec<u8>, tolerant: bool, in_loader: bool) -> Self {
        let mut d = DfuDevice::stm32();
        d.flavour = Flavour::Dfu11 { tolerant };
        d.functional = Functional {
            manifestation_tolerant: tolerant,
            will_detach: false,
            detach_timeout_ms: 1000,
            transfer_size: 1024,
            dfu_version: 0x0110,
            ..d.functional
        };
        d.map = None;
        d.base = 0;
        d.memory = firmware;
        d.vendor = 0x1209;
        d.serial = "OTADECK-DFU-0001".into();
        if !in_loader {
            d.presence = Presence::Runtime;
            d.state = State::AppIdle;
        }
        d
    }

    /// The same device starting in its application.
    pub fn in_application(mut self) -> Self {
        self.presence = Presence::Runtime;
        self.state = State::AppIdle;
        self
    }

    /// The product id it enumerates with now.
    pub fn product(&self) -> u16 {
        match (self.flavour, self.in_loader()) {
            (Flavour::DfuSe, true) => ST_DFU_PRODUCT,
            (Flavour::DfuSe, false) => ST_APP_PRODUCT,
            (_, true) => 0x0002,
            (_, false) => 0x0001,
        }
    }

    /// Its DFU state now.
    pub fn state(&self) -> State {
        self.state
    }

    /// True while it runs its DFU loader.
    pub fn in_loader(&self) -> bool {
        matches!(
            self.presence,
            Presence::Loader | Presence::Away { loader: true, .. }
        )
    }

    /// The bytes at `address` (DfuSe) or offset (DFU 1.1).
    pub fn read(&self, address: u32, len: usize) -> &[u8] {
        let start = (address - self.base) as usize;
        &self.memory[start..start + len]
    }

    /// Put `data` at `address` directly (a firmware already there).
    pub fn load(&mut self, address: u32, data: &[u8]) {
        let start = (address - self.base) as usize;
        self.memory[start..start + data.len()].copy_from_slice(data);
    }

    /// On the bus at `now` (coming back from a re-enumeration when its time has come).
    pub fn present(&mut self, now: Duration) -> bool {
        if let Presence::Away { back, loader } = self.presence {
            if now < back {
                return false;
            }
            self.presence = if loader {
                Presence::Loader
            } else {
                Presence::Runtime
            };
            self.state = if loader {
                State::DfuIdle
            } else {
                State::AppIdle
            };
            self.status = Status::OK;
        }
        true
    }

    /// When it will be back, if it is off the bus.
    pub fn back_at(&self) -> Option<Duration> {
        match self.presence {
            Presence::Away { back, .. } => Some(back),
            _ => None,
        }
    }

    fn go_away(&mut self, now: Duration, loader: bool) {
        let back = if self.fault == Some(DfuFault::NeverReturns) {
            Duration::MAX
        } else {
            now + self.reenumerate
        };
        self.presence = Presence::Away { back, loader };
    }

    /// A USB bus reset.
    pub fn usb_reset(&mut self, now: Duration) {
        self.resets += 1;
        match self.state {
            State::AppDetach => self.go_away(now, true),
            State::AppIdle => {}
            // A loader reset runs the application when there is one.
            _ => {
                let has_app = self.memory.iter().any(|b| *b != 0xFF) && !self.memory.is_empty();
                self.go_away(now, !has_app);
            }
        }
    }

    /// The interfaces it lists now.
    pub fn alts(&self) -> Vec<UsbAlt> {
        let alt = |alt: u8, protocol: u8, name: &str| UsbAlt {
            interface: 0,
            alt,
            class: wire::DFU_CLASS,
            subclass: wire::DFU_SUBCLASS,
            protocol,
            name: name.into(),
        };
        if !self.in_loader() {
            let mut cdc = alt(0, 0, "CDC data");
            cdc.class = 0x0A;
            cdc.subclass = 0;
            let mut dfu = alt(0, wire::PROTOCOL_RUNTIME, "DFU runtime");
            dfu.interface = 1;
            return vec![cdc, dfu];
        }
        match self.flavour {
            Flavour::DfuSe => vec![
                alt(0, wire::PROTOCOL_DFU_MODE, STM32_FLASH_MAP),
                alt(1, wire::PROTOCOL_DFU_MODE, STM32_OPTION_MAP),
            ],
            Flavour::Dfu11 { .. } => vec![alt(0, wire::PROTOCOL_DFU_MODE, "Firmware")],
        }
    }

    /// The configuration descriptor: a configuration, each interface, and the DFU functional
    /// descriptor after the DFU interface.
    pub fn config_descriptor(&self) -> Vec<u8> {
        let alts = self.alts();
        let mut body = Vec::new();
        for a in &alts {
            body.extend_from_slice(&[
                9,
                4,
                a.interface,
                a.alt,
                0,
                a.class,
                a.subclass,
                a.protocol,
                0,
            ]);
            if a.is_dfu() && alts.iter().rfind(|b| b.interface == a.interface) == Some(a) {
                body.extend_from_slice(&self.functional.encode());
            }
        }
        let total = (9 + body.len()) as u16;
        let interfaces = alts.iter().map(|a| a.interface).max().map_or(0, |n| n + 1);
        let [t0, t1] = total.to_le_bytes();
        let mut out = vec![9, 2, t0, t1, interfaces, 1, 0, 0x80, 50];
        out.extend(body);
        out
    }

    /// Answer one control transfer at `now`.
    pub fn control(
        &mut self,
        now: Duration,
        t: &ControlTransfer,
    ) -> Result<Vec<u8>, TransferError> {
        if !self.present(now) {
            return Err(TransferError::Disconnected);
        }
        self.transfers += 1;
        match t.kind {
            RequestKind::StandardDevice if t.request == wire::GET_DESCRIPTOR => {
                let mut d = self.config_descriptor();
                if let TransferData::In(n) = t.data {
                    d.truncate(n as usize);
                }
                Ok(d)
            }
            RequestKind::StandardInterface if t.request == wire::SET_INTERFACE => {
                let known = self
                    .alts()
                    .iter()
                    .any(|a| u16::from(a.interface) == t.index && u16::from(a.alt) == t.value);
                if known {
                    Ok(Vec::new())
                } else {
                    Err(TransferError::Stall)
                }
            }
            RequestKind::Class => self.class_request(now, t),
            _ => Err(TransferError::Stall),
        }
    }

    fn stall(&mut self) -> Result<Vec<u8>, TransferError> {
        if self.in_loader() {
            self.state = State::DfuError;
            self.status = Status(0x0F);
        }
        Err(TransferError::Stall)
    }

    fn error(&mut self, status: u8) {
        self.state = State::DfuError;
        self.status = Status(status);
        self.pending = None;
    }
}
