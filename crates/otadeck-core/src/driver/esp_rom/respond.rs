//! What the session does with each response, timeout and signal: the [`Machine`] side of
//! [`EspRomSession`].

use super::*;

impl EspRomSession {
    /// What the loader told about the chip, with the version of the app that boots next when
    /// the slots were read.
    pub(super) fn module(&self) -> ModuleInfo {
        let booting = self.state().and_then(|st| {
            st.slot(&st.next_boot)
                .and_then(|s| s.build.as_ref())
                .map(|b| b.version.clone())
        });
        ModuleInfo {
            details: Default::default(),
            family: Family::EspRom,
            model: self.chip.to_string(),
            firmware_version: booting.unwrap_or_default(),
            runtime: if self.cfg.stub.is_some() {
                "ROM loader with a flasher stub".into()
            } else {
                "ROM loader".into()
            },
        }
    }

    pub(super) fn otadata_offset(&self) -> u32 {
        self.table
            .as_ref()
            .and_then(|t| t.otadata())
            .map(|p| p.offset)
            .unwrap_or(0)
    }

    fn on_frame(&mut self, frame: &[u8]) {
        if self.phase == Phase::AwaitOhai && frame == b"OHAI" {
            self.loader = Loader::Stub;
            self.pending = None;
            self.log(LogLevel::Info, "the flasher stub is running".into());
            self.attach();
            return;
        }
        let r = match Response::parse(frame, self.loader) {
            Ok(r) => r,
            Err(e) => {
                self.log(LogLevel::Debug, format!("ignored a frame: {e}"));
                return;
            }
        };
        let Some(p) = self.pending.as_ref() else {
            return;
        };
        if r.op != p.op {
            // Extra SYNC replies, late answers to a retried command.
            return;
        }
        if r.status != 0 {
            self.on_error_status(&r);
            return;
        }
        self.pending = None;
        self.on_ok(r);
    }

    fn on_error_status(&mut self, r: &Response) {
        let phase = self.phase;
        match phase {
            Phase::SecurityInfo => {
                // The ESP32 ROM has no GET_SECURITY_INFO: fall back to the magic register.
                self.pending = None;
                self.phase = Phase::ChipMagic;
                self.read_reg(CHIP_MAGIC_REG);
            }
            Phase::Data(seq) | Phase::MemData(_, seq)
                if matches!(
                    r.error,
                    packet::rom_error::INVALID_CRC | packet::rom_error::INVALID_MESSAGE | 0xC1
                ) =>
            {
                let msg = format!(
                    "block {seq} arrived damaged (error {:#04x}, {}); sending it again",
                    r.error,
                    packet::error_name(r.error)
                );
                self.log(LogLevel::Warn, msg);
                self.retry();
            }
            // A loader that had taken earlier blocks and now cannot act on one has lost the
            // write in progress: it started afresh.
            Phase::Data(seq) if seq > 0 && matches!(r.error, packet::rom_error::FAILED | 0xC6) => {
                let why = format!(
                    "the chip's loader no longer had the write in progress at block {seq} (it \
                     answered error {:#04x}): the chip most likely restarted (its power was cut, \
                     or it was reset)",
                    r.error
                );
                self.fail(
                    Step::Write,
                    FlashErrorKind::ModuleState {
                        why,
                        then: "Keep the board powered and its reset line still, then flash again.",
                    },
                );
            }
            _ => {
                let step = self.step_of();
                let call = packet::op_name(r.op);
                let mut returned = format!(
                    "status {}, error {:#04x} ({})",
                    r.status,
                    r.error,
                    packet::error_name(r.error)
                );
                if let Phase::Data(seq) = phase {
                    returned.push_str(&format!(
                        " for block {seq} of the region at {:#x}",
                        self.regions[self.region].offset
                    ));
                }
                self.fail(step, FlashErrorKind::Rejected { call, returned });
            }
        }
    }

