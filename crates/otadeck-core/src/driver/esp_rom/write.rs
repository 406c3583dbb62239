//! Writing the regions of a flash job: a region already in place skipped (several-region
//! installs), erase and write in blocks (deflated or plain), then the chip's MD5 of it.

use super::*;

impl EspRomSession {
    /// The next region: in a several-region install, first ask whether the flash holds it
    /// already, so that an install cut short goes on from the first region not yet verified.
    pub(super) fn begin_region(&mut self) {
        let several = matches!(self.cfg.job, Job::Flash { .. }) && self.regions.len() > 1;
        if several && !self.switching && self.prechecked != Some(self.region) {
            self.prechecked = Some(self.region);
            let r = &self.regions[self.region];
            let (offset, len) = (r.offset, r.data.len());
            self.phase = Phase::Precheck;
            self.send_for(
                op::SPI_FLASH_MD5,
                &packet::words(&[offset, len as u32, 0, 0]),
                0,
                scaled(8, len),
                2,
                "computing the MD5 of the flash before writing",
            );
            return;
        }
        self.write_region();
    }

    /// Erase and write the current region: deflated first when compressing, a slice per turn
    /// (see [`EspRomSession::deflate_more`]), else in plain blocks padded with 0xFF.
    pub(super) fn write_region(&mut self) {
        if self.compress {
            self.phase = Phase::Deflate;
            self.deflating = Some(Deflating::default());
            self.events.push_back(SessionEvent::Step(Step::Prepare));
            let len = self.regions[self.region].data.len();
            let msg = format!("compressing {len} bytes");
            self.log(LogLevel::Debug, msg);
            self.deflate_more();
            return;
        }
        let block = self.loader.flash_block();
        self.blocks = self.regions[self.region]
            .data
            .chunks(block)
            .map(|c| {
                let mut v = c.to_vec();
                v.resize(block, 0xFF);
                v
            })
            .collect();
        self.begin_write();
    }

    /// Deflate the next slice of the region; once all is in, begin the write. Until then a
    /// timeout due at once brings the caller back (after it has let others run).
    pub(super) fn deflate_more(&mut self) {
        let Some(d) = self.deflating.as_mut() else {
            return;
        };
        let data = &self.regions[self.region].data;
        match d.step(data) {
            Some(z) => {
                self.deflating = None;
                let block = self.loader.flash_block();
                self.blocks = z.chunks(block).map(<[u8]>::to_vec).collect();
                self.begin_write();
            }
            None => {
                debug_assert!(d.consumed() % deflating::SLICE == 0);
                self.wait_until = Some(self.now);
            }
        }
    }

    /// `FLASH_BEGIN` / `FLASH_DEFL_BEGIN` for the current region, its blocks ready.
    fn begin_write(&mut self) {
        let block = self.loader.flash_block();
        let r = &self.regions[self.region];
        let size = r.data.len();
        let erase_blocks = size.div_ceil(block);
        let write_size = if self.loader == Loader::Stub {
            size
        } else {
            erase_blocks * block
        };
        let mut words = vec![
            write_size as u32,
            self.blocks.len() as u32,
            block as u32,
            r.offset,
        ];
        if !matches!(self.chip, "ESP32" | "ESP8266") || self.loader == Loader::Stub {
            words.push(0);
        }
        let msg = format!(
            "writing {} bytes at {:#x} as {} {} blocks of {} bytes",
            size,
            r.offset,
            self.blocks.len(),
            if self.compress { "compressed" } else { "plain" },
            block
        );
        self.log(LogLevel::Info, msg);
        let opc = if self.compress {
            op::FLASH_DEFL_BEGIN
        } else {
            op::FLASH_BEGIN
        };
        if self.phase != Phase::Deflate {
            self.events.push_back(SessionEvent::Step(Step::Prepare));
        }
        self.phase = Phase::Begin;
        self.send_for(
            opc,
            &packet::words(&words),
            0,
            scaled(40, write_size),
            1,
            "erasing flash",
        );
    }

    pub(super) fn send_block(&mut self, seq: usize) {
        if seq == 0 {
            self.events.push_back(SessionEvent::Step(Step::Write));
        }
        let data = &self.blocks[seq];
        let mut body = packet::words(&[data.len() as u32, seq as u32, 0, 0]);
        body.extend_from_slice(data);
        let sum = packet::checksum(data);
        let opc = if self.compress {
            op::FLASH_DEFL_DATA
        } else {
            op::FLASH_DATA
        };
        // A compressed block may inflate to many erase-and-write sectors.
        let timeout = if self.compress {
            scaled(
                40,
                self.regions[self.region].data.len() / self.blocks.len().max(1) * 4,
            )
        } else {
            DEFAULT_TIMEOUT
        };
        self.phase = Phase::Data(seq);
        self.send_for(
            opc,
            &body,
            sum,
            timeout,
            BLOCK_ATTEMPTS,
            "accepting a block",
        );
        self.wrote = true;
    }

    pub(super) fn send_md5(&mut self) {
        let r = &self.regions[self.region];
        let (offset, len) = (r.offset, r.data.len());
        self.phase = Phase::Md5;
        self.events.push_back(SessionEvent::Step(Step::Verify));
        self.send_for(
            op::SPI_FLASH_MD5,
            &packet::words(&[offset, len as u32, 0, 0]),
            0,
            scaled(8, len),
            2,
            "computing the MD5 of the written region",
        );
    }

    pub(super) fn region_done(&mut self) {
        self.region += 1;
        if self.region < self.regions.len() {
            self.begin_region();
            return;
        }
        match self.cfg.job {
            Job::ReadFlash { offset, .. } => {
                self.read_out = std::mem::take(&mut self.regions[0].data);
                self.events.push_back(SessionEvent::ReadBack {
                    offset,
                    data: self.read_out.clone(),
                });
                self.succeed(false);
            }
            Job::SetBootSlot { .. } => {
                let at = self.otadata_offset();
                self.start_read(ReadWhat::OtadataAfter(0), at, 32);
            }
            _ => {
                if let Some(slot) = self.switch_to.take() {
                    self.switch_boot_after_write(slot);
                } else if self.switching && self.loader == Loader::Stub {
                    // The stub does not read flash back: the entry written is the one its MD5
                    // just matched.
                    self.note_written_otadata();
                    self.report_state();
                } else if self.switching {
                    let at = self.otadata_offset();
                    self.start_read(ReadWhat::OtadataAfter(0), at, 32);
                } else if matches!(self.cfg.job, Job::Flash { .. }) && self.planned {
                    // Reports the layout as written, then ends the flash.
                    self.note_written_regions();
                    self.report_state();
                } else {
                    self.end();
                }
            }
        }
    }
}
