//! MCUmgr image state (`images[]` of group 1 command 0) as typed slots, and mapped onto the
//! shared [`PartitionState`] model.

use crate::link::smp::Value;
use crate::partition_state::{PartitionState, Slot, SlotBuild, SlotState};

/// One entry of `images[]`: an image slot with the flags MCUmgr reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSlot {
    /// Image number (0 when left out).
    pub image: u32,
    /// Slot number: 0 primary, 1 secondary.
    pub slot: u32,
    /// The version string, e.g. `1.2.3` or `1.2.3.4`.
    pub version: String,
    /// The image hash (the MCUboot SHA-256 TLV).
    pub hash: Vec<u8>,
    /// The image may boot.
    pub bootable: bool,
    /// Marked to boot at the next reset.
    pub pending: bool,
    /// Confirmed: MCUboot keeps (or returns to) it.
    pub confirmed: bool,
    /// Running now.
    pub active: bool,
    /// Pending for good (no revert after the next boot).
    pub permanent: bool,
}

impl ImageSlot {
    /// The label used in [`PartitionState`]: `slot0`, `slot1`; `image1-slot0` for image 1.
    pub fn label(&self) -> String {
        if self.image == 0 {
            format!("slot{}", self.slot)
        } else {
            format!("image{}-slot{}", self.image, self.slot)
        }
    }