    fn retry(&mut self) {
        let now = self.now;
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        if p.attempts >= p.max_attempts {
            let waiting_for = p.waiting_for;
            let step = self.step_of();
            self.fail(step, FlashErrorKind::NoResponse { waiting_for });
            return;
        }
        p.attempts += 1;
        p.deadline = now + p.timeout;
        let frame = p.frame.clone();
        self.tx.push_back(frame);
    }

    fn on_ok(&mut self, r: Response) {
        match self.phase {
            Phase::Reset(_) | Phase::BaudSettle | Phase::Deflate => {}
            Phase::Sync => {
                self.log(LogLevel::Info, "the ROM loader answered SYNC".into());
                self.events.push_back(SessionEvent::Step(Step::Identify));
                self.phase = Phase::SecurityInfo;
                self.send(op::GET_SECURITY_INFO, &[], 0, DEFAULT_TIMEOUT, 1);
            }
            Phase::SecurityInfo => {
                let id = r
                    .data
                    .get(12..16)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                self.chip = id.map_or("unknown chip", |i| crate::image::esp::chip_name(i as u16));
                self.attached_chip();
            }
            Phase::ChipMagic => {
                self.chip = match r.value {
                    0x00F0_1D83 => "ESP32",
                    0x0000_07C6 => "ESP32-S2",
                    0xFFF0_C101 => {
                        self.loader = Loader::Rom8266;
                        "ESP8266"
                    }
                    other => {
                        let msg = format!(
                            "the chip did not identify as an ESP chip otadeck knows (it answered \
                             {other:#010x} to the chip-type read); going on as an unknown chip"
                        );
                        self.log(LogLevel::Warn, msg);
                        "unknown chip"
                    }
                };
                self.attached_chip();
            }
            Phase::MemBegin(seg) => self.mem_data(seg, 0),
            Phase::MemData(seg, seq) => self.mem_next(seg, seq),
            Phase::MemEnd => {
                self.phase = Phase::AwaitOhai;
                self.pending = Some(Pending {
                    op: 0,
                    frame: Vec::new(),
                    deadline: self.now + DEFAULT_TIMEOUT,
                    timeout: DEFAULT_TIMEOUT,
                    attempts: 1,
                    max_attempts: 1,
                    waiting_for: "starting the flasher stub (no OHAI)",
                });
            }
            Phase::AwaitOhai => {}
            Phase::Attach => {
                self.phase = Phase::SetParams;
                let size = self.cfg.flash_size;
                let words = packet::words(&[0, size, 0x10000, 0x1000, 0x100, 0xFFFF]);
                self.send(op::SPI_SET_PARAMS, &words, 0, DEFAULT_TIMEOUT, 1);
            }
            Phase::SetParams => match self.cfg.baud {
                // A stub loaded after the switch keeps the line at the rate the ROM set.
                Some(baud) if !self.baud_switched => {
                    self.phase = Phase::Baud;
                    let old = if self.loader == Loader::Stub {
                        115_200
                    } else {
                        0
                    };
                    let words = packet::words(&[baud, old]);
                    self.send(op::CHANGE_BAUDRATE, &words, 0, DEFAULT_TIMEOUT, 1);
                }
                _ => self.start_job(),
            },
            Phase::Baud => {
                let baud = self.cfg.baud.unwrap_or(115_200);
                self.log(LogLevel::Info, format!("switching to {baud} baud"));
                self.baud_switched = true;
                self.baud_request = Some(baud);
                self.phase = Phase::BaudSettle;
                self.wait_until = Some(self.now + Duration::from_millis(50));
            }
            Phase::Begin => self.send_block(0),
            Phase::RestartBegin => self.reboot(op::FLASH_END),
            Phase::Data(seq) if self.switching => {
                if seq + 1 < self.blocks.len() {
                    self.send_block(seq + 1);
                } else {
                    self.send_md5();
                }
            }
            Phase::Data(seq) => {
                let size = self.regions[self.region].data.len() as u64;
                let before: u64 = self.regions[..self.region]
                    .iter()
                    .map(|r| r.data.len() as u64)
                    .sum();
                let n = self.blocks.len() as u64;
                self.done = before + size * (seq as u64 + 1) / n;
                self.events.push_back(SessionEvent::Progress {
                    done: self.done,
                    total: self.total,
                });
                if seq + 1 < self.blocks.len() {
                    self.send_block(seq + 1);
                } else {
                    self.send_md5();
                }
            }
            Phase::Md5 => self.check_md5(&r.data),
            Phase::Precheck => self.precheck_done(&r.data),
            Phase::Read(what) => self.on_read(what, &r.data),
            Phase::End => self.succeed(true),
        }
    }

