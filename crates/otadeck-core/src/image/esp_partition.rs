//! The ESP-IDF partition table binary (flash offset 0x8000 by default).
//!
//! 32-byte entries `{magic 0xAA50, type, subtype, offset u32, size u32, label[16], flags u32}`, an
//! optional MD5 entry (`EB EB`, 14 × `FF`, MD5 of every entry before it) and an end marker whose
//! magic, type and subtype are `FF`. Rules as the bootloader's `esp_partition_table_verify` and
//! `gen_esp32part.py` apply them; at most 0xC00 bytes (96 entries) are read.

use md5::{Digest, Md5};
use serde::Serialize;

use super::util::{c_string, check_text, hex, row, ser_hex, take, Truncated};

/// Entry magic, as the first two bytes.
pub const ENTRY_MAGIC: [u8; 2] = [0xAA, 0x50];
/// MD5 entry magic, as the first two bytes.
pub const MD5_MAGIC: [u8; 2] = [0xEB, 0xEB];
/// Bytes of one entry.
pub const ENTRY_LEN: usize = 32;
/// Most bytes a table may occupy (the rest of its 4 KiB sector is for a signature).
pub const MAX_TABLE_LEN: usize = 0xC00;

/// Why a partition table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionTableError {
    /// The data ends inside the table.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// An entry that is neither a partition, the MD5 entry nor the end marker.
    #[error("entry {index} at offset {offset:#x} has magic {found:02x?}, expected aa 50, eb eb or the ff end marker")]
    BadMagic {
        index: usize,
        offset: usize,
        found: [u8; 2],
    },
    /// 96 entries were read without an end marker.
    #[error("no end marker within the first {MAX_TABLE_LEN:#x} bytes")]
    NoEndMarker,
    /// The MD5 entry does not match the entries before it.
    #[error("MD5 entry at offset {offset:#x} does not match the entries before it")]
    Md5Mismatch { offset: usize },
    /// Two partitions share bytes: writing one would destroy the other.
    #[error("partition {second:?} overlaps partition {first:?}")]
    Overlap { first: String, second: String },
    /// A partition runs past the end of the 4 GiB address space.
    #[error("partition {label:?} at {offset:#x} ({size:#x} bytes) runs past the end of the address space")]
    Wraps {
        label: String,
        offset: u32,
        size: u32,
    },
    /// Two partitions have the same label.
    #[error("label {label:?} is used twice")]
    DuplicateLabel { label: String },
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// `label` (up to 16 bytes).
    pub label: String,
    /// `type` byte.
    pub kind: u8,
    /// `subtype` byte.
    pub subtype: u8,
    /// Name of the type ("app", "data", ...) or its hex value.
    pub type_name: String,
    /// Name of the subtype ("factory", "ota_0", "nvs", ...) or its hex value.
    pub subtype_name: String,
    /// Flash offset.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// `flags` word.
    pub flags: u32,
    /// Flag names (`encrypted`, `readonly`).
    pub flag_names: Vec<&'static str>,
    /// Where the entry is in the table.
    pub entry_offset: usize,
}

/// The MD5 entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Md5Entry {
    /// Offset of the entry.
    pub offset: usize,
    /// The digest it carries.
    #[serde(serialize_with = "ser_hex")]
    pub stored: [u8; 16],
    /// MD5 of the entries before it.
    #[serde(serialize_with = "ser_hex")]
    pub computed: [u8; 16],
}

impl Md5Entry {
    /// True when the digest matches.
    pub fn ok(&self) -> bool {
        self.stored == self.computed
    }
}

/// A parsed partition table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionTable {
    /// The partitions, in table order.
    pub partitions: Vec<Partition>,
    /// The MD5 entry, if the table has one.
    pub md5: Option<Md5Entry>,
    /// Offset of the end marker.
    pub end_offset: usize,
    /// Things the ESP-IDF tools warn about (alignment, otadata size); what they refuse is an
    /// error of [`PartitionTable::check`].
    pub warnings: Vec<String>,
}

/// The name of a partition type.
pub fn type_name(kind: u8) -> String {
    match kind {
        0x00 => "app".into(),
        0x01 => "data".into(),
        0x02 => "bootloader".into(),
        0x03 => "partition_table".into(),
        other => format!("{other:#04x}"),
    }
}

