//! Before a flash writes a byte: the partition table, otadata and slot heads are read, and each
//! region is checked against them. An app goes into the OTA slot that does not boot now (then
//! otadata is switched to it), fits inside one partition, is built for the chip that answered,
//! and never overwrites the slot the chip boots unless the technician chose that.

use super::*;
use crate::progress::format_size;

/// Where the chip's own boot code lives: the bootloader and the partition table.
const BOOT_AREA_END: u32 = TABLE_OFFSET + 0x1000;

/// What an interrupted write into the update slot leaves.
pub(super) const MODULE_SLOT_PARTIAL: &str = "still boots its previous firmware: otadata was \
     not switched, and the update slot holds an incomplete image it will not boot; flash it again";

/// What an interrupted boot switch leaves.
pub(super) const MODULE_SWITCH_PARTIAL: &str = "holds the new firmware, written and checked, but \
     the boot switch was interrupted: read its slots, then switch the boot slot";

impl EspRomSession {
    /// Why the job's addresses do not fit the flash, when they do not.
    pub(super) fn out_of_flash(&self) -> Option<String> {
        let flash = u64::from(self.cfg.flash_size);
        let beyond = |what: &str, at: u32, len: u64| {
            if len == 0 {
                return Some(format!("{what} is empty (0 bytes)"));
            }
            if len > flash {
                return Some(format!(
                    "{what} is {}, and the chip's flash is {}",
                    format_size(len),
                    format_size(flash)
                ));
            }
            (u64::from(at) + len > flash).then(|| {
                format!(
                    "{what} of {} at {at:#x} runs past the end of the {} flash (it must end by \
                     {flash:#x})",
                    format_size(len),
                    format_size(flash)
                )
            })
        };
        match &self.cfg.job {
            Job::ReadFlash { offset, len } => beyond("the read", *offset, u64::from(*len)),
            Job::Flash { regions, .. } => regions
                .iter()
                .find_map(|r| beyond("the image", r.offset, r.data.len() as u64)),
            _ => None,
        }
    }

    /// A flash job reads the flash layout with the ROM before it writes (a flasher stub answers
    /// no `READ_FLASH_SLOW`, so it is loaded only once the regions are checked).
    pub(super) fn start_flash(&mut self) {
        if self.planned {
            self.begin_region();
        } else {
            self.start_read(ReadWhat::Table, TABLE_OFFSET, esp_partition::MAX_TABLE_LEN);
        }
    }

    /// The regions are checked: write them, through the flasher stub when there is one.
    fn write_planned(&mut self) {
        self.planned = true;
        if self.cfg.stub.is_some() && self.loader != Loader::Stub {
            self.log(
                LogLevel::Info,
                "loading the flasher stub for the writes".into(),
            );
            self.mem_begin(0);
        } else {
            self.begin_region();
        }
    }

    /// The chip has no usable partition table: a flash may go on only when it writes one.
    pub(super) fn flash_without_table(&mut self, why: &str) {
        let writes_table = self
            .regions
            .iter()
            .any(|r| r.offset == TABLE_OFFSET && esp_partition::parse(&r.data).is_ok());
        if writes_table && !self.cfg.update_slot {
            let msg = format!("no partition table on the chip yet ({why}); this flash writes one");
            self.log(LogLevel::Info, msg);
            self.write_planned();
        } else {
            let kind = FlashErrorKind::ModuleState {
                why: format!("the chip has no usable partition table at {TABLE_OFFSET:#x} ({why})"),
                then: "Install the bootloader and the partition table first (a whole-flash \
                       install), then flash the app.",
            };
            self.fail(Step::Prepare, kind);
        }
    }

    /// With the layout read: choose the update slot when asked, check every region, then write.
    pub(super) fn plan_flash(&mut self) {
        let (Some(table), Some(state)) = (self.table.clone(), self.state()) else {
            return;
        };
        if self.cfg.update_slot {
            let Some((slot, offset, label)) = update_slot(&table, &state.next_boot) else {
                let text = format!(
                    "the partition table has no OTA slot other than {}, so an update cannot be \
                     written beside the running firmware",
                    state.next_boot
                );
                self.fail(Step::Prepare, FlashErrorKind::Unsuitable(text));
                return;
            };
            self.regions[0].offset = offset;
            self.switch_to = Some(slot);
            let msg = format!(
                "writing {label} at {offset:#x}, the slot that does not boot now; {} keeps \
                 booting until the new image is checked",
                state.next_boot
            );
            self.log(LogLevel::Info, msg);
        }
        // A whole install that writes a new partition table is checked against that table.
        let written = self
            .regions
            .iter()
            .find(|r| r.offset == TABLE_OFFSET)
            .and_then(|r| esp_partition::parse(&r.data).ok());
        let table = written.unwrap_or(table);
        for i in 0..self.regions.len() {
            if let Err(kind) = self.check_region(&table, &state.next_boot, i) {
                self.fail(Step::Prepare, kind);
                return;
            }
        }
        self.write_planned();
    }

