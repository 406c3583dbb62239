//! The ESP32 A/B state read straight from flash, with no help from the firmware: the partition
//! table at 0x8000, the two otadata select entries and each OTA slot's app descriptor, turned into
//! the [`PartitionState`] technicians see.

use crate::image::esp::{self, AppDescriptor};
use crate::image::esp_partition::PartitionTable;
use crate::image::otadata::{self, BootTarget, OTADATA_LEN, SECTOR_LEN};
use crate::partition_state::{PartitionState, Slot, SlotBuild, SlotExtent, SlotState};

/// Where the partition table lives.
pub const TABLE_OFFSET: u32 = 0x8000;
/// Bytes read from the start of a slot: the image header, the first segment header and the app
/// descriptor.
pub const HEAD_LEN: usize = esp::APP_DESC_OFFSET + esp::APP_DESC_LEN;

/// The otadata partition as far as it was read: both entries, the rest taken as erased.
pub fn otadata_from_entries(entry0: &[u8], entry1: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF; OTADATA_LEN];
    let n0 = entry0.len().min(otadata::ENTRY_LEN);
    out[..n0].copy_from_slice(&entry0[..n0]);
    let n1 = entry1.len().min(otadata::ENTRY_LEN);
    out[SECTOR_LEN..SECTOR_LEN + n1].copy_from_slice(&entry1[..n1]);
    out
}

/// The descriptor in a slot's first bytes, when the slot starts with an app image.
pub fn descriptor(head: &[u8]) -> Option<AppDescriptor> {
    if head.first() != Some(&esp::IMAGE_MAGIC) {
        return None;
    }
    esp::app_descriptor(head)
}

/// The label of the app the bootloader starts, given the table and the otadata bytes.
pub fn boot_label(table: &PartitionTable, otadata_bytes: Option<&[u8]>) -> String {
    let count = table.ota_app_count();
    let target = otadata_bytes
        .and_then(|b| otadata::parse(b).ok())
        .map(|o| o.boot_target(count))
        .unwrap_or(BootTarget::Default);
    let part = match target {
        BootTarget::Ota(n) => table.ota_slot(n),
        BootTarget::Default => table
            .partitions
            .iter()
            .find(|p| p.kind == 0 && p.subtype == 0)
            .or_else(|| table.ota_slot(0)),
    };
    part.map(|p| p.label.clone()).unwrap_or_default()
}

/// The partition state. `heads` holds the first bytes of each app partition, in table order;
/// `problems` what is wrong with the image of a slot, by label; `image_lens` the length of each
/// whole image walked to its end, by label.
/// Without firmware help the running slot is the one the bootloader selects.
pub fn partition_state(
    table: &PartitionTable,
    otadata_bytes: Option<&[u8]>,
    heads: &[(String, Vec<u8>)],
    problems: &[(String, String)],
    image_lens: &[(String, u32)],
) -> PartitionState {
    let count = table.ota_app_count();
    let states = otadata_bytes
        .and_then(|b| otadata::parse(b).ok())
        .map(|o| o.slot_states(count))
        .unwrap_or_else(|| vec![None; usize::from(count)]);
    let boot = boot_label(table, otadata_bytes);
    let slots = table
        .partitions
        .iter()
        .filter(|p| p.kind == 0)
        .map(|p| {
            let ota_index = p.subtype.checked_sub(0x10).filter(|i| *i < count);
            let state = ota_index.map(|i| {
                states[usize::from(i)]
                    .map(SlotState::from)
                    .unwrap_or(SlotState::Undefined)
            });
            let build = heads
                .iter()
                .find(|(l, _)| *l == p.label)
                .and_then(|(_, h)| descriptor(h))
                .map(|d| SlotBuild::from(&d));
            Slot {
                label: p.label.clone(),
                state,
                build,
                problem: problems
                    .iter()
                    .find(|(l, _)| *l == p.label)
                    .map(|(_, problem)| problem.clone()),
                extent: Some(SlotExtent {
                    offset: p.offset,
                    size: p.size,
                    image_len: image_lens
                        .iter()
                        .find(|(l, _)| *l == p.label)
                        .map(|(_, len)| *len),
                }),
            }
        })
        .collect();
    PartitionState {
        running: boot.clone(),
        next_boot: boot,
        slots,
    }
}

/// Bytes of the partition table worth reading: up to and including the first entry that is
/// neither a partition nor the MD5 entry (erased flash ends the table).
pub fn table_complete(read: &[u8]) -> bool {
    read.chunks(32)
        .any(|e| e.len() == 32 && e[..2] != [0xAA, 0x50] && e[..2] != [0xEB, 0xEB])
}

/// Checks a partition table the module holds against the flash: every partition lies inside
/// `flash_size` bytes and otadata holds its two sectors. Gives the reason, naming the partition
/// and its offset, when it does not (a damaged table: offsets from it would run off the flash).
pub fn check_table(table: &PartitionTable, flash_size: u32) -> Result<(), TableError> {
    for p in &table.partitions {
        let end = u64::from(p.offset) + u64::from(p.size);
        if end > u64::from(flash_size) {
            return Err(TableError::PastFlashEnd {
                label: p.label.clone(),
                offset: p.offset,
                size: p.size,
                flash_size,
            });
        }
    }
    match table.otadata() {
        Some(p) if (p.size as usize) < 2 * SECTOR_LEN => Err(TableError::ShortOtadata {
            offset: p.offset,
            size: p.size,
        }),
        _ => Ok(()),
    }
}

/// Why a partition table read from the module cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A partition runs off the flash.
    #[error(
        "partition {label:?} at {offset:#x} ({size:#x} bytes) reaches past the end of the \
         {flash_size:#x}-byte flash"
    )]
    PastFlashEnd {
        /// Its label.
        label: String,
        /// Its offset.
        offset: u32,
        /// Its size.
        size: u32,
        /// The flash size.
        flash_size: u32,
    },
    /// otadata is shorter than its two sectors.
    #[error(
        "the otadata partition at {offset:#x} has {size:#x} bytes, less than its two \
         0x1000-byte sectors"
    )]
    ShortOtadata {
        /// Its offset.
        offset: u32,
        /// Its size.
        size: u32,
    },
}