/// The name of a subtype of `kind`, as `gen_esp32part.py` writes it.
pub fn subtype_name(kind: u8, subtype: u8) -> String {
    let name = match (kind, subtype) {
        (0x00, 0x00) => "factory",
        (0x00, s @ 0x10..=0x1F) => return format!("ota_{}", s - 0x10),
        (0x00, 0x20) => "test",
        (0x00, s @ 0x30..=0x31) => return format!("tee_{}", s - 0x30),
        (0x01, 0x00) => "ota",
        (0x01, 0x01) => "phy",
        (0x01, 0x02) => "nvs",
        (0x01, 0x03) => "coredump",
        (0x01, 0x04) => "nvs_keys",
        (0x01, 0x05) => "efuse",
        (0x01, 0x06) => "undefined",
        (0x01, 0x80) => "esphttpd",
        (0x01, 0x81) => "fat",
        (0x01, 0x82) => "spiffs",
        (0x01, 0x83) => "littlefs",
        (0x01, 0x90) => "tee_ota",
        (0x02 | 0x03, 0x00) => "primary",
        (0x02 | 0x03, 0x01) => "ota",
        (0x02, 0x02) => "recovery",
        _ => return format!("{subtype:#04x}"),
    };
    name.into()
}

/// Parse a partition table from the start of `data` (the table alone, its 4 KiB sector, or more).
pub fn parse(data: &[u8]) -> Result<PartitionTable, PartitionTableError> {
    let mut partitions = Vec::new();
    let mut md5 = None;
    let mut hasher = Md5::new();
    for index in 0..MAX_TABLE_LEN / ENTRY_LEN {
        let offset = index * ENTRY_LEN;
        let e = take(data, offset, ENTRY_LEN, "partition table entry")?;
        match [e[0], e[1]] {
            ENTRY_MAGIC => {
                hasher.update(e);
                partitions.push(entry(e, offset));
            }
            MD5_MAGIC => {
                let mut stored = [0u8; 16];
                stored.copy_from_slice(&e[16..32]);
                md5 = Some(Md5Entry {
                    offset,
                    stored,
                    computed: hasher.clone().finalize().into(),
                });
            }
            [0xFF, 0xFF] if e[2] == 0xFF && e[3] == 0xFF => {
                let mut table = PartitionTable {
                    partitions,
                    md5,
                    end_offset: offset,
                    warnings: Vec::new(),
                };
                table.warnings = table.lint();
                return Ok(table);
            }
            found => {
                return Err(PartitionTableError::BadMagic {
                    index,
                    offset,
                    found,
                })
            }
        }
    }
    Err(PartitionTableError::NoEndMarker)
}

fn entry(e: &[u8], entry_offset: usize) -> Partition {
    let word = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
    let flags = word(28);
    let mut flag_names = Vec::new();
    if flags & 1 != 0 {
        flag_names.push("encrypted");
    }
    if flags & 2 != 0 {
        flag_names.push("readonly");
    }
    Partition {
        label: c_string(&e[12..28]),
        kind: e[2],
        subtype: e[3],
        type_name: type_name(e[2]),
        subtype_name: subtype_name(e[2], e[3]),
        offset: word(4),
        size: word(8),
        flags,
        flag_names,
        entry_offset,
    }
}

impl PartitionTable {
    /// The MD5 entry, when present, matches; no partition wraps, overlaps another or reuses a
    /// label (ESP-IDF's `gen_esp32part.py` refuses such a table).
    pub fn check(&self) -> Result<(), PartitionTableError> {
        if let Some(m) = self.md5.as_ref().filter(|m| !m.ok()) {
            return Err(PartitionTableError::Md5Mismatch { offset: m.offset });
        }
        for (i, p) in self.partitions.iter().enumerate() {
            if p.offset.checked_add(p.size).is_none() {
                return Err(PartitionTableError::Wraps {
                    label: p.label.clone(),
                    offset: p.offset,
                    size: p.size,
                });
            }
            if self.partitions[..i].iter().any(|q| q.label == p.label) {
                return Err(PartitionTableError::DuplicateLabel {
                    label: p.label.clone(),
                });
            }
        }
        let mut sorted: Vec<&Partition> = self.partitions.iter().collect();
        crate::order::sort_by_key(&mut sorted, |p| p.offset);
        for pair in sorted.windows(2) {
            if pair[1].offset < pair[0].offset + pair[0].size {
                return Err(PartitionTableError::Overlap {
                    first: pair[0].label.clone(),
                    second: pair[1].label.clone(),
                });
            }
        }
        Ok(())
    }

