//! Reading an ESP32 MicroPython module's slots through `esp32.Partition`: the code that prints
//! them and the parser that turns the printout into a [`PartitionState`].
//!
//! The printout is tagged line by line so that a stray print from the running application cannot
//! be taken for data: `U` the `os.uname()` tuple, `R`, `N` and `B` the `Partition.info()` tuples of
//! the running, next-update and boot slots, `D` the hex of each slot's app descriptor (read back
//! from flash at offset 32), and `O` the hex of the two otadata select entries.

use crate::image::esp::{self, AppDescriptor};
use crate::image::otadata;
use crate::partition_state::{PartitionState, Slot, SlotBuild, SlotState};

/// Prints the uname, the three partitions and the descriptors of the running and next slots.
pub const READ_SLOTS: &str = "import os,esp32,binascii
from esp32 import Partition as P
print('U',os.uname())
r=P(P.RUNNING)
n=r.get_next_update()
d=bytearray(256)
print('R',r.info())
r.readblocks(0,d,32)
print('D',binascii.hexlify(d))
print('N',n.info())
n.readblocks(0,d,32)
print('D',binascii.hexlify(d))
print('B',P(P.BOOT).info())";

/// Prints the two otadata select entries. Runs separately: a partition table without an
/// `otadata` label raises, and the slots are still known without it.
pub const READ_OTADATA: &str = "e=bytearray(32)
o=P('otadata')
o.readblocks(0,e)
print('O',binascii.hexlify(e))
o.readblocks(1,e)
print('O',binascii.hexlify(e))";

/// One `Partition.info()` tuple: `(type, subtype, addr, size, label, encrypted)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition subtype (0x10 + n for ota_n, 0 for factory).
    pub subtype: u8,
    /// Flash address.
    pub address: u32,
    /// Size in bytes.
    pub size: u32,
    /// Label.
    pub label: String,
}

/// What [`READ_SLOTS`] printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsReport {
    /// `os.uname()` fields in order.
    pub uname: Vec<(String, String)>,
    /// The running slot and its descriptor.
    pub running: (PartitionInfo, Option<AppDescriptor>),
    /// The slot the next update goes to and its descriptor.
    pub next_update: (PartitionInfo, Option<AppDescriptor>),
    /// The slot the bootloader starts next.
    pub boot: PartitionInfo,
}

/// Parse `(0, 16, 65536, 1572864, 'ota_0', False)`.
pub fn parse_info(text: &str) -> Option<PartitionInfo> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let fields: Vec<&str> = inner.split(',').map(str::trim).collect();
    let [_, subtype, address, size, label, _] = fields.as_slice() else {
        return None;
    };
    let label = label
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))?;
    Some(PartitionInfo {
        subtype: subtype.parse().ok()?,
        address: address.parse().ok()?,
        size: size.parse().ok()?,
        label: label.to_string(),
    })
}

