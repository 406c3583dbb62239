//! DFU files: the 16-byte DFU suffix (DFU 1.1 appendix B) and ST's DfuSe container (UM0391).
//!
//! Suffix, at the end of the file: `bcdDevice u16, idProduct u16, idVendor u16, bcdDFU u16,
//! "UFD", bLength u8 (16), dwCRC u32`, where dwCRC is the CRC-32 of everything before it without
//! the final inversion (`~zlib.crc32`, i.e. CRC-32/JAMCRC). DfuSe: prefix `"DfuSe", bVersion,
//! DFUImageSize u32, bTargets`; targets `"Target", bAlternateSetting, bTargetNamed u32,
//! szTargetName[255], dwTargetSize u32, dwNbElements u32`; elements `dwElementAddress,
//! dwElementSize` and data. Layouts as `pydfu.py` and `dfuse-pack` read and write them.

use crc::{Crc, CRC_32_JAMCRC};
use serde::Serialize;

use super::util::{c_string, row, take, u32_le, u8_at, Truncated};

/// Bytes of the standard suffix.
pub const SUFFIX_LEN: usize = 16;
/// Bytes of the DfuSe prefix.
pub const PREFIX_LEN: usize = 11;
/// Bytes of a DfuSe target prefix.
pub const TARGET_PREFIX_LEN: usize = 274;

static DFU_CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_JAMCRC);

/// Why a DFU file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DfuError {
    /// The data ends before a field.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// No "UFD" signature where the suffix must be.
    #[error("no DFU suffix: signature at offset {offset} is {found:02x?}, expected \"UFD\"")]
    NoSuffix { offset: usize, found: [u8; 3] },
    /// `bLength` is below 16 or beyond the file.
    #[error("DFU suffix bLength {len} at offset {offset} is invalid for a {file_len}-byte file")]
    SuffixLength {
        offset: usize,
        len: u8,
        file_len: usize,
    },
    /// The suffix CRC does not match.
    #[error(
        "DFU suffix CRC at offset {offset} is {stored:#010x}, the file gives {computed:#010x}"
    )]
    Crc {
        offset: usize,
        stored: u32,
        computed: u32,
    },
    /// The file does not start with "DfuSe".
    #[error("no DfuSe prefix at offset 0")]
    NoPrefix,
    /// A target does not start with "Target".
    #[error("target {index} at offset {offset} has no \"Target\" signature")]
    BadTarget { index: usize, offset: usize },
    /// A size field disagrees with the data it describes.
    #[error("{field} at offset {offset} is {stated}, the data gives {actual}")]
    SizeMismatch {
        field: &'static str,
        offset: usize,
        stated: u64,
        actual: u64,
    },
}

/// The DFU suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suffix {
    /// Offset of the suffix.
    pub offset: usize,
    /// `bcdDevice` (0xFFFF: any).
    pub bcd_device: u16,
    /// `idProduct`.
    pub product_id: u16,
    /// `idVendor`.
    pub vendor_id: u16,
    /// `bcdDFU` (0x0100 DFU 1.0/1.1, 0x011A DfuSe).
    pub bcd_dfu: u16,
    /// `bLength`.
    pub len: u8,
    /// `dwCRC` as stored.
    pub crc: u32,
    /// CRC of the bytes before `dwCRC`.
    pub computed_crc: u32,
}

impl Suffix {
    /// True when the CRC matches.
    pub fn crc_ok(&self) -> bool {
        self.crc == self.computed_crc
    }
}

/// A file that carries only a DFU suffix: the payload is written as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DfuFile {
    /// Bytes before the suffix.
    pub payload_len: usize,
    /// The suffix.
    pub suffix: Suffix,
}

/// One element of a DfuSe target: data for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Element {
    /// `dwElementAddress`.
    pub address: u32,
    /// `dwElementSize`.
    pub size: u32,
    /// Offset of the element's data in the file.
    pub data_offset: usize,
}