    fn attached_chip(&mut self) {
        let msg = format!("chip: {}", self.chip);
        self.log(LogLevel::Info, msg);
        // The ROM reads the layout first; a flasher stub is loaded only for the writes (see
        // `write_planned`).
        self.attach();
    }

    fn attach(&mut self) {
        self.phase = Phase::Attach;
        self.events.push_back(SessionEvent::Step(Step::Prepare));
        let words = if self.loader == Loader::Stub {
            packet::words(&[0])
        } else {
            packet::words(&[0, 0])
        };
        self.send(op::SPI_ATTACH, &words, 0, DEFAULT_TIMEOUT, 1);
    }

    /// The flash's MD5 before a region is written: skip the region when it matches (the ROM
    /// answers 32 hex digits, a stub 16 raw bytes).
    fn precheck_done(&mut self, data: &[u8]) {
        let r = &self.regions[self.region];
        let want: [u8; 16] = Md5::digest(&r.data).into();
        let want_hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
        if md5_answer(data).as_deref() != Some(want_hex.as_str()) {
            return self.write_region();
        }
        let (offset, len) = (r.offset, r.data.len() as u64);
        let msg = format!(
            "{offset:#x}: the flash already holds these {len} bytes (MD5 matches): not written again"
        );
        self.log(LogLevel::Info, msg);
        self.done += len;
        self.events.push_back(SessionEvent::Progress {
            done: self.done,
            total: self.total,
        });
        self.region_done();
    }

    fn check_md5(&mut self, data: &[u8]) {
        let r = &self.regions[self.region];
        let want: [u8; 16] = Md5::digest(&r.data).into();
        let want_hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
        let got = match md5_answer(data) {
            Some(hex) => hex,
            None => {
                let got = format!("{} bytes", data.len());
                self.fail(
                    Step::Verify,
                    FlashErrorKind::BadAnswer {
                        call: "SPI_FLASH_MD5",
                        got,
                    },
                );
                return;
            }
        };
        if got != want_hex {
            let text = format!(
                "the flash at {:#x} ({} bytes) has MD5 {got}, the image {want_hex}",
                r.offset,
                r.data.len()
            );
            self.fail(Step::Verify, FlashErrorKind::Mismatch(text));
            return;
        }
        let msg = format!("MD5 of {:#x}+{} verified", r.offset, r.data.len());
        self.log(LogLevel::Info, msg);
        self.region_done();
    }

