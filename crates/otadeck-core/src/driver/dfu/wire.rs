//! USB DFU 1.1 and ST DfuSe on the wire: request codes, device states and status codes (with
//! their meaning in words), the GETSTATUS reply, the DFU functional descriptor found in the
//! configuration descriptor, and the DfuSe memory map carried in an alt setting's name.

use std::fmt;
use std::time::Duration;

pub use crate::link::usb::UsbAlt;

/// `DFU_DETACH`: leave the application for the DFU loader (`wValue` = timeout in ms).
pub const DETACH: u8 = 0;
/// `DFU_DNLOAD`: a block of the image (`wValue` = block number); no data ends the download.
pub const DNLOAD: u8 = 1;
/// `DFU_UPLOAD`: read a block back (`wValue` = block number); a short block is the end.
pub const UPLOAD: u8 = 2;
/// `DFU_GETSTATUS`: 6 bytes, see [`DeviceStatus`].
pub const GETSTATUS: u8 = 3;
/// `DFU_CLRSTATUS`: leave dfuERROR for dfuIDLE.
pub const CLRSTATUS: u8 = 4;
/// `DFU_GETSTATE`: 1 byte, the state.
pub const GETSTATE: u8 = 5;
/// `DFU_ABORT`: back to dfuIDLE.
pub const ABORT: u8 = 6;

/// Standard `GET_DESCRIPTOR`.
pub const GET_DESCRIPTOR: u8 = 6;
/// Standard `SET_INTERFACE` (claim an interface and select its alt setting, on WebUSB).
pub const SET_INTERFACE: u8 = 11;
/// The configuration descriptor type, in the high byte of `wValue`.
pub const CONFIGURATION_DESCRIPTOR: u8 = 2;
/// The interface descriptor type.
pub const INTERFACE_DESCRIPTOR: u8 = 4;
/// The DFU functional descriptor type.
pub const FUNCTIONAL_DESCRIPTOR: u8 = 0x21;

/// The application-specific interface class DFU uses.
pub const DFU_CLASS: u8 = 0xFE;
/// The DFU subclass.
pub const DFU_SUBCLASS: u8 = 0x01;
/// Protocol of a DFU interface in the running application.
pub const PROTOCOL_RUNTIME: u8 = 1;
/// Protocol of a DFU interface in the loader (DFU mode).
pub const PROTOCOL_DFU_MODE: u8 = 2;

/// DfuSe command `SET_ADDRESS_POINTER`, sent as block 0.
pub const DFUSE_SET_ADDRESS: u8 = 0x21;
/// DfuSe command `ERASE` (an address erases one page, none the whole flash).
pub const DFUSE_ERASE: u8 = 0x41;

/// A DFU device state (`bState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    AppIdle = 0,
    AppDetach = 1,
    DfuIdle = 2,
    DnloadSync = 3,
    DnBusy = 4,
    DnloadIdle = 5,
    ManifestSync = 6,
    Manifest = 7,
    ManifestWaitReset = 8,
    UploadIdle = 9,
    DfuError = 10,
}

impl State {
    /// The state numbered `n`, if the specification has one.
    pub fn from_u8(n: u8) -> Option<State> {
        use State::*;
        Some(match n {
            0 => AppIdle,
            1 => AppDetach,
            2 => DfuIdle,
            3 => DnloadSync,
            4 => DnBusy,
            5 => DnloadIdle,
            6 => ManifestSync,
            7 => Manifest,
            8 => ManifestWaitReset,
            9 => UploadIdle,
            10 => DfuError,
            _ => return None,
        })
    }

    /// The specification's name (`dfuDNLOAD-IDLE`).
    pub fn name(self) -> &'static str {
        use State::*;
        match self {
            AppIdle => "appIDLE",
            AppDetach => "appDETACH",
            DfuIdle => "dfuIDLE",
            DnloadSync => "dfuDNLOAD-SYNC",
            DnBusy => "dfuDNBUSY",
            DnloadIdle => "dfuDNLOAD-IDLE",
            ManifestSync => "dfuMANIFEST-SYNC",
            Manifest => "dfuMANIFEST",
            ManifestWaitReset => "dfuMANIFEST-WAIT-RESET",
            UploadIdle => "dfuUPLOAD-IDLE",
            DfuError => "dfuERROR",
        }
    }
}

/// A DFU status code (`bStatus`), with its meaning in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8);

impl Status {
    /// No error.
    pub const OK: Status = Status(0);

    /// The specification's name (`errVERIFY`).
    pub fn name(self) -> &'static str {
        STATUS_TEXT.get(self.0 as usize).map_or("err?", |t| t.0)
    }

    /// What it means, in words (`flash verify failed`).
    pub fn words(self) -> &'static str {
        STATUS_TEXT
            .get(self.0 as usize)
            .map_or("a status code the DFU specification does not define", |t| {
                t.1
            })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.words())
    }
}