/// One DfuSe target (an alternate setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// `bAlternateSetting`.
    pub alt: u8,
    /// `bTargetNamed` is set.
    pub named: bool,
    /// `szTargetName`.
    pub name: String,
    /// Offset of the target prefix.
    pub offset: usize,
    /// `dwTargetSize`.
    pub size: u32,
    /// The elements.
    pub elements: Vec<Element>,
}

/// A DfuSe file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DfuSeFile {
    /// `bVersion`.
    pub version: u8,
    /// `DFUImageSize` (the whole file for dfuse-pack, the file less its suffix for pydfu).
    pub image_size: u32,
    /// The targets.
    pub targets: Vec<Target>,
    /// The suffix.
    pub suffix: Suffix,
}

/// Read the suffix at the end of `data`, checking `UFD`, `bLength` and computing the CRC.
pub fn parse_suffix(data: &[u8]) -> Result<Suffix, DfuError> {
    let offset = data.len().checked_sub(SUFFIX_LEN).ok_or(Truncated {
        field: "DFU suffix",
        offset: 0,
        needed: SUFFIX_LEN,
        available: data.len(),
    })?;
    let s = &data[offset..];
    if &s[8..11] != b"UFD" {
        return Err(DfuError::NoSuffix {
            offset: offset + 8,
            found: [s[8], s[9], s[10]],
        });
    }
    let len = s[11];
    if usize::from(len) < SUFFIX_LEN || usize::from(len) > data.len() {
        return Err(DfuError::SuffixLength {
            offset: offset + 11,
            len,
            file_len: data.len(),
        });
    }
    Ok(Suffix {
        offset: data.len() - usize::from(len),
        bcd_device: u16::from_le_bytes([s[0], s[1]]),
        product_id: u16::from_le_bytes([s[2], s[3]]),
        vendor_id: u16::from_le_bytes([s[4], s[5]]),
        bcd_dfu: u16::from_le_bytes([s[6], s[7]]),
        len,
        crc: u32::from_le_bytes([s[12], s[13], s[14], s[15]]),
        computed_crc: DFU_CRC.checksum(&data[..data.len() - 4]),
    })
}

/// True when `data` ends with something shaped like a DFU suffix.
pub fn has_suffix(data: &[u8]) -> bool {
    parse_suffix(data).is_ok()
}

/// Parse a file that carries a DFU suffix only (not checked: see [`Suffix::crc_ok`]).
pub fn parse_dfu(data: &[u8]) -> Result<DfuFile, DfuError> {
    let suffix = parse_suffix(data)?;
    Ok(DfuFile {
        payload_len: suffix.offset,
        suffix,
    })
}