    fn on_read(&mut self, what: ReadWhat, data: &[u8]) {
        let want = (self.read_len - self.read_buf.len()).min(64);
        if data.len() < want {
            let got = format!("{} bytes where {want} were asked", data.len());
            self.fail(
                Step::Identify,
                FlashErrorKind::BadAnswer {
                    call: "READ_FLASH_SLOW",
                    got,
                },
            );
            return;
        }
        self.read_buf.extend_from_slice(&data[..want]);
        if what == ReadWhat::User {
            self.events.push_back(SessionEvent::Progress {
                done: self.read_buf.len() as u64,
                total: self.read_len as u64,
            });
        }
        let table_done = what == ReadWhat::Table && slots::table_complete(&self.read_buf);
        if self.read_buf.len() < self.read_len && !table_done {
            self.next_read();
            return;
        }
        let buf = std::mem::take(&mut self.read_buf);
        match what {
            ReadWhat::User => {
                let offset = self.read_addr;
                self.regions = vec![Region { offset, data: buf }];
                self.region = 0;
                self.send_md5();
            }
            ReadWhat::Table => match esp_partition::parse(&buf)
                .map_err(|e| e.to_string())
                .and_then(|t| t.check().map(|()| t).map_err(|e| e.to_string()))
                .and_then(|t| {
                    slots::check_table(&t, self.cfg.flash_size)
                        .map(|()| t)
                        .map_err(|e| e.to_string())
                }) {
                Ok(t) => {
                    self.table = Some(t);
                    match self.table.as_ref().and_then(|t| t.otadata()) {
                        Some(p) => {
                            let at = p.offset;
                            self.start_read(ReadWhat::Otadata(0), at, 32);
                        }
                        None => self.next_head(0),
                    }
                }
                Err(e) if matches!(self.cfg.job, Job::Flash { .. }) => self.flash_without_table(&e),
                Err(e) => {
                    let text = format!("no usable partition table at {TABLE_OFFSET:#x}: {e}");
                    self.fail(Step::Identify, FlashErrorKind::Unsuitable(text));
                }
            },
            ReadWhat::Otadata(i) | ReadWhat::OtadataAfter(i) => {
                self.entries[usize::from(i)] = buf;
                let at = self.otadata_offset() + SECTOR_LEN as u32;
                match what {
                    ReadWhat::Otadata(0) => self.start_read(ReadWhat::Otadata(1), at, 32),
                    ReadWhat::OtadataAfter(0) => self.start_read(ReadWhat::OtadataAfter(1), at, 32),
                    ReadWhat::Otadata(_) => self.next_head(0),
                    _ => self.report_state(),
                }
            }
            ReadWhat::Head(i) => {
                let label = self.app_partitions()[i].0.clone();
                self.heads.push((label, buf));
                self.next_head(i + 1);
            }
            ReadWhat::Segment | ReadWhat::ImageEnd => self.on_walk_read(what, &buf),
        }
    }

    fn next_head(&mut self, i: usize) {
        let apps = self.app_partitions();
        if let Some((_, offset, _)) = apps.get(i) {
            self.start_read(ReadWhat::Head(i), *offset, HEAD_LEN);
            return;
        }
        self.walk_slots(0);
    }

    /// Every slot read and checked: go on with the job.
    pub(super) fn after_slots(&mut self) {
        match self.cfg.job {
            Job::SetBootSlot { slot } => self.plan_set_boot(slot),
            Job::Flash { .. } => self.plan_flash(),
            _ => self.report_state(),
        }
    }

    pub(super) fn state(&self) -> Option<PartitionState> {
        let table = self.table.as_ref()?;
        let od = table
            .otadata()
            .map(|_| slots::otadata_from_entries(&self.entries[0], &self.entries[1]));
        Some(slots::partition_state(
            table,
            od.as_deref(),
            &self.heads,
            &self.problems,
            &self.image_lens,
        ))
    }

    pub(super) fn report_state(&mut self) {
        if let Some(st) = self.state() {
            for line in st.lines() {
                self.log(LogLevel::Info, line);
            }
            self.events.push_back(SessionEvent::Partitions(st));
        }
        if matches!(self.cfg.job, Job::Flash { .. }) {
            self.end();
        } else {
            self.succeed(false);
        }
    }

