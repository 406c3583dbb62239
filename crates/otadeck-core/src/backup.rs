//! What a backup reads before a flash overwrites it: a region of the module's flash, named in
//! words, with the bytes it spans. Families that read flash directly offer one per slot that holds
//! an image; a DFU device offers its writable memory.

use crate::partition_state::PartitionState;

/// A region of the module's memory a backup reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRegion {
    /// Start address (0 on DFU 1.1).
    pub offset: u32,
    /// Bytes to read at most.
    pub len: u32,
    /// What it is, in words (`Internal Flash`, `slot ota_0 (app 1.2.0, running)`).
    pub what: String,
    /// A short name for the file it is saved in (`ota_0`, `internal-flash`).
    pub name: String,
}

/// One region per slot of `state` that holds an image and whose place in flash is known: the
/// image as far as it was walked (the whole slot when its end is unknown). The running slot
/// comes first.
pub fn slot_regions(state: &PartitionState) -> Vec<BackupRegion> {
    let mut out: Vec<BackupRegion> = state
        .slots
        .iter()
        .filter_map(|slot| {
            let extent = slot.extent?;
            let build = slot.build.as_ref()?;
            let mut about = vec![format!("{} {}", build.name, build.version)];
            if slot.label == state.running {
                about.push("running".into());
            }
            if slot.problem.is_some() {
                about.push("damaged".into());
            }
            let (len, what) = match extent.image_len {
                Some(len) => (len, "image"),
                None => (extent.size, "whole slot"),
            };
            Some(BackupRegion {
                offset: extent.offset,
                len,
                what: format!("the {what} in slot {} ({})", slot.label, about.join(", ")),
                name: slot.label.clone(),
            })
        })
        .collect();
    crate::order::sort_by_key(&mut out, |r| r.name != state.running);
    out
}

/// `what` made fit for a file name: lower case, runs of anything but letters and digits turned
/// into one `-` (`Internal Flash  ` gives `internal-flash`).
pub fn file_stem(what: &str) -> String {
    let mut out = String::new();
    for c in what.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition_state::{Slot, SlotBuild, SlotExtent};

    fn slot(label: &str, version: Option<&str>, image_len: Option<u32>) -> Slot {
        Slot {
            label: label.into(),
            build: version.map(|v| SlotBuild {
                name: "app".into(),
                version: v.into(),
                ..SlotBuild::default()
            }),
            extent: Some(SlotExtent {
                offset: if label == "ota_0" { 0x10000 } else { 0x110000 },
                size: 0x100000,
                image_len,
            }),
            ..Slot::default()
        }
    }

    #[test]
    fn the_running_slot_comes_first_and_an_empty_one_is_not_offered() {
        let state = PartitionState {
            running: "ota_1".into(),
            next_boot: "ota_1".into(),
            slots: vec![
                slot("ota_0", Some("1.0.0"), None),
                slot("ota_1", Some("2.0.0"), Some(98_640)),
                slot("ota_2", None, None),
            ],
        };
        let regions = slot_regions(&state);
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[0].name, "ota_1");
        assert_eq!((regions[0].offset, regions[0].len), (0x110000, 98_640));
        assert_eq!(
            regions[0].what,
            "the image in slot ota_1 (app 2.0.0, running)"
        );
        assert_eq!((regions[1].offset, regions[1].len), (0x10000, 0x100000));
        assert!(regions[1].what.starts_with("the whole slot in slot ota_0"));
    }

    #[test]
    fn names_become_file_stems() {
        assert_eq!(file_stem("Internal Flash  "), "internal-flash");
        assert_eq!(file_stem("@Option Bytes /0x1FFF"), "option-bytes-0x1fff");
    }

    #[test]
    fn slots_without_a_known_place_give_no_region() {
        let mut s = slot("ota_0", Some("1.0.0"), Some(10));
        s.extent = None;
        let state = PartitionState {
            running: "ota_0".into(),
            next_boot: "ota_0".into(),
            slots: vec![s],
        };
        assert!(slot_regions(&state).is_empty());
    }
}
