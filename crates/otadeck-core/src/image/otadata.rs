//! The ESP-IDF otadata partition: two `esp_ota_select_entry_t` copies, at 0 and 0x1000.
//!
//! Entry: `ota_seq` u32, `seq_label[20]`, `ota_state` u32, `crc` u32 where
//! `crc = crc32_le(UINT32_MAX, &ota_seq, 4)` (zlib's `crc32(seq_le, 0xFFFFFFFF)`). The valid
//! entry with the higher `ota_seq` is active and boots slot `(seq - 1) % ota_app_count`
//! (`bootloader_common_get_active_otadata`, `esp_ota_get_boot_partition`).

use crc::{Algorithm, Crc};
use serde::Serialize;

use super::util::{array, hex, row, u32_le, Truncated};

/// Bytes of the otadata partition.
pub const OTADATA_LEN: usize = 0x2000;
/// Offset of the second copy (one flash sector per copy).
pub const SECTOR_LEN: usize = 0x1000;
/// Bytes of one `esp_ota_select_entry_t`.
pub const ENTRY_LEN: usize = 32;

/// CRC-32 (reflected, polynomial 0x04C11DB7) with a zero register and a final inversion: what
/// `crc32_le(UINT32_MAX, ...)` and zlib's `crc32(data, 0xFFFFFFFF)` compute.
static SELECT_CRC: Crc<u32> = Crc::<u32>::new(&Algorithm {
    width: 32,
    poly: 0x04C1_1DB7,
    init: 0x0000_0000,
    refin: true,
    refout: true,
    xorout: 0xFFFF_FFFF,
    check: 0xD202_D277,
    residue: 0xDEBB_20E3,
});

/// The CRC an entry stores for `seq`.
pub fn select_crc(seq: u32) -> u32 {
    SELECT_CRC.checksum(&seq.to_le_bytes())
}

/// Why otadata could not be read or produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtadataError {
    /// The data ends before an entry.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// The target slot is not below the number of OTA app partitions.
    #[error("OTA slot {slot} does not exist with {count} OTA app partitions")]
    NoSuchSlot { slot: u8, count: u8 },
    /// No sequence number below 0xFFFFFFFF selects the slot.
    #[error("sequence number overflow selecting OTA slot {slot}")]
    SeqOverflow { slot: u8 },
}

/// `esp_ota_img_states_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtaState {
    /// 0: just written; the bootloader makes it PENDING_VERIFY on first boot.
    New,
    /// 1: booted once, not yet confirmed; rolled back (ABORTED) at the next boot.
    PendingVerify,
    /// 2: confirmed by the app.
    Valid,
    /// 3: marked invalid; not bootable.
    Invalid,
    /// 4: rolled back; not bootable.
    Aborted,
    /// 0xFFFFFFFF: bootable, used when rollback is disabled.
    Undefined,
    /// Any other value (bootable, as ESP-IDF treats it).
    Unknown(u32),
}

impl OtaState {
    /// The state of a raw `ota_state` word.
    pub fn from_raw(v: u32) -> Self {
        match v {
            0 => Self::New,
            1 => Self::PendingVerify,
            2 => Self::Valid,
            3 => Self::Invalid,
            4 => Self::Aborted,
            0xFFFF_FFFF => Self::Undefined,
            other => Self::Unknown(other),
        }
    }

    /// The raw word.
    pub fn raw(self) -> u32 {
        match self {
            Self::New => 0,
            Self::PendingVerify => 1,
            Self::Valid => 2,
            Self::Invalid => 3,
            Self::Aborted => 4,
            Self::Undefined => 0xFFFF_FFFF,
            Self::Unknown(v) => v,
        }
    }

    /// The name ESP-IDF's documentation uses.
    pub fn name(self) -> String {
        match self {
            Self::New => "new".into(),
            Self::PendingVerify => "pending verify".into(),
            Self::Valid => "valid".into(),
            Self::Invalid => "invalid".into(),
            Self::Aborted => "aborted".into(),
            Self::Undefined => "undefined".into(),
            Self::Unknown(v) => format!("unknown ({v:#x})"),
        }
    }
}

/// One `esp_ota_select_entry_t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectEntry {
    /// Offset in the partition (0 or 0x1000).
    pub offset: usize,
    /// `ota_seq`.
    pub seq: u32,
    /// `seq_label[20]`.
    pub seq_label: [u8; 20],
    /// `ota_state`.
    pub state: OtaState,
    /// `crc` as stored.
    pub crc: u32,
    /// `crc` computed from `seq`.
    pub computed_crc: u32,
}

impl SelectEntry {
    /// Parse the entry at `offset`.
    pub fn parse(data: &[u8], offset: usize) -> Result<Self, Truncated> {
        let seq = u32_le(data, offset, "ota_seq")?;
        Ok(Self {
            offset,
            seq,
            seq_label: array(data, offset + 4, "seq_label")?,
            state: OtaState::from_raw(u32_le(data, offset + 24, "ota_state")?),
            crc: u32_le(data, offset + 28, "crc")?,
            computed_crc: select_crc(seq),
        })
    }

