//! A module's A/B state in one shape for every family: the running slot, the slot that boots next,
//! and per slot its OTA state and the build it holds. The shape is NodeMCU's `otaupgrade.info()`;
//! ESP32 MicroPython, Pycom, the ESP ROM loader (partition table + otadata) and MCUmgr image state
//! are all mapped onto it.

use serde::Serialize;

use crate::image::esp::AppDescriptor;
use crate::image::otadata::OtaState;
use crate::module::Family;

/// The OTA state of one slot, with the names `otaupgrade.info()` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// Written and selected, not booted yet.
    New,
    /// Booted once and waiting for the application to accept it; the next reset rolls it back.
    Testing,
    /// Accepted.
    Valid,
    /// Marked invalid; never booted again.
    Invalid,
    /// Rolled back by the bootloader because it was not accepted in time.
    Aborted,
    /// No state recorded (rollback disabled, or the slot was never selected); bootable.
    Undefined,
}

impl SlotState {
    /// The word `otaupgrade.info()` prints.
    pub fn name(self) -> &'static str {
        match self {
            SlotState::New => "new",
            SlotState::Testing => "testing",
            SlotState::Valid => "valid",
            SlotState::Invalid => "invalid",
            SlotState::Aborted => "aborted",
            SlotState::Undefined => "undefined",
        }
    }

    /// Parse the word `otaupgrade.info()` prints.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "new" => SlotState::New,
            "testing" => SlotState::Testing,
            "valid" => SlotState::Valid,
            "invalid" => SlotState::Invalid,
            "aborted" => SlotState::Aborted,
            "undefined" => SlotState::Undefined,
            _ => return None,
        })
    }

    /// Whether the bootloader may boot a slot in this state.
    pub fn is_bootable(self) -> bool {
        !matches!(self, SlotState::Invalid | SlotState::Aborted)
    }

    /// The state in the words of `family`'s bootloader, and how it reads (`None`: unknown).
    pub fn words(state: Option<SlotState>, family: Family) -> (&'static str, Tone) {
        use SlotState as S;
        let Some(state) = state else {
            return ("unknown", Tone::Neutral);
        };
        if family == Family::McuBoot {
            // MCUmgr's flags: confirmed, active (on trial until confirmed), pending.
            return match state {
                S::Valid => ("confirmed", Tone::Good),
                S::Testing => ("active, not confirmed", Tone::Warn),
                S::New => ("pending: boots next", Tone::Warn),
                S::Invalid => ("not bootable", Tone::Bad),
                S::Aborted => ("reverted", Tone::Bad),
                S::Undefined => ("not confirmed", Tone::Neutral),
            };
        }
        match state {
            S::Valid => ("valid", Tone::Good),
            S::Testing => ("on trial (pending verify)", Tone::Warn),
            S::New => ("new: boots next", Tone::Warn),
            S::Invalid => ("invalid", Tone::Bad),
            S::Aborted => ("aborted", Tone::Bad),
            // ESP-IDF's ESP_OTA_IMG_UNDEFINED: bootable, never marked either way.
            S::Undefined => ("undefined", Tone::Neutral),
        }
    }
}

/// How a slot state reads to a technician.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Good to boot, nothing to decide.
    Good,
    /// Waiting for a decision or a restart.
    Warn,
    /// Will not boot.
    Bad,
    /// Nothing is known or claimed.
    Neutral,
}

impl Tone {
    /// A stable lower-case name (for a CSS class).
    pub fn name(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Neutral => "neutral",
        }
    }
}

impl From<OtaState> for SlotState {
    fn from(s: OtaState) -> Self {
        match s {
            OtaState::New => SlotState::New,
            OtaState::PendingVerify => SlotState::Testing,
            OtaState::Valid => SlotState::Valid,
            OtaState::Invalid => SlotState::Invalid,
            OtaState::Aborted => SlotState::Aborted,
            OtaState::Undefined | OtaState::Unknown(_) => SlotState::Undefined,
        }
    }
}

/// The build a slot holds, as its app descriptor (or image header) tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlotBuild {
    /// Project or image name.
    pub name: String,
    /// Firmware version.
    pub version: String,
    /// Anti-rollback counter.
    pub secure_version: u32,
    /// Build date.
    pub date: String,
    /// Build time.
    pub time: String,
    /// ESP-IDF version the firmware was built with; empty where that does not apply.
    pub idf_version: String,
}

impl From<&AppDescriptor> for SlotBuild {
    fn from(d: &AppDescriptor) -> Self {
        SlotBuild {
            name: d.project_name.clone(),
            version: d.version.clone(),
            secure_version: d.secure_version,
            date: d.date.clone(),
            time: d.time.clone(),
            idf_version: d.idf_version.clone(),
        }
    }
}

/// One application slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// The partition label (`ota_0`, `ota_1`, `factory`) or slot name.
    pub label: String,
    /// Its OTA state; `None` when the module could not read it (`otaupgrade.info()` gives an empty
    /// table then).
    pub state: Option<SlotState>,
    /// What it holds; `None` when empty or unreadable.
    pub build: Option<SlotBuild>,
    /// What is wrong with the image it holds (cut short, damaged), when it was checked and
    /// something is: such a slot is not bootable whatever its OTA state says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Where the slot lies in the module's flash, when the family reads flash directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extent: Option<SlotExtent>,
}