    /// The partition with this label.
    pub fn find(&self, label: &str) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.label == label)
    }

    /// The otadata partition (data/ota).
    pub fn otadata(&self) -> Option<&Partition> {
        self.partitions
            .iter()
            .find(|p| p.kind == 1 && p.subtype == 0)
    }

    /// The app partition of OTA slot `slot` (subtype ota_N).
    pub fn ota_slot(&self, slot: u8) -> Option<&Partition> {
        let subtype = 0x10u8.checked_add(slot).filter(|s| *s <= 0x1F)?;
        self.partitions
            .iter()
            .find(|p| p.kind == 0 && p.subtype == subtype)
    }

    /// Number of OTA app slots as ESP-IDF counts them: ota_0, ota_1, ... up to the first missing.
    pub fn ota_app_count(&self) -> u8 {
        (0..16u8)
            .take_while(|s| self.ota_slot(*s).is_some())
            .count() as u8
    }

    fn lint(&self) -> Vec<String> {
        let mut w = Vec::new();
        for p in &self.partitions {
            if p.kind == 0 && p.offset % 0x10000 != 0 {
                w.push(format!("app partition {:?} is not 64 KiB aligned", p.label));
            }
        }
        let otadata: Vec<_> = self
            .partitions
            .iter()
            .filter(|p| p.kind == 1 && p.subtype == 0)
            .collect();
        if otadata.len() > 1 {
            w.push("more than one otadata partition".into());
        }
        if let Some(p) = otadata.first().filter(|p| p.size != 0x2000) {
            w.push(format!(
                "otadata partition {:?} is {:#x} bytes, not 0x2000",
                p.label, p.size
            ));
        }
        w
    }

    /// Label/value rows for a human summary.
    pub fn summary(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            row("Format", "ESP-IDF partition table"),
            row("Partitions", self.partitions.len().to_string()),
        ];
        for p in &self.partitions {
            let mut v = format!(
                "{}/{} at {:#x}, {:#x} bytes",
                p.type_name, p.subtype_name, p.offset, p.size
            );
            if !p.flag_names.is_empty() {
                v.push_str(&format!(" [{}]", p.flag_names.join(":")));
            }
            rows.push(row(p.label.clone(), v));
        }
        rows.push(row(
            "MD5",
            match &self.md5 {
                Some(m) => check_text(m.ok(), &hex(&m.stored), &hex(&m.computed)),
                None => "no MD5 entry".into(),
            },
        ));
        rows.push(row("OTA app slots", self.ota_app_count().to_string()));
        for w in &self.warnings {
            rows.push(row("Warning", w.clone()));
        }
        rows
    }
}

/// Build a partition table (entries `(type, subtype, offset, size, label)`, flags 0) with its MD5
/// entry, padded with erased flash to [`MAX_TABLE_LEN`]: for simulators and tests.
pub fn build_table(entries: &[(u8, u8, u32, u32, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, s, off, size, label) in entries {
        let mut e = vec![0xAA, 0x50, *t, *s];
        e.extend_from_slice(&off.to_le_bytes());
        e.extend_from_slice(&size.to_le_bytes());
        let mut l = [0u8; 16];
        let n = label.len().min(15);
        l[..n].copy_from_slice(&label.as_bytes()[..n]);
        e.extend_from_slice(&l);
        e.extend_from_slice(&0u32.to_le_bytes());
        out.extend(e);
    }
    let digest: [u8; 16] = Md5::digest(&out).into();
    out.extend_from_slice(&MD5_MAGIC);
    out.extend_from_slice(&[0xFF; 14]);
    out.extend_from_slice(&digest);
    out.resize(MAX_TABLE_LEN, 0xFF);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_slots_and_md5() {
        let t = build_table(&[
            (1, 2, 0x9000, 0x4000, "nvs"),
            (1, 0, 0xd000, 0x2000, "otadata"),
            (0, 0x10, 0x10000, 0x100000, "ota_0"),
            (0, 0x11, 0x110000, 0x100000, "ota_1"),
        ]);
        let p = parse(&t).unwrap();
        p.check().unwrap();
        assert_eq!(p.ota_app_count(), 2);
        assert_eq!(p.partitions[0].subtype_name, "nvs");
        assert_eq!(p.partitions[3].subtype_name, "ota_1");
        assert_eq!(p.otadata().unwrap().label, "otadata");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let mut bad = t.clone();
        bad[40] ^= 1;
        assert_eq!(
            parse(&bad).unwrap().check(),
            Err(PartitionTableError::Md5Mismatch { offset: 128 })
        );
    }
}