    /// Erased (`ota_seq` 0xFFFFFFFF).
    pub fn is_blank(&self) -> bool {
        self.seq == u32::MAX
    }

    /// The stored CRC matches `seq`.
    pub fn crc_ok(&self) -> bool {
        self.crc == self.computed_crc
    }

    /// `bootloader_common_ota_select_valid`: not erased, CRC correct, not INVALID or ABORTED.
    pub fn is_valid(&self) -> bool {
        !self.is_blank()
            && self.crc_ok()
            && !matches!(self.state, OtaState::Invalid | OtaState::Aborted)
    }

    /// The 32 bytes of this entry.
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[..4].copy_from_slice(&self.seq.to_le_bytes());
        out[4..24].copy_from_slice(&self.seq_label);
        out[24..28].copy_from_slice(&self.state.raw().to_le_bytes());
        out[28..].copy_from_slice(&self.crc.to_le_bytes());
        out
    }
}

/// Which app the bootloader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BootTarget {
    /// OTA slot N (partition subtype ota_N).
    Ota(u8),
    /// No valid entry (or no OTA slots): the factory app, else ota_0, else the test app.
    Default,
}

/// Both copies of the otadata partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otadata {
    /// Entry 0 (offset 0) and entry 1 (offset 0x1000).
    pub entries: [SelectEntry; 2],
}

impl Serialize for SelectEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SelectEntry", 8)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("seq_label", &hex(&self.seq_label))?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("crc", &self.crc)?;
        st.serialize_field("computed_crc", &self.computed_crc)?;
        st.serialize_field("crc_ok", &self.crc_ok())?;
        st.serialize_field("valid", &self.is_valid())?;
        st.end()
    }
}

impl Serialize for Otadata {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Otadata", 2)?;
        st.serialize_field("entries", &self.entries)?;
        st.serialize_field("active", &self.active())?;
        st.end()
    }
}

/// Parse otadata (at least 0x1000 + 32 bytes; normally the whole 0x2000-byte partition).
pub fn parse(data: &[u8]) -> Result<Otadata, OtadataError> {
    Ok(Otadata {
        entries: [
            SelectEntry::parse(data, 0)?,
            SelectEntry::parse(data, SECTOR_LEN)?,
        ],
    })
}

/// True when `data` looks like an otadata partition: 0x2000 bytes, each sector one entry
/// followed by erased flash.
pub fn looks_like(data: &[u8]) -> bool {
    data.len() == OTADATA_LEN
        && [0, SECTOR_LEN].iter().all(|s| {
            data[s + ENTRY_LEN..s + SECTOR_LEN]
                .iter()
                .all(|&b| b == 0xFF)
        })
}

impl Otadata {
    /// Index (0 or 1) of the active entry: the valid one with the higher seq (entry 0 on a tie).
    pub fn active(&self) -> Option<usize> {
        let [a, b] = &self.entries;
        match (a.is_valid(), b.is_valid()) {
            (true, true) if b.seq > a.seq => Some(1),
            (true, _) => Some(0),
            (false, true) => Some(1),
            (false, false) => None,
        }
    }

    /// The app the bootloader selects when the partition table has `ota_app_count` OTA slots.
    pub fn boot_target(&self, ota_app_count: u8) -> BootTarget {
        match self.active() {
            Some(i) if ota_app_count > 0 => {
                let seq = self.entries[i].seq;
                BootTarget::Ota((seq.wrapping_sub(1) % u32::from(ota_app_count)) as u8)
            }
            _ => BootTarget::Default,
        }
    }

    /// The OTA state of each of `ota_app_count` slots, as `esp_ota_get_state_partition` finds
    /// it: the state of the written entry (not erased, CRC correct, whatever its state) whose
    /// sequence number selects the slot, the newer one when both do; `None` for a slot no entry
    /// selects.
    pub fn slot_states(&self, ota_app_count: u8) -> Vec<Option<OtaState>> {
        let mut states = vec![None; usize::from(ota_app_count)];
        if ota_app_count == 0 {
            return states;
        }
        let mut entries: Vec<&SelectEntry> = self
            .entries
            .iter()
            .filter(|e| !e.is_blank() && e.crc_ok())
            .collect();
        crate::order::sort_by_key(&mut entries, |e| e.seq);
        for e in entries {
            let slot = (e.seq.wrapping_sub(1) % u32::from(ota_app_count)) as usize;
            states[slot] = Some(e.state);
        }
        states
    }