    /// The MCUmgr flags that are set, in MCUmgr's order.
    pub fn flags(&self) -> Vec<&'static str> {
        [
            (self.bootable, "bootable"),
            (self.pending, "pending"),
            (self.confirmed, "confirmed"),
            (self.active, "active"),
            (self.permanent, "permanent"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// `slot1: version 2.0.0, hash 3f2a..9c01, flags bootable pending`.
    pub fn line(&self) -> String {
        let flags = self.flags();
        format!(
            "{}: version {}, hash {}, flags {}",
            self.label(),
            self.version,
            short_hex(&self.hash),
            if flags.is_empty() {
                "none".to_string()
            } else {
                flags.join(" ")
            }
        )
    }

    /// The slot's state in the shared model.
    pub fn state(&self) -> SlotState {
        match (self.active, self.confirmed, self.pending) {
            (true, true, _) => SlotState::Valid,
            (true, false, _) => SlotState::Testing,
            (false, _, true) => SlotState::New,
            _ if !self.bootable => SlotState::Invalid,
            (false, true, false) => SlotState::Valid,
            (false, false, false) => SlotState::Undefined,
        }
    }
}

/// `3f2a1b..e09c01`: the first and last bytes of a hash.
pub fn short_hex(hash: &[u8]) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    if hash.len() <= 8 {
        hex(hash)
    } else {
        format!("{}..{}", hex(&hash[..4]), hex(&hash[hash.len() - 4..]))
    }
}

/// Read `images[]` from a state response body.
pub fn parse_images(body: &Value) -> Result<Vec<ImageSlot>, String> {
    let images = body
        .get("images")
        .and_then(Value::as_array)
        .ok_or("no images array in the image state")?;
    images
        .iter()
        .map(|e| {
            let flag = |k: &str| e.get(k).and_then(Value::as_bool).unwrap_or(false);
            Ok(ImageSlot {
                image: e.get("image").and_then(Value::as_u64).unwrap_or(0) as u32,
                slot: e
                    .get("slot")
                    .and_then(Value::as_u64)
                    .ok_or("an image entry without a slot number")? as u32,
                version: e
                    .get("version")
                    .and_then(Value::as_text)
                    .unwrap_or("")
                    .to_string(),
                hash: e
                    .get("hash")
                    .and_then(Value::as_bytes)
                    .unwrap_or_default()
                    .to_vec(),
                bootable: flag("bootable"),
                pending: flag("pending"),
                confirmed: flag("confirmed"),
                active: flag("active"),
                permanent: flag("permanent"),
            })
        })
        .collect()
}

/// The body a module sends for these slots (what the simulator answers).
pub fn images_body(slots: &[ImageSlot]) -> Value {
    let entries = slots
        .iter()
        .map(|s| {
            let mut m = Value::map([
                ("image", Value::Int(s.image.into())),
                ("slot", Value::Int(s.slot.into())),
                ("version", Value::Text(s.version.clone())),
                ("hash", Value::Bytes(s.hash.clone())),
            ]);
            // Zephyr leaves false flags out.
            for (on, name) in [
                (s.bootable, "bootable"),
                (s.pending, "pending"),
                (s.confirmed, "confirmed"),
                (s.active, "active"),
                (s.permanent, "permanent"),
            ] {
                if on {
                    m.insert(name, Value::Bool(true));
                }
            }
            m
        })
        .collect();
    Value::map([("images", Value::Array(entries))])
}

/// The slots in the shared model: running = the active slot; next boot = the pending slot, or
/// for an active image on trial the confirmed slot MCUboot returns to, or else the active one.
pub fn partition_state(slots: &[ImageSlot]) -> PartitionState {
    let image0: Vec<&ImageSlot> = slots.iter().filter(|s| s.image == 0).collect();
    let active = image0.iter().find(|s| s.active);
    let running = active.map(|s| s.label()).unwrap_or_default();
    let next_boot = image0
        .iter()
        .find(|s| s.pending)
        .or_else(|| {
            active
                .filter(|a| !a.confirmed)
                .and_then(|_| image0.iter().find(|s| !s.active && s.confirmed))
        })
        .or(active)
        .map(|s| s.label())
        .unwrap_or_default();
    let mut listed: Vec<Slot> = slots
        .iter()
        .map(|s| Slot {
            label: s.label(),
            state: Some(s.state()),
            build: (!s.hash.is_empty() || !s.version.is_empty()).then(|| SlotBuild {
                version: s.version.clone(),
                ..SlotBuild::default()
            }),
            problem: None,
            extent: None,
        })
        .collect();
    // MCUmgr lists only slots that hold an image: an empty one is shown as such, not left out.
    for n in 0..2 {
        if !image0.iter().any(|s| s.slot == n) {
            let empty = ImageSlot {
                slot: n,
                ..ImageSlot::default()
            };
            let at = listed.len().min(n as usize);
            listed.insert(
                at,
                Slot {
                    label: empty.label(),
                    ..Slot::default()
                },
            );
        }
    }
    PartitionState {
        running,
        next_boot,
        slots: listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(slot: u32, version: &str, f: &str) -> ImageSlot {
        ImageSlot {
            slot,
            version: version.into(),
            hash: vec![slot as u8 + 1; 32],
            bootable: true,
            pending: f.contains('p'),
            confirmed: f.contains('c'),
            active: f.contains('a'),
            permanent: f.contains('P'),
            ..ImageSlot::default()
        }
    }

    #[test]
    fn states_through_an_update() {
        // Uploaded and marked for test.
        let s = partition_state(&[slot(0, "1.0.0", "ca"), slot(1, "2.0.0", "p")]);
        assert_eq!(
            (s.running.as_str(), s.next_boot.as_str()),
            ("slot0", "slot1")
        );
        assert_eq!(
            s.lines(),
            [
                "slot0 (running): valid, version 1.0.0",
                "slot1 (next boot): new, version 2.0.0"
            ]
        );
        // Booted on trial: the old image, now in slot 1, is what MCUboot returns to.
        let s = partition_state(&[slot(0, "2.0.0", "a"), slot(1, "1.0.0", "c")]);
        assert!(s.awaits_decision());
        assert_eq!(s.next_boot, "slot1");
        // Confirmed.
        let s = partition_state(&[slot(0, "2.0.0", "ca"), slot(1, "1.0.0", "")]);
        assert!(!s.awaits_decision());
        assert_eq!(s.next_boot, "slot0");
        assert_eq!(s.slots[1].state, Some(SlotState::Undefined));
    }

    #[test]
    fn the_body_round_trips_and_leaves_false_flags_out() {
        let slots = vec![slot(0, "1.0.0", "ca"), slot(1, "2.0.0", "pP")];
        let body = images_body(&slots);
        let entry = &body.get("images").unwrap().as_array().unwrap()[1];
        assert_eq!(entry.get("active"), None);
        assert_eq!(
            parse_images(&Value::decode(&body.encode()).unwrap()).unwrap(),
            slots
        );
        assert_eq!(
            slots[1].line(),
            "slot1: version 2.0.0, hash 02020202..02020202, flags bootable pending permanent"
        );
        assert!(parse_images(&Value::map([])).is_err());
    }
}