/// Parse a DfuSe file: prefix, targets, elements, suffix (the CRC is computed, see
/// [`DfuSeFile::check`]).
pub fn parse_dfuse(data: &[u8]) -> Result<DfuSeFile, DfuError> {
    if take(data, 0, 5, "DfuSe prefix")? != b"DfuSe" {
        return Err(DfuError::NoPrefix);
    }
    let suffix = parse_suffix(data)?;
    let body = &data[..suffix.offset];
    let version = u8_at(body, 5, "bVersion")?;
    let image_size = u32_le(body, 6, "DFUImageSize")?;
    let count = u8_at(body, 10, "bTargets")?;
    // dfuse-pack counts the suffix in DFUImageSize, pydfu does not: accept both.
    if u64::from(image_size) != body.len() as u64 && u64::from(image_size) != data.len() as u64 {
        return Err(DfuError::SizeMismatch {
            field: "DFUImageSize",
            offset: 6,
            stated: image_size.into(),
            actual: body.len() as u64,
        });
    }
    let mut targets = Vec::with_capacity(usize::from(count));
    let mut at = PREFIX_LEN;
    for index in 0..usize::from(count) {
        let p = take(body, at, TARGET_PREFIX_LEN, "target prefix")?;
        if &p[..6] != b"Target" {
            return Err(DfuError::BadTarget { index, offset: at });
        }
        let size = u32::from_le_bytes([p[266], p[267], p[268], p[269]]);
        let n = u32::from_le_bytes([p[270], p[271], p[272], p[273]]);
        let target_offset = at;
        let target_end = at + TARGET_PREFIX_LEN;
        take(body, target_end, size as usize, "target elements")?;
        at = target_end;
        let mut elements = Vec::new();
        for _ in 0..n {
            let address = u32_le(body, at, "dwElementAddress")?;
            let esize = u32_le(body, at + 4, "dwElementSize")?;
            take(body, at + 8, esize as usize, "element data")?;
            elements.push(Element {
                address,
                size: esize,
                data_offset: at + 8,
            });
            at += 8 + esize as usize;
        }
        let actual = (at - target_end) as u64;
        if actual != u64::from(size) {
            return Err(DfuError::SizeMismatch {
                field: "dwTargetSize",
                offset: target_offset + 266,
                stated: size.into(),
                actual,
            });
        }
        targets.push(Target {
            alt: p[6],
            named: u32::from_le_bytes([p[7], p[8], p[9], p[10]]) != 0,
            name: c_string(&p[11..266]),
            offset: target_offset,
            size,
            elements,
        });
    }
    if at != body.len() {
        return Err(DfuError::SizeMismatch {
            field: "bTargets",
            offset: 10,
            stated: at as u64,
            actual: body.len() as u64,
        });
    }
    Ok(DfuSeFile {
        version,
        image_size,
        targets,
        suffix,
    })
}

fn check_suffix(s: &Suffix) -> Result<(), DfuError> {
    if s.crc_ok() {
        Ok(())
    } else {
        Err(DfuError::Crc {
            offset: s.offset + usize::from(s.len) - 4,
            stored: s.crc,
            computed: s.computed_crc,
        })
    }
}

fn suffix_rows(s: &Suffix, rows: &mut Vec<(String, String)>) {
    rows.push(row(
        "Device",
        format!(
            "{:04x}:{:04x} bcdDevice {:#06x}",
            s.vendor_id, s.product_id, s.bcd_device
        ),
    ));
    rows.push(row("DFU version", format!("{:#06x}", s.bcd_dfu)));
    rows.push(row(
        "Suffix CRC",
        super::util::check_text(
            s.crc_ok(),
            &format!("{:#010x}", s.crc),
            &format!("{:#010x}", s.computed_crc),
        ),
    ));
}

impl DfuFile {
    /// The suffix CRC matches.
    pub fn check(&self) -> Result<(), DfuError> {
        check_suffix(&self.suffix)
    }

    /// Label/value rows for a human summary.
    pub fn summary(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            row("Format", "DFU file (suffix only)"),
            row("Payload", format!("{} bytes", self.payload_len)),
        ];
        suffix_rows(&self.suffix, &mut rows);
        rows
    }
}

impl DfuSeFile {
    /// The suffix CRC matches.
    pub fn check(&self) -> Result<(), DfuError> {
        check_suffix(&self.suffix)
    }

    /// Label/value rows for a human summary.
    pub fn summary(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            row("Format", format!("DfuSe file, version {}", self.version)),
            row("Targets", self.targets.len().to_string()),
        ];
        for (i, t) in self.targets.iter().enumerate() {
            let name = if t.named {
                format!(" {:?}", t.name)
            } else {
                String::new()
            };
            rows.push(row(
                format!("Target {i}"),
                format!(
                    "alt {}{name}, {} elements, {} bytes",
                    t.alt,
                    t.elements.len(),
                    t.size
                ),
            ));
            for (j, e) in t.elements.iter().enumerate() {
                rows.push(row(
                    format!("Target {i} element {j}"),
                    format!("{:#010x}, {} bytes", e.address, e.size),
                ));
            }
        }
        suffix_rows(&self.suffix, &mut rows);
        rows
    }
}
