//! Simulated ESP-IDF application flash: two OTA slots with their otadata states and the rules of
//! `esp_ota_ops.c` and the bootloader with rollback enabled.
//!
//! - An update goes to the slot that does not run; the running slot is never touched.
//! - `set_boot` re-validates the image and marks it `new`; a failed validation never becomes
//!   bootable.
//! - At reset the bootloader turns `new` into `testing` and boots it; a slot still `testing` at
//!   the next reset becomes `aborted` and the other slot boots (rollback).
//! - While the running slot is `testing`, no new update may begin.

use otadeck_core::image::{esp, otadata};
use otadeck_core::partition_state::{PartitionState, Slot, SlotBuild, SlotState};

/// `ESP_ERR_OTA_*` and the few others the simulated calls return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtaError {
    /// `ESP_ERR_INVALID_SIZE` (0x104): past the end of the slot.
    InvalidSize,
    /// `ESP_ERR_INVALID_STATE` (0x103): no update in progress.
    InvalidState,
    /// `ESP_ERR_OTA_VALIDATE_FAILED` (0x1503).
    ValidateFailed,
    /// `ESP_ERR_OTA_ROLLBACK_FAILED` (0x1505): nothing else to boot.
    RollbackFailed,
    /// `ESP_ERR_OTA_ROLLBACK_INVALID_STATE` (0x1506): the running app is not confirmed yet.
    RollbackInvalidState,
}

impl OtaError {
    /// The `esp_err_t` value.
    pub fn code(self) -> i32 {
        match self {
            OtaError::InvalidSize => 0x104,
            OtaError::InvalidState => 0x103,
            OtaError::ValidateFailed => 0x1503,
            OtaError::RollbackFailed => 0x1505,
            OtaError::RollbackInvalidState => 0x1506,
        }
    }

    /// The `esp_err_to_name` text.
    pub fn name(self) -> &'static str {
        match self {
            OtaError::InvalidSize => "ESP_ERR_INVALID_SIZE",
            OtaError::InvalidState => "ESP_ERR_INVALID_STATE",
            OtaError::ValidateFailed => "ESP_ERR_OTA_VALIDATE_FAILED",
            OtaError::RollbackFailed => "ESP_ERR_OTA_ROLLBACK_FAILED",
            OtaError::RollbackInvalidState => "ESP_ERR_OTA_ROLLBACK_INVALID_STATE",
        }
    }
}

/// One simulated OTA slot.
#[derive(Debug, Clone)]
pub struct OtaSlot {
    /// `ota_0`, `ota_1`.
    pub label: String,
    /// Slot contents (erased bytes read as 0xFF; the vector holds only what was written).
    pub data: Vec<u8>,
    /// The otadata state; `None` while the slot was never selected for boot.
    pub state: Option<SlotState>,
}

/// Two OTA slots, a running one and a boot selection.
#[derive(Debug, Clone)]
pub struct EspOtaFlash {
    /// The slot size in bytes.
    pub slot_size: usize,
    /// `ota_0` and `ota_1`.
    pub slots: [OtaSlot; 2],
    running: usize,
    next_boot: usize,
    /// The slot an update is being written to, between `begin` and `set_boot`.
    updating: Option<usize>,
    /// Resets done.
    pub boots: u32,
}

/// Whether `image` passes `esp_image_verify`: an ESP app image with a good checksum and hash.
pub fn validates(image: &[u8]) -> bool {
    image.first() == Some(&esp::IMAGE_MAGIC) && esp::parse(image).is_ok()
}

fn slot_state_raw(state: SlotState) -> otadata::OtaState {
    match state {
        SlotState::New => otadata::OtaState::New,
        SlotState::Testing => otadata::OtaState::PendingVerify,
        SlotState::Valid => otadata::OtaState::Valid,
        SlotState::Invalid => otadata::OtaState::Invalid,
        SlotState::Aborted => otadata::OtaState::Aborted,
        SlotState::Undefined => otadata::OtaState::Undefined,
    }
}

fn build_of(image: &[u8]) -> Option<SlotBuild> {
    esp::app_descriptor(image).map(|d| SlotBuild::from(&d))
}

impl EspOtaFlash {
    /// Flash whose `ota_0` holds `firmware`, runs it, and has accepted it.
    pub fn new(slot_size: usize, firmware: Vec<u8>) -> Self {
        let slot = |label: &str| OtaSlot {
            label: label.into(),
            data: Vec::new(),
            state: None,
        };
        let mut flash = EspOtaFlash {
            slot_size,
            slots: [slot("ota_0"), slot("ota_1")],
            running: 0,
            next_boot: 0,
            updating: None,
            boots: 0,
        };
        flash.slots[0].data = firmware;
        flash.slots[0].state = Some(SlotState::Valid);
        flash
    }