/// Where a slot lies in flash and how much of it its image fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlotExtent {
    /// Flash address of the slot's first byte.
    pub offset: u32,
    /// Bytes the slot spans.
    pub size: u32,
    /// Bytes of the image it holds, when that image was walked to its end and is whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_len: Option<u32>,
}

/// A module's slots and which of them runs and boots next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartitionState {
    /// Label of the running slot.
    pub running: String,
    /// Label of the slot the bootloader starts at the next reset.
    pub next_boot: String,
    /// Every application slot, in partition-table order.
    pub slots: Vec<Slot>,
}

impl PartitionState {
    /// The slot with this label.
    pub fn slot(&self, label: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.label == label)
    }

    /// The running slot.
    pub fn running_slot(&self) -> Option<&Slot> {
        self.slot(&self.running)
    }

    /// The running firmware waits to be accepted: the technician should accept or roll back.
    pub fn awaits_decision(&self) -> bool {
        self.running_slot()
            .is_some_and(|s| s.state == Some(SlotState::Testing))
    }

    /// The other slots that still hold a bootable build, which a rollback could return to.
    pub fn rollback_targets(&self) -> Vec<&Slot> {
        self.slots
            .iter()
            .filter(|s| s.label != self.running)
            .filter(|s| s.build.is_some() && s.state.is_none_or(SlotState::is_bootable))
            .collect()
    }

    /// One line per slot, for logs and the CLI: `ota_1 (running, next boot): testing, app 2.1.0`.
    pub fn lines(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| {
                let mut roles = Vec::new();
                if s.label == self.running {
                    roles.push("running");
                }
                if s.label == self.next_boot {
                    roles.push("next boot");
                }
                let roles = if roles.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", roles.join(", "))
                };
                let state = s.state.map_or("state unknown", SlotState::name);
                let build = match &s.build {
                    Some(b) if b.name.is_empty() => format!("version {}", b.version),
                    Some(b) => format!("{} {}", b.name, b.version),
                    None => "empty".to_string(),
                };
                match &s.problem {
                    Some(p) => format!("{}{roles}: {state}, {build}, NOT BOOTABLE: {p}", s.label),
                    None => format!("{}{roles}: {state}, {build}", s.label),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_names_its_states_in_its_own_words() {
        let mcuboot = |s| SlotState::words(Some(s), Family::McuBoot);
        assert_eq!(mcuboot(SlotState::Valid), ("confirmed", Tone::Good));
        assert_eq!(mcuboot(SlotState::New), ("pending: boots next", Tone::Warn));
        assert_eq!(
            mcuboot(SlotState::Undefined),
            ("not confirmed", Tone::Neutral)
        );
        let esp = |s| SlotState::words(Some(s), Family::EspRom);
        assert_eq!(esp(SlotState::Undefined), ("undefined", Tone::Neutral));
        assert_eq!(esp(SlotState::Aborted).1, Tone::Bad);
        assert_eq!(
            SlotState::words(None, Family::NodeMcu),
            ("unknown", Tone::Neutral)
        );
    }

    fn state() -> PartitionState {
        let build = |v: &str| {
            Some(SlotBuild {
                name: "app".into(),
                version: v.into(),
                ..SlotBuild::default()
            })
        };
        PartitionState {
            running: "ota_1".into(),
            next_boot: "ota_1".into(),
            slots: vec![
                Slot {
                    label: "ota_0".into(),
                    state: Some(SlotState::Valid),
                    build: build("2.0.3"),
                    problem: None,
                    extent: None,
                },
                Slot {
                    label: "ota_1".into(),
                    state: Some(SlotState::Testing),
                    build: build("2.1.0"),
                    problem: None,
                    extent: None,
                },
            ],
        }
    }

    #[test]
    fn a_testing_running_slot_awaits_a_decision_and_can_roll_back() {
        let s = state();
        assert!(s.awaits_decision());
        let targets: Vec<_> = s.rollback_targets().iter().map(|t| &t.label).collect();
        assert_eq!(targets, ["ota_0"]);
        assert_eq!(
            s.lines(),
            [
                "ota_0: valid, app 2.0.3",
                "ota_1 (running, next boot): testing, app 2.1.0"
            ]
        );
    }

    #[test]
    fn aborted_and_empty_slots_are_no_rollback_target() {
        let mut s = state();
        s.slots[0].state = Some(SlotState::Aborted);
        assert!(s.rollback_targets().is_empty());
        s.slots[0].state = None;
        s.slots[0].build = None;
        assert!(s.rollback_targets().is_empty());
        s.slots[1].state = Some(SlotState::Valid);
        assert!(!s.awaits_decision());
    }

    #[test]
    fn state_names_round_trip_and_map_from_otadata() {
        for s in [
            SlotState::New,
            SlotState::Testing,
            SlotState::Valid,
            SlotState::Invalid,
            SlotState::Aborted,
            SlotState::Undefined,
        ] {
            assert_eq!(SlotState::from_name(s.name()), Some(s));
        }
        assert_eq!(SlotState::from_name("pending"), None);
        assert_eq!(SlotState::from(OtaState::PendingVerify), SlotState::Testing);
        assert_eq!(SlotState::from(OtaState::Unknown(7)), SlotState::Undefined);
    }
}