    pub(super) fn plan_set_boot(&mut self, slot: u8) {
        let Some(table) = self.table.as_ref() else {
            return;
        };
        let count = table.ota_app_count();
        let (Some(od_part), Some(target)) = (table.otadata(), table.ota_slot(slot)) else {
            let text = format!(
                "the partition table has no otadata partition or no ota_{slot} (it has {count} \
                 OTA slots)"
            );
            self.fail(Step::Prepare, FlashErrorKind::Unsuitable(text));
            return;
        };
        let (od_offset, label) = (od_part.offset, target.label.clone());
        let bootable = self
            .heads
            .iter()
            .any(|(l, h)| *l == label && slots::descriptor(h).is_some());
        if !bootable {
            let text = format!("{label} holds no ESP-IDF app image, so it cannot be made to boot");
            self.fail(Step::Prepare, FlashErrorKind::Unsuitable(text));
            return;
        }
        if let Some((_, problem)) = self.problems.iter().find(|(l, _)| *l == label) {
            let kind = FlashErrorKind::ModuleState {
                why: format!("{label} cannot be made to boot: {problem}"),
                then: "Flash that slot again, then make it boot.",
            };
            self.fail(Step::Prepare, kind);
            return;
        }
        let current = slots::otadata_from_entries(&self.entries[0], &self.entries[1]);
        let new = match otadata::set_boot(&current, slot, count, false) {
            Ok(n) => n,
            Err(e) => {
                self.fail(Step::Prepare, FlashErrorKind::Unsuitable(e.to_string()));
                return;
            }
        };
        let sector = (0..2)
            .find(|&i| {
                new[i * SECTOR_LEN..i * SECTOR_LEN + 32]
                    != current[i * SECTOR_LEN..i * SECTOR_LEN + 32]
            })
            .unwrap_or(0);
        let start = sector * SECTOR_LEN;
        let msg = format!("{label} boots next: rewriting otadata entry {sector}");
        self.log(LogLevel::Info, msg);
        self.regions = vec![Region {
            offset: od_offset + start as u32,
            data: new[start..start + SECTOR_LEN].to_vec(),
        }];
        self.region = 0;
        self.compress = false;
        self.begin_region();
    }
}

impl Machine for EspRomSession {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.now = now;
        if self.finished {
            return;
        }
        for item in self.decoder.feed(data) {
            match item {
                SlipItem::Frame(f) => self.on_frame(&f),
                SlipItem::Error(e) => self.log(LogLevel::Debug, format!("bad SLIP frame: {e:?}")),
            }
            if self.finished {
                return;
            }
        }
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        if self.finished {
            return;
        }
        if let Some(t) = self.wait_until.filter(|t| *t <= now) {
            let _ = t;
            self.wait_until = None;
            match self.phase {
                Phase::Reset(i) => {
                    let kind = self.cfg.reset.unwrap_or(ResetKind::Classic);
                    if i + 1 < kind.steps().len() {
                        self.phase = Phase::Reset(i + 1);
                        self.signal_step(kind, i + 1);
                    } else {
                        self.sync();
                    }
                }
                Phase::BaudSettle => {
                    self.decoder.reset();
                    self.start_job();
                }
                Phase::Deflate => self.deflate_more(),
                _ => {}
            }
            return;
        }
        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
            if let Phase::Data(seq) = self.phase {
                let msg = format!("no answer to block {seq}; sending it again");
                self.log(LogLevel::Warn, msg);
            }
            self.retry();
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// The reset into the loader (see [`crate::driver::esp_rom::reset`]).
    fn poll_signals(&mut self) -> Option<SignalStep> {
        self.signals.pop_front()
    }

    /// Set when the loader has agreed to a new baud rate.
    fn poll_baud(&mut self) -> Option<u32> {
        self.baud_request.take()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if self.finished {
            return None;
        }
        self.wait_until
            .or_else(|| self.pending.as_ref().map(|p| p.deadline))
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    fn cancel(&mut self, _now: Duration) {
        let step = self.step_of();
        self.fail(step, FlashErrorKind::Cancelled);
    }

    fn link_lost(&mut self, _now: Duration) {
        let step = self.step_of();
        self.fail(step, FlashErrorKind::LinkLost);
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// An `SPI_FLASH_MD5` answer as lower-case hex: the ROM sends 32 hex digits, a stub 16 bytes.
fn md5_answer(data: &[u8]) -> Option<String> {
    match data.len() {
        16 => Some(data.iter().map(|b| format!("{b:02x}")).collect()),
        32 => Some(String::from_utf8_lossy(data).to_ascii_lowercase()),
        _ => None,
    }
}