    /// Index of the running slot.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Index of the slot the next reset boots (before rollback rules).
    pub fn next_boot(&self) -> usize {
        self.next_boot
    }

    /// The running image.
    pub fn running_image(&self) -> &[u8] {
        &self.slots[self.running].data
    }

    /// The version the running image declares.
    pub fn running_version(&self) -> String {
        image_version(self.running_image())
    }

    /// `esp_ota_get_next_update_partition`: the slot that does not run.
    pub fn next_update(&self) -> usize {
        1 - self.running
    }

    /// `esp_ota_begin`: refuse while the running app is unconfirmed, then erase the update slot.
    pub fn begin(&mut self) -> Result<usize, OtaError> {
        if self.slots[self.running].state == Some(SlotState::Testing) {
            return Err(OtaError::RollbackInvalidState);
        }
        let target = self.next_update();
        self.slots[target].data.clear();
        self.updating = Some(target);
        Ok(target)
    }

    /// Write `data` at `offset` of the update slot (erase-then-write, as `writeblocks` and
    /// `esp_ota_write` do for the sectors they touch).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<(), OtaError> {
        let target = self.updating.ok_or(OtaError::InvalidState)?;
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= self.slot_size)
            .ok_or(OtaError::InvalidSize)?;
        let slot = &mut self.slots[target].data;
        if slot.len() < end {
            slot.resize(end, 0xFF);
        }
        slot[offset..end].copy_from_slice(data);
        Ok(())
    }

    /// Append to the update slot.
    pub fn append(&mut self, data: &[u8]) -> Result<(), OtaError> {
        let target = self.updating.ok_or(OtaError::InvalidState)?;
        let offset = self.slots[target].data.len();
        self.write_at(offset, data)
    }

    /// Erase-and-write `data` at `offset` of `slot` directly, as `esp32.Partition.writeblocks`
    /// does: no update session, no state change.
    pub fn raw_write(&mut self, slot: usize, offset: usize, data: &[u8]) -> Result<(), OtaError> {
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= self.slot_size)
            .ok_or(OtaError::InvalidSize)?;
        let bytes = &mut self.slots[slot].data;
        if bytes.len() < end {
            bytes.resize(end, 0xFF);
        }
        bytes[offset..end].copy_from_slice(data);
        Ok(())
    }

    /// `len` bytes of `slot` from `offset`; never-written flash reads as 0xFF.
    pub fn read(&self, slot: usize, offset: usize, len: usize) -> Vec<u8> {
        let bytes = &self.slots[slot].data;
        (offset..offset + len)
            .map(|i| bytes.get(i).copied().unwrap_or(0xFF))
            .collect()
    }

    /// The otadata partition (0x2000 bytes) that describes this state: one select entry for the
    /// slot that boots next and, when the other slot was ever selected, an older one for it.
    pub fn otadata(&self) -> Vec<u8> {
        let mut out = vec![0xFF; otadata::OTADATA_LEN];
        let mut put = |index: usize, slot: usize, seq: u32| {
            if let Some(state) = self.slots[slot].state {
                let raw = otadata::set_boot(&[], slot as u8, 2, true).expect("two slots");
                let mut entry = otadata::parse(&raw).expect("well-formed").entries[0].clone();
                entry.seq = seq;
                entry.crc = otadata::select_crc(seq);
                entry.state = slot_state_raw(state);
                let at = index * otadata::SECTOR_LEN;
                out[at..at + 32].copy_from_slice(&entry.to_bytes());
            }
        };
        let other = 1 - self.next_boot;
        put(0, other, other as u32 + 1);
        put(1, self.next_boot, self.next_boot as u32 + 3);
        out
    }

    /// The bytes written to the update slot so far.
    pub fn update_data(&self) -> Option<&[u8]> {
        self.updating.map(|t| self.slots[t].data.as_slice())
    }

    /// `esp_ota_end` and `esp_ota_set_boot_partition` on the update slot: validate, then select
    /// it as `new`.
    pub fn set_boot_update(&mut self) -> Result<(), OtaError> {
        let target = self.updating.ok_or(OtaError::InvalidState)?;
        self.set_boot(target)
    }

    /// `esp_ota_set_boot_partition(slot)`: the image must validate.
    pub fn set_boot(&mut self, slot: usize) -> Result<(), OtaError> {
        if !validates(&self.slots[slot].data) {
            return Err(OtaError::ValidateFailed);
        }
        if slot != self.running {
            self.slots[slot].state = Some(SlotState::New);
        }
        self.next_boot = slot;
        self.updating = None;
        Ok(())
    }

    /// `esp_ota_mark_app_valid_cancel_rollback`.
    pub fn mark_valid(&mut self) {
        self.slots[self.running].state = Some(SlotState::Valid);
    }

    /// `esp_ota_mark_app_invalid_rollback_and_reboot`: mark the running slot invalid and reboot
    /// into the other one, when it holds a bootable image.
    pub fn mark_invalid_and_reboot(&mut self) -> Result<(), OtaError> {
        let other = 1 - self.running;
        if !self.bootable(other) {
            return Err(OtaError::RollbackFailed);
        }
        self.slots[self.running].state = Some(SlotState::Invalid);
        self.next_boot = other;
        self.reset();
        Ok(())
    }

    fn bootable(&self, slot: usize) -> bool {
        self.slots[slot].state.is_none_or(SlotState::is_bootable)
            && validates(&self.slots[slot].data)
    }

    /// A reset or power cycle: the bootloader applies the rollback rules and picks what runs. An
    /// update in progress is abandoned (its slot keeps the partial bytes, never selected).
    pub fn reset(&mut self) {
        self.boots += 1;
        self.updating = None;
        let chosen = self.next_boot;
        let slot = &mut self.slots[chosen].state;
        match *slot {
            Some(SlotState::New) => *slot = Some(SlotState::Testing),
            Some(SlotState::Testing) => *slot = Some(SlotState::Aborted),
            _ => {}
        }
        if self.bootable(chosen) {
            self.running = chosen;
        } else {
            let other = 1 - chosen;
            self.running = if self.bootable(other) { other } else { chosen };
            self.next_boot = self.running;
        }
    }

    /// The state in the `otaupgrade.info()` shape.
    pub fn partition_state(&self) -> PartitionState {
        PartitionState {
            running: self.slots[self.running].label.clone(),
            next_boot: self.slots[self.next_boot].label.clone(),
            slots: self
                .slots
                .iter()
                .map(|s| Slot {
                    label: s.label.clone(),
                    state: Some(s.state.unwrap_or(SlotState::Undefined)),
                    build: build_of(&s.data),
                    problem: None,
                    extent: None,
                })
                .collect(),
        }
    }
}