    fn check_region(
        &self,
        table: &PartitionTable,
        booting: &str,
        i: usize,
    ) -> Result<(), FlashErrorKind> {
        let r = &self.regions[i];
        let (start, len) = (u64::from(r.offset), r.data.len() as u64);
        // ESP8266 images carry no chip id: only ESP-IDF images for the ESP32 family are compared.
        let chip_known = !matches!(self.chip, "unknown chip" | "ESP8266");
        if let Ok(image) = esp::parse_unchecked(&r.data) {
            if chip_known && image.chip != self.chip {
                return Err(FlashErrorKind::Unsuitable(format!(
                    "the image is built for the {}, and the chip that answered is an {}",
                    image.chip, self.chip
                )));
            }
        }
        if r.offset < BOOT_AREA_END {
            return Ok(());
        }
        let Some(part) = table.partitions.iter().find(|p| {
            let p_start = u64::from(p.offset);
            p_start <= start && start < p_start + u64::from(p.size)
        }) else {
            return Err(FlashErrorKind::Unsuitable(format!(
                "no partition holds {:#x}: the partition table does not use that address",
                r.offset
            )));
        };
        let end = u64::from(part.offset) + u64::from(part.size);
        if start + len > end {
            let room = if start == u64::from(part.offset) {
                format!("{} holds {}", part.label, format_size(u64::from(part.size)))
            } else {
                format!(
                    "{} has {} left from {:#x}",
                    part.label,
                    format_size(end - start),
                    r.offset
                )
            };
            return Err(FlashErrorKind::Unsuitable(format!(
                "the image is {} ({len} bytes), and {room}: it would run into the next partition",
                format_size(len)
            )));
        }
        if part.label == booting && !self.cfg.overwrite_running {
            return Err(FlashErrorKind::ModuleState {
                why: format!(
                    "{} holds the firmware the chip boots now, and an interrupted write there \
                     would leave nothing to boot",
                    part.label
                ),
                then: "Write the update slot instead (no address), or confirm writing over the \
                       running firmware (--overwrite-running).",
            });
        }
        Ok(())
    }

    /// After the app's MD5 matched: remember what the slot now holds, then switch otadata to it.
    pub(super) fn switch_boot_after_write(&mut self, slot: u8) {
        let r = &self.regions[self.region - 1];
        let head = r.data[..r.data.len().min(HEAD_LEN)].to_vec();
        if let Some(label) = self
            .table
            .as_ref()
            .and_then(|t| t.ota_slot(slot))
            .map(|p| p.label.clone())
        {
            self.heads.retain(|(l, _)| *l != label);
            self.problems.retain(|(l, _)| *l != label);
            self.image_lens.retain(|(l, _)| *l != label);
            self.image_lens.push((label.clone(), r.data.len() as u32));
            self.heads.push((label, head));
        }
        self.switching = true;
        self.plan_set_boot(slot);
    }

    /// Every region written and its MD5 matched: take the layout they wrote as read (a new
    /// partition table, otadata sectors, the head of each app slot a region starts), so the
    /// state reported at the end says what the chip boots now.
    pub(super) fn note_written_regions(&mut self) {
        let regions = std::mem::take(&mut self.regions);
        if let Some(table) = regions
            .iter()
            .find(|r| r.offset == TABLE_OFFSET)
            .and_then(|r| esp_partition::parse(&r.data).ok())
        {
            self.table = Some(table);
        }
        let Some(table) = self.table.clone() else {
            self.regions = regions;
            return;
        };
        if let Some(od) = table.otadata() {
            for r in &regions {
                for (i, entry) in self.entries.iter_mut().enumerate() {
                    let at = od.offset as usize + i * SECTOR_LEN;
                    let start = r.offset as usize;
                    if (start..start + r.data.len()).contains(&at) {
                        let from = at - start;
                        *entry = r.data[from..(from + 32).min(r.data.len())].to_vec();
                    }
                }
            }
        }
        for p in table.partitions.iter().filter(|p| p.kind == 0) {
            let (p_start, p_end) = (u64::from(p.offset), u64::from(p.offset) + u64::from(p.size));
            let touched = regions.iter().any(|r| {
                let start = u64::from(r.offset);
                start < p_end && start + r.data.len() as u64 > p_start
            });
            if !touched {
                continue;
            }
            self.heads.retain(|(l, _)| *l != p.label);
            self.problems.retain(|(l, _)| *l != p.label);
            self.image_lens.retain(|(l, _)| *l != p.label);
            if let Some(r) = regions.iter().find(|r| r.offset == p.offset) {
                let head = r.data[..r.data.len().min(HEAD_LEN)].to_vec();
                self.heads.push((p.label.clone(), head));
                self.image_lens.push((p.label.clone(), r.data.len() as u32));
            }
        }
        self.regions = regions;
    }

    /// After the otadata sector was written and its MD5 matched: take its entry as read.
    pub(super) fn note_written_otadata(&mut self) {
        let r = &self.regions[self.region - 1];
        let sector = (r.offset - self.otadata_offset()) as usize / SECTOR_LEN;
        if let (Some(entry), Some(slot)) = (r.data.get(..32), self.entries.get_mut(sector)) {
            *slot = entry.to_vec();
        }
    }
}

/// The OTA slot that does not boot next: its number, offset and label.
fn update_slot(table: &PartitionTable, booting: &str) -> Option<(u8, u32, String)> {
    (0..table.ota_app_count()).find_map(|n| {
        let p = table.ota_slot(n)?;
        (p.label != booting).then(|| (n, p.offset, p.label.clone()))
    })
}