/// The bytes of a printed `binascii.hexlify(...)` result: `b'00ff…'`.
pub fn parse_hexlified(text: &str) -> Option<Vec<u8>> {
    let hex = text.trim().strip_prefix("b'")?.strip_suffix('\'')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A descriptor read back from flash (256 bytes at image offset 32); `None` for an empty slot.
fn descriptor(raw: &[u8]) -> Option<AppDescriptor> {
    let mut image = vec![0u8; esp::APP_DESC_OFFSET];
    image.extend_from_slice(raw);
    esp::app_descriptor(&image)
}

/// Parse what [`READ_SLOTS`] printed.
pub fn parse_slots(out: &str) -> Option<SlotsReport> {
    let mut uname = None;
    let mut infos = Vec::new();
    let mut descriptors = Vec::new();
    let mut boot = None;
    for line in out.lines() {
        let (tag, rest) = line.trim().split_once(' ')?;
        match tag {
            "U" => uname = crate::module::parse_uname(rest),
            "R" | "N" => infos.push(parse_info(rest)?),
            "D" => descriptors.push(descriptor(&parse_hexlified(rest)?)),
            "B" => boot = parse_info(rest),
            _ => return None,
        }
    }
    let [running, next] = <[PartitionInfo; 2]>::try_from(infos).ok()?;
    let [d_running, d_next] = <[Option<AppDescriptor>; 2]>::try_from(descriptors).ok()?;
    Some(SlotsReport {
        uname: uname?,
        running: (running, d_running),
        next_update: (next, d_next),
        boot: boot?,
    })
}

/// The OTA state per slot from what [`READ_OTADATA`] printed, in slot order (`ota_0`, `ota_1`).
pub fn parse_otadata(out: &str) -> Option<Vec<Option<SlotState>>> {
    let mut raw = vec![0xFFu8; otadata::OTADATA_LEN];
    let mut n = 0;
    for line in out.lines() {
        let hex = line.trim().strip_prefix("O ")?;
        let entry = parse_hexlified(hex)?;
        let at = n * otadata::SECTOR_LEN;
        raw.get_mut(at..at + entry.len())?.copy_from_slice(&entry);
        n += 1;
    }
    if n != 2 {
        return None;
    }
    let parsed = otadata::parse(&raw).ok()?;
    Some(
        parsed
            .slot_states(2)
            .into_iter()
            .map(|s| s.map(SlotState::from))
            .collect(),
    )
}

/// The slot number of an `ota_N` partition.
fn ota_index(info: &PartitionInfo) -> Option<usize> {
    info.subtype
        .checked_sub(0x10)
        .filter(|n| *n < 16)
        .map(usize::from)
}

impl SlotsReport {
    /// The report in the common model; `states` from [`parse_otadata`] when it could be read.
    pub fn partition_state(&self, states: Option<&[Option<SlotState>]>) -> PartitionState {
        let slot = |(info, desc): &(PartitionInfo, Option<AppDescriptor>)| {
            let state = match ota_index(info) {
                Some(i) => states.and_then(|s| s.get(i).copied().flatten()),
                // The factory app has no otadata entry.
                None => Some(SlotState::Undefined),
            };
            Slot {
                label: info.label.clone(),
                state,
                build: desc.as_ref().map(SlotBuild::from),
                problem: None,
                extent: None,
            }
        };
        let mut slots = vec![slot(&self.running), slot(&self.next_update)];
        crate::order::sort_by_key(&mut slots, |s| s.label.clone());
        PartitionState {
            running: self.running.0.label.clone(),
            next_boot: self.boot.label.clone(),
            slots,
        }
    }

    /// A `uname` field.
    pub fn uname_field(&self, key: &str) -> String {
        crate::module::uname_field(&self.uname, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexlify(b: &[u8]) -> String {
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("b'{hex}'")
    }

    #[test]
    fn a_printout_becomes_the_partition_state() {
        let image = esp::build_app_image(
            0,
            &esp::AppDescriptorFields {
                version: "v1.24.1",
                project_name: "micropython",
                time: "10:00:00",
                date: "Nov 29 2024",
                idf_version: "v5.2.2",
                secure_version: 0,
            },
            &[(0x3F40_0020, &[0u8; 512])],
        );
        let desc = &image[32..288];
        let out = format!(
            "U (sysname='esp32', nodename='esp32', release='1.24.1', version='v1.24.1 on 2024-11-29', machine='Generic ESP32 module with ESP32')\n\
             R (0, 16, 65536, 1572864, 'ota_0', False)\n\
             D {}\n\
             N (0, 17, 1638400, 1572864, 'ota_1', False)\n\
             D {}\n\
             B (0, 16, 65536, 1572864, 'ota_0', False)\n",
            hexlify(desc),
            hexlify(&[0xFF; 256])
        );
        let report = parse_slots(&out).unwrap();
        assert_eq!(report.uname_field("release"), "1.24.1");
        assert_eq!(report.next_update.0.size, 1572864);
        let raw = otadata::set_boot(&[], 0, 2, true).unwrap();
        let mut entry = otadata::parse(&raw).unwrap().entries[0].clone();
        entry.state = otadata::OtaState::Valid;
        let o = format!(
            "O {}\nO {}\n",
            hexlify(&entry.to_bytes()),
            hexlify(&[0xFF; 32])
        );
        let states = parse_otadata(&o).unwrap();
        assert_eq!(states, [Some(SlotState::Valid), None]);
        let state = report.partition_state(Some(&states));
        assert_eq!(
            state.lines(),
            [
                "ota_0 (running, next boot): valid, micropython v1.24.1",
                "ota_1: state unknown, empty"
            ]
        );
    }

    #[test]
    fn malformed_printouts_are_refused() {
        assert_eq!(parse_info("(0, 16, 65536, 'ota_0', False)"), None);
        assert_eq!(parse_hexlified("b'abc'"), None);
        assert_eq!(parse_hexlified("'ab'"), None);
        assert!(parse_slots("R (0, 16, 65536, 1572864, 'ota_0', False)\n").is_none());
        assert!(parse_slots("Traceback (most recent call last):\n").is_none());
        assert!(parse_otadata("O b'00'\n").is_none());
    }
}