/// The version an image declares: the ESP-IDF app descriptor's, or a description of the bytes.
fn image_version(image: &[u8]) -> String {
    match esp::app_descriptor(image) {
        Some(app) if !app.version.is_empty() => app.version,
        _ => format!("unversioned image of {} bytes", image.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware::{demo_image, demo_running_image};

    fn flash() -> EspOtaFlash {
        EspOtaFlash::new(512 * 1024, demo_running_image())
    }

    fn update(f: &mut EspOtaFlash, image: &[u8]) -> Result<(), OtaError> {
        f.begin()?;
        for (i, block) in image.chunks(4096).enumerate() {
            f.write_at(i * 4096, block)?;
        }
        f.set_boot_update()
    }

    #[test]
    fn an_unaccepted_update_reverts_at_the_second_reset() {
        let mut f = flash();
        update(&mut f, &demo_image("2.1.0", 20_000)).unwrap();
        f.reset();
        assert_eq!(f.running_version(), "2.1.0");
        assert_eq!(
            f.partition_state().running_slot().unwrap().state,
            Some(SlotState::Testing)
        );
        assert_eq!(f.begin(), Err(OtaError::RollbackInvalidState));
        f.reset();
        assert_eq!(f.running_version(), "2.0.3");
        assert_eq!(f.slots[1].state, Some(SlotState::Aborted));
    }

    #[test]
    fn an_accepted_update_stays_and_can_be_rolled_back_by_hand() {
        let mut f = flash();
        update(&mut f, &demo_image("2.1.0", 20_000)).unwrap();
        f.reset();
        f.mark_valid();
        f.reset();
        assert_eq!(f.running_version(), "2.1.0");
        f.mark_invalid_and_reboot().unwrap();
        assert_eq!(f.running_version(), "2.0.3");
        assert_eq!(f.slots[1].state, Some(SlotState::Invalid));
        assert_eq!(f.mark_invalid_and_reboot(), Err(OtaError::RollbackFailed));
    }

    #[test]
    fn a_damaged_or_partial_image_never_becomes_bootable() {
        let mut f = flash();
        let mut image = demo_image("2.1.0", 20_000);
        image[5000] ^= 1;
        assert_eq!(update(&mut f, &image), Err(OtaError::ValidateFailed));
        f.reset();
        assert_eq!(f.running_version(), "2.0.3");
        // A power cut half way: the partial slot is never selected.
        let good = demo_image("2.1.0", 20_000);
        f.begin().unwrap();
        f.write_at(0, &good[..8192]).unwrap();
        f.reset();
        assert_eq!(f.running_version(), "2.0.3");
        assert_eq!(f.write_at(0, &good[..10]), Err(OtaError::InvalidState));
    }
}