    /// Label/value rows for a human summary; the boot slot is given for `ota_app_count` slots
    /// when known.
    pub fn summary_for(&self, ota_app_count: Option<u8>) -> Vec<(String, String)> {
        let mut rows = vec![row("Format", "ESP-IDF otadata")];
        for (i, e) in self.entries.iter().enumerate() {
            let v = if e.is_blank() {
                "erased".to_string()
            } else {
                format!(
                    "seq {}, state {}, crc {:#010x} ({}){}",
                    e.seq,
                    e.state.name(),
                    e.crc,
                    if e.crc_ok() { "valid" } else { "INVALID" },
                    if e.is_valid() { "" } else { ", not bootable" }
                )
            };
            rows.push(row(format!("Entry {i} at {:#x}", e.offset), v));
        }
        rows.push(row(
            "Active entry",
            self.active()
                .map_or("none (factory app boots)".into(), |i| i.to_string()),
        ));
        match ota_app_count {
            Some(n) => rows.push(row(
                format!("Boots (with {n} OTA slots)"),
                match self.boot_target(n) {
                    BootTarget::Ota(s) => format!("ota_{s}"),
                    BootTarget::Default => "factory (or ota_0 if none)".into(),
                },
            )),
            None => {
                if let Some(i) = self.active() {
                    let seq = self.entries[i].seq;
                    rows.push(row(
                        "Boots",
                        format!("ota_((seq {seq} - 1) mod OTA slot count)"),
                    ));
                }
            }
        }
        rows
    }

    /// Label/value rows for a human summary, without a partition table.
    pub fn summary(&self) -> Vec<(String, String)> {
        self.summary_for(None)
    }
}

/// `compute_ota_seq_for_target_slot`: the smallest seq ≥ `current` that selects `slot`.
pub fn seq_for_slot(current: u32, slot: u8, ota_app_count: u8) -> Result<u32, OtadataError> {
    if slot >= ota_app_count {
        return Err(OtadataError::NoSuchSlot {
            slot,
            count: ota_app_count,
        });
    }
    let n = u64::from(ota_app_count);
    let base = (u64::from(slot) + 1) % n;
    let current = u64::from(current);
    let i = current.saturating_sub(base).div_ceil(n);
    let seq = base + i * n;
    u32::try_from(seq)
        .ok()
        .filter(|s| *s != u32::MAX)
        .ok_or(OtadataError::SeqOverflow { slot })
}

/// The otadata partition after `esp_ota_set_boot_partition(ota_<slot>)`, as `esp_rewrite_ota_data`
/// writes it: the entry that is not active gets a seq selecting `slot` (or, when the active entry
/// already selects it, that entry is rewritten) with state NEW when `rollback` is enabled and
/// UNDEFINED otherwise; its sector is erased first. `current` is the partition as read (any
/// length; missing bytes read as erased flash). Returns 0x2000 bytes.
pub fn set_boot(
    current: &[u8],
    slot: u8,
    ota_app_count: u8,
    rollback: bool,
) -> Result<Vec<u8>, OtadataError> {
    let mut out = vec![0xFF; OTADATA_LEN];
    let n = current.len().min(OTADATA_LEN);
    out[..n].copy_from_slice(&current[..n]);
    if slot >= ota_app_count {
        return Err(OtadataError::NoSuchSlot {
            slot,
            count: ota_app_count,
        });
    }
    let od = parse(&out)?;
    let n = u32::from(ota_app_count);
    let (index, seq) = match od.active() {
        Some(a) if od.entries[a].seq.wrapping_sub(1) % n == u32::from(slot) => {
            (a, od.entries[a].seq)
        }
        Some(a) => (1 - a, seq_for_slot(od.entries[a].seq, slot, ota_app_count)?),
        None => (0, u32::from(slot) + 1),
    };
    let mut entry = od.entries[index].clone();
    entry.seq = seq;
    entry.state = if rollback {
        OtaState::New
    } else {
        OtaState::Undefined
    };
    entry.crc = select_crc(seq);
    let start = index * SECTOR_LEN;
    out[start..start + SECTOR_LEN].fill(0xFF);
    out[start..start + ENTRY_LEN].copy_from_slice(&entry.to_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_vectors_from_esp_idf() {
        assert_eq!(select_crc(1), 0x4743_989a);
        assert_eq!(select_crc(2), 0x55f6_3774);
    }

    #[test]
    fn seq_selection_matches_esp_idf_formula() {
        // (seq - 1) % n == slot, smallest such seq >= current.
        assert_eq!(seq_for_slot(0, 0, 2).unwrap(), 1);
        assert_eq!(seq_for_slot(1, 1, 2).unwrap(), 2);
        assert_eq!(seq_for_slot(2, 0, 2).unwrap(), 3);
        assert_eq!(seq_for_slot(5, 7, 8).unwrap(), 8);
        assert_eq!(seq_for_slot(9, 7, 8).unwrap(), 16);
        assert!(seq_for_slot(0, 2, 2).is_err());
        assert!(seq_for_slot(u32::MAX - 1, 0, 3).is_err());
    }
}