const STATUS_TEXT: [(&str, &str); 16] = [
    ("OK", "no error"),
    ("errTARGET", "the file is not for this device"),
    ("errFILE", "the file fails the device's own checks"),
    ("errWRITE", "the device cannot write its memory"),
    ("errERASE", "memory erase failed"),
    ("errCHECK_ERASED", "the memory erase check failed"),
    ("errPROG", "program memory function failed"),
    ("errVERIFY", "flash verify failed"),
    ("errADDRESS", "the address is outside the device's memory"),
    (
        "errNOTDONE",
        "the download ended before the device expected",
    ),
    (
        "errFIRMWARE",
        "the device's firmware is corrupt and it cannot leave DFU mode",
    ),
    ("errVENDOR", "a vendor-specific error"),
    ("errUSBR", "the device saw an unexpected USB reset"),
    ("errPOR", "the device saw an unexpected power-on reset"),
    (
        "errUNKNOWN",
        "something went wrong, and the device cannot say what",
    ),
    (
        "errSTALLEDPKT",
        "the device refused a request it did not expect",
    ),
];

/// The 6-byte answer to GETSTATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceStatus {
    /// `bStatus`.
    pub status: Status,
    /// `bwPollTimeout`: how long to wait before the next GETSTATUS.
    pub poll_timeout: Duration,
    /// `bState`, raw (see [`DeviceStatus::state`]).
    pub state_code: u8,
}

impl DeviceStatus {
    /// Read a GETSTATUS answer; `None` when it is shorter than 6 bytes.
    pub fn parse(data: &[u8]) -> Option<DeviceStatus> {
        let d = data.get(..6)?;
        let ms = u32::from_le_bytes([d[1], d[2], d[3], 0]);
        Some(DeviceStatus {
            status: Status(d[0]),
            poll_timeout: Duration::from_millis(ms.into()),
            state_code: d[4],
        })
    }

    /// The state, if the specification has one by that number.
    pub fn state(&self) -> Option<State> {
        State::from_u8(self.state_code)
    }

    /// The six bytes on the wire.
    pub fn encode(&self) -> [u8; 6] {
        let ms = self.poll_timeout.as_millis().min(0xFF_FFFF) as u32;
        let t = ms.to_le_bytes();
        [self.status.0, t[0], t[1], t[2], self.state_code, 0]
    }
}

/// The DFU functional descriptor (type 0x21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Functional {
    /// `bitCanDnload`.
    pub can_download: bool,
    /// `bitCanUpload`.
    pub can_upload: bool,
    /// `bitManifestationTolerant`: still answers after manifestation.
    pub manifestation_tolerant: bool,
    /// `bitWillDetach`: re-enumerates by itself after DETACH.
    pub will_detach: bool,
    /// `wDetachTimeOut`, ms.
    pub detach_timeout_ms: u16,
    /// `wTransferSize`: the largest block.
    pub transfer_size: u16,
    /// `bcdDFUVersion` (0x0110 for DFU 1.1, 0x011A for DfuSe).
    pub dfu_version: u16,
}

impl Functional {
    /// The 9 bytes on the wire.
    pub fn encode(&self) -> [u8; 9] {
        let attributes = u8::from(self.can_download)
            | u8::from(self.can_upload) << 1
            | u8::from(self.manifestation_tolerant) << 2
            | u8::from(self.will_detach) << 3;
        let [d0, d1] = self.detach_timeout_ms.to_le_bytes();
        let [t0, t1] = self.transfer_size.to_le_bytes();
        let [v0, v1] = self.dfu_version.to_le_bytes();
        [9, FUNCTIONAL_DESCRIPTOR, attributes, d0, d1, t0, t1, v0, v1]
    }

    /// True for ST's DfuSe extension.
    pub fn is_dfuse(&self) -> bool {
        self.dfu_version == 0x011A
    }
}

/// The DFU functional descriptor that follows interface `interface`'s descriptors in a whole
/// configuration descriptor; `None` when it has none.
pub fn functional_in(config: &[u8], interface: u8) -> Option<Functional> {
    let mut current = None;
    let mut rest = config;
    while rest.len() >= 2 {
        let len = rest[0] as usize;
        if len < 2 || len > rest.len() {
            return None;
        }
        let d = &rest[..len];
        match d[1] {
            INTERFACE_DESCRIPTOR if len >= 9 => {
                let dfu = d[5] == DFU_CLASS && d[6] == DFU_SUBCLASS;
                current = dfu.then_some(d[2]);
            }
            FUNCTIONAL_DESCRIPTOR if len >= 9 && current == Some(interface) => {
                return Some(Functional {
                    can_download: d[2] & 1 != 0,
                    can_upload: d[2] & 2 != 0,
                    manifestation_tolerant: d[2] & 4 != 0,
                    will_detach: d[2] & 8 != 0,
                    detach_timeout_ms: u16::from_le_bytes([d[3], d[4]]),
                    transfer_size: u16::from_le_bytes([d[5], d[6]]),
                    dfu_version: u16::from_le_bytes([d[7], d[8]]),
                });
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    None
}

impl UsbAlt {
    /// A DFU interface (runtime or DFU mode).
    pub fn is_dfu(&self) -> bool {
        self.class == DFU_CLASS && self.subclass == DFU_SUBCLASS
    }
}

/// The DFU alt setting to use: in DFU mode before runtime, alt `wanted` if given, else the
/// first whose memory map has a writable region (DfuSe "Internal Flash"), else the first.
pub fn choose_alt(alts: &[UsbAlt], wanted: Option<u8>) -> Option<&UsbAlt> {
    let dfu: Vec<&UsbAlt> = alts.iter().filter(|a| a.is_dfu()).collect();
    let mode = |p: u8| dfu.iter().copied().filter(move |a| a.protocol == p);
    let in_loader: Vec<&UsbAlt> = mode(PROTOCOL_DFU_MODE).collect();
    if in_loader.is_empty() {
        return mode(PROTOCOL_RUNTIME).next().or(dfu.first().copied());
    }
    if let Some(w) = wanted {
        return in_loader.into_iter().find(|a| a.alt == w);
    }
    let writable = in_loader
        .iter()
        .copied()
        .find(|a| MemoryMap::parse(&a.name).is_some_and(|m| m.segments.iter().any(|s| s.writable)));
    writable.or(in_loader.first().copied())
}

/// One run of equal pages in a DfuSe memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemSegment {
    /// First address.
    pub start: u32,
    /// One past the last address.
    pub end: u32,
    /// Page (sector) size.
    pub page: u32,
    /// Readable (UPLOAD).
    pub readable: bool,
    /// Erasable.
    pub erasable: bool,
    /// Writable (DNLOAD).
    pub writable: bool,
}

/// A DfuSe memory map: `@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryMap {
    /// The memory's name (`Internal Flash`).
    pub name: String,
    /// Its page runs, in address order.
    pub segments: Vec<MemSegment>,
}

impl MemoryMap {
    /// Read a map from an alt setting's name; `None` when it is not one.
    pub fn parse(text: &str) -> Option<MemoryMap> {
        let body = text.trim().strip_prefix('@')?;
        let mut parts = body.split('/');
        let name = parts.next()?.trim().to_string();
        let mut segments = Vec::new();
        // Blocks come in pairs: an address, then its page runs.
        while let (Some(addr), Some(runs)) = (parts.next(), parts.next()) {
            let addr = addr.trim();
            let hex = addr
                .strip_prefix("0x")
                .or_else(|| addr.strip_prefix("0X"))?;
            let mut start = u32::from_str_radix(hex, 16).ok()?;
            for run in runs.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let (count, rest) = run.split_once('*')?;
                let count: u32 = count.trim().parse().ok()?;
                let rest = rest.trim_start();
                let digits = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let size: u32 = rest[..digits].parse().ok()?;
                let tail: Vec<char> = rest[digits..].chars().collect();
                let (unit, kind) = match tail.as_slice() {
                    [k] => (' ', *k),
                    [u, k] => (*u, *k),
                    _ => return None,
                };
                let mult = match unit {
                    'K' => 1024,
                    'M' => 1024 * 1024,
                    ' ' | 'B' => 1,
                    _ => return None,
                };
                let page = size.checked_mul(mult)?;
                let bits = (kind as u32).checked_sub('a' as u32).filter(|b| *b < 7)? + 1;
                let end = start.checked_add(count.checked_mul(page)?)?;
                segments.push(MemSegment {
                    start,
                    end,
                    page,
                    readable: bits & 1 != 0,
                    erasable: bits & 2 != 0,
                    writable: bits & 4 != 0,
                });
                start = end;
            }
        }
        (!segments.is_empty()).then_some(MemoryMap { name, segments })
    }

    /// The segment holding `address`.
    pub fn segment_at(&self, address: u32) -> Option<&MemSegment> {
        self.segments
            .iter()
            .find(|s| (s.start..s.end).contains(&address))
    }

    /// The first writable address.
    pub fn first_writable(&self) -> Option<u32> {
        self.segments.iter().find(|s| s.writable).map(|s| s.start)
    }

    /// The start of every page that `[start, start + len)` touches, or the first address
    /// outside the map or not writable.
    pub fn pages_for(&self, start: u32, len: u32) -> Result<Vec<u32>, u32> {
        let mut pages = Vec::new();
        let end = start as u64 + len as u64;
        let mut at = start;
        while (at as u64) < end {
            let seg = self.segment_at(at).filter(|s| s.writable).ok_or(at)?;
            let page = seg.start + (at - seg.start) / seg.page * seg.page;
            if seg.erasable && pages.last() != Some(&page) {
                pages.push(page);
            }
            match page.checked_add(seg.page) {
                Some(next) => at = next,
                None => break,
            }
        }
        Ok(pages)
    }

    /// True when `[start, start + len)` lies in readable memory.
    pub fn readable(&self, start: u32, len: u32) -> bool {
        let end = start as u64 + len as u64;
        let mut at = start as u64;
        while at < end {
            match self.segment_at(at as u32) {
                Some(s) if s.readable => at = s.end as u64,
                _ => return false,
            }
        }
        true
    }
}
