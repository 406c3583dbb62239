//! An ESP32 in its serial ROM loader, over 4 MiB of simulated NOR flash: SLIP-framed commands,
//! 4-byte ROM status, erase on `FLASH_BEGIN`/`FLASH_DEFL_BEGIN` (sector granular) with writes that
//! can only clear bits, inflate of `FLASH_DEFL_DATA`, hex `SPI_FLASH_MD5`, 64-byte
//! `READ_FLASH_SLOW`, and the register reads esptool makes (chip magic, SPI1 JEDEC ID).
//!
//! The flash starts with a partition table (nvs, otadata, phy_init, ota_0, ota_1), otadata
//! selecting ota_0, and an app image in each slot. [`EspRomSim::boot`] runs the second-stage
//! bootloader's choice over whatever the flash holds.
//!
//! Loading a flasher stub (`MEM_BEGIN`/`MEM_DATA`/`MEM_END` with an entry point) switches the
//! simulator to the stub's dialect, as the real stub would be once it runs: the `OHAI` frame,
//! 2-byte status with the stub's error codes, raw 16-byte MD5, exact sizes in
//! `FLASH_DEFL_BEGIN`, a fifth word in `FLASH_BEGIN`. The uploaded bytes are not executed.
//!
//! Choices where the real ROM is not documented: a `*_DATA` block repeating the last accepted
//! sequence number is acknowledged again without being written (a host retrying a block whose
//! answer was lost); any other out-of-order block fails with error 0x06.

use std::collections::HashMap;
use std::time::Duration;

use md5::{Digest, Md5};
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZFlush, MZStatus};
use otadeck_core::driver::esp_rom::packet::{self, op, rom_error, Response};
use otadeck_core::image::{esp, esp_partition, otadata};
use otadeck_core::link::slip::{self, SlipDecoder, SlipItem};

use crate::firmware::demo_image;
use crate::line::Device;

/// Simulated flash size.
pub const FLASH_SIZE: usize = 4 * 1024 * 1024;
/// Erase granularity.
pub const SECTOR: usize = 0x1000;
/// What READ_REG 0x40001000 gives on an ESP32.
pub const ESP32_MAGIC: u32 = 0x00F0_1D83;
/// JEDEC ID of a 4 MB Winbond part, as SPI1 W0 holds it.
pub const JEDEC_ID: u32 = 0x0016_40EF;
/// Version preloaded in ota_0 (the slot that boots).
pub const OTA0_VERSION: &str = "2.0.3";
/// Version preloaded in ota_1.
pub const OTA1_VERSION: &str = "1.9.0";
/// The preloaded partition table: (type, subtype, offset, size, label).
pub const PARTITIONS: &[(u8, u8, u32, u32, &str)] = &[
    (1, 2, 0x9000, 0x4000, "nvs"),
    (1, 0, 0xd000, 0x2000, "otadata"),
    (1, 1, 0xf000, 0x1000, "phy_init"),
    (0, 0x10, 0x10000, 0x180000, "ota_0"),
    (0, 0x11, 0x190000, 0x180000, "ota_1"),
];

const SPI1_CMD: u32 = 0x3FF4_2000;
const SPI1_USER2: u32 = 0x3FF4_2024;
const SPI1_W0: u32 = 0x3FF4_2080;
const SPI_USR: u32 = 1 << 18;

struct Write {
    compressed: bool,
    offset: usize,
    block_size: usize,
    next_seq: u32,
    written: usize,
    inflater: Option<Box<InflateState>>,
}

/// The simulated chip; see the module docs.
pub struct EspRomSim {
    /// The flash contents.
    pub flash: Vec<u8>,
    /// Opcodes received, in order (for tests).
    pub ops: Vec<u8>,
    /// Boots done and the label each started (`None`: no bootable app).
    pub boots: Vec<Option<String>>,
    /// The baud rate CHANGE_BAUDRATE asked for, until the line follows it.
    pub baud_change: Option<u32>,
    /// Fault: a flash write touching this address fails with error 0x08.
    pub fail_write_at: Option<usize>,
    decoder: SlipDecoder,
    out: Vec<u8>,
    regs: HashMap<u32, u32>,
    write: Option<Write>,
    powered: bool,
    /// A stub was loaded and "runs": the stub dialect is spoken.
    pub stub_mode: bool,
}

impl std::fmt::Debug for EspRomSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspRomSim")
            .field("ops", &self.ops.len())
            .field("boots", &self.boots)
            .finish()
    }
}

impl Default for EspRomSim {
    fn default() -> Self {
        Self::new()
    }
}

/// One otadata select entry selecting `seq`, state `state`.
pub fn select_entry(seq: u32, state: u32) -> [u8; 32] {
    let mut e = [0xFF; 32];
    e[..4].copy_from_slice(&seq.to_le_bytes());
    e[24..28].copy_from_slice(&state.to_le_bytes());
    e[28..].copy_from_slice(&otadata::select_crc(seq).to_le_bytes());
    e
}

impl EspRomSim {
    /// A chip with the preloaded table, otadata and app slots, waiting in its ROM loader.
    pub fn new() -> Self {
        let mut flash = vec![0xFF; FLASH_SIZE];
        let table = esp_partition::build_table(PARTITIONS);
        flash[0x8000..0x8000 + table.len()].copy_from_slice(&table);
        flash[0xd000..0xd020].copy_from_slice(&select_entry(1, 2));
        let a = demo_image(OTA0_VERSION, 64 * 1024);
        let b = demo_image(OTA1_VERSION, 48 * 1024);
        flash[0x10000..0x10000 + a.len()].copy_from_slice(&a);
        flash[0x190000..0x190000 + b.len()].copy_from_slice(&b);
        EspRomSim {
            flash,
            ops: Vec::new(),
            boots: Vec::new(),
            baud_change: None,
            fail_write_at: None,
            decoder: SlipDecoder::default(),
            out: Vec::new(),
            regs: HashMap::new(),
            write: None,
            powered: true,
            stub_mode: false,
        }
    }

    /// Power is cut: whatever was in progress stops where it was; the flash keeps what it holds.
    pub fn power_cut(&mut self) {
        self.powered = false;
        self.stub_mode = false;
        self.write = None;
        self.decoder.reset();
        self.out.clear();
    }

    /// Power comes back: the chip boots (see [`EspRomSim::boot`]) and, with IO0 held low as a
    /// test wants, is back in its loader.
    pub fn power_on(&mut self) -> Option<String> {
        self.powered = true;
        let booted = self.boot();
        self.out.extend_from_slice(
            b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n",
        );
        booted
    }

    /// The second-stage bootloader's choice: the slot otadata selects if it holds a valid image,
    /// else the first other app slot that does. Recorded in [`EspRomSim::boots`].
    pub fn boot(&mut self) -> Option<String> {
        let choice = self.boot_choice();
        self.boots.push(choice.clone());
        choice
    }

    /// What [`EspRomSim::boot`] would start now.
    pub fn boot_choice(&self) -> Option<String> {
        let table = esp_partition::parse(&self.flash[0x8000..0x8000 + 0xC00]).ok()?;
        let count = table.ota_app_count();
        let od = table.otadata().map(|p| {
            let o = p.offset as usize;
            self.flash[o..o + otadata::OTADATA_LEN].to_vec()
        });
        let first = otadeck_core::driver::esp_rom::slots::boot_label(&table, od.as_deref());
        let mut order: Vec<&esp_partition::Partition> = table
            .partitions
            .iter()
            .filter(|p| p.kind == 0 && p.label == first)
            .collect();
        order.extend(
            table
                .partitions
                .iter()
                .filter(|p| p.kind == 0 && p.label != first),
        );
        let _ = count;
        order
            .into_iter()
            .find(|p| crate::esp_ota::validates(self.partition(p)))
            .map(|p| p.label.clone())
    }

    /// The version of the app in the slot with this label.
    pub fn slot_version(&self, label: &str) -> Option<String> {
        let table = esp_partition::parse(&self.flash[0x8000..0x8000 + 0xC00]).ok()?;
        let p = table.find(label)?;
        esp::app_descriptor(self.partition(p)).map(|d| d.version)
    }

    fn partition(&self, p: &esp_partition::Partition) -> &[u8] {
        let start = (p.offset as usize).min(FLASH_SIZE);
        let end = (start + p.size as usize).min(FLASH_SIZE);
        &self.flash[start..end]
    }

    fn reply(&mut self, opc: u8, value: u32, data: &[u8], error: Option<u8>) {
        let status = match error {
            None => [0, 0, 0, 0],
            Some(e) if self.stub_mode => [1, stub_code(e), 0, 0],
            Some(e) => [1, e, 0, 0],
        };
        let status = if self.stub_mode {
            &status[..2]
        } else {
            &status[..]
        };
        self.out
            .extend(slip::encode(&Response::encode(opc, value, data, status)));
    }

    fn program(&mut self, at: usize, data: &[u8]) -> Result<(), u8> {
        let end = at.checked_add(data.len()).filter(|e| *e <= FLASH_SIZE);
        let Some(end) = end else {
            return Err(rom_error::FLASH_WRITE);
        };
        if self.fail_write_at.is_some_and(|f| (at..end).contains(&f)) {
            return Err(rom_error::FLASH_WRITE);
        }
        for (cell, b) in self.flash[at..end].iter_mut().zip(data) {
            *cell &= *b;
        }
        Ok(())
    }

    fn erase(&mut self, offset: usize, size: usize) -> Result<(), u8> {
        let start = offset / SECTOR * SECTOR;
        let end = (offset + size).div_ceil(SECTOR) * SECTOR;
        if end > FLASH_SIZE {
            return Err(rom_error::FLASH_WRITE);
        }
        self.flash[start..end].fill(0xFF);
        Ok(())
    }

    fn words(data: &[u8]) -> Vec<u32> {
        data.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    fn on_frame(&mut self, frame: &[u8]) {
        if frame.len() < 8 || frame[0] != 0 {
            return;
        }
        let opc = frame[1];
        self.ops.push(opc);
        let size = usize::from(u16::from_le_bytes([frame[2], frame[3]]));
        let sum = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let data = &frame[8..];
        if data.len() != size {
            self.reply(opc, 0, &[], Some(rom_error::INVALID_MESSAGE));
            return;
        }
        let data = data.to_vec();
        let w = Self::words(&data);
        match opc {
            op::SYNC => {
                if data != packet::sync_data() {
                    self.reply(opc, 0, &[], Some(rom_error::INVALID_MESSAGE));
                    return;
                }
                for _ in 0..8 {
                    self.reply(op::SYNC, 0x2012_0707, &[], None);
                }
            }
            op::READ_REG if w.len() == 1 => {
                let v = match w[0] {
                    0x4000_1000 => ESP32_MAGIC,
                    a => self.regs.get(&a).copied().unwrap_or(0),
                };
                self.reply(opc, v, &[], None);
            }
            op::WRITE_REG if w.len() >= 2 => {
                let (addr, val) = (w[0], w[1]);
                if addr == SPI1_CMD && val & SPI_USR != 0 {
                    let cmd = self.regs.get(&SPI1_USER2).copied().unwrap_or(0) & 0xFF;
                    let w0 = if cmd == 0x9F { JEDEC_ID } else { 0 };
                    self.regs.insert(SPI1_W0, w0);
                    self.regs.insert(SPI1_CMD, val & !SPI_USR);
                } else {
                    self.regs.insert(addr, val);
                }
                self.reply(opc, 0, &[], None);
            }
            op::SPI_ATTACH | op::SPI_SET_PARAMS => self.reply(opc, 0, &[], None),
            op::CHANGE_BAUDRATE if !w.is_empty() => {
                self.baud_change = Some(w[0]);
                self.reply(opc, 0, &[], None);
            }
            op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN if w.len() >= 4 => self.begin(opc, &w),
            op::FLASH_DATA | op::FLASH_DEFL_DATA if data.len() >= 16 => {
                self.data(opc, &w[..4], &data[16..], sum)
            }
            op::FLASH_END | op::FLASH_DEFL_END => {
                self.write = None;
                self.reply(opc, 0, &[], None);
                if w.first() == Some(&0) {
                    self.boot();
                }
            }
            op::SPI_FLASH_MD5 if w.len() >= 2 => {
                let (a, n) = (w[0] as usize, w[1] as usize);
                match a.checked_add(n).filter(|e| *e <= FLASH_SIZE) {
                    Some(e) => {
                        let d: [u8; 16] = Md5::digest(&self.flash[a..e]).into();
                        if self.stub_mode {
                            self.reply(opc, 0, &d, None);
                        } else {
                            let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
                            self.reply(opc, 0, hex.as_bytes(), None);
                        }
                    }
                    None => self.reply(opc, 0, &[], Some(rom_error::FLASH_READ)),
                }
            }
            // The stub reads flash only with its windowed READ_FLASH.
            op::READ_FLASH_SLOW if self.stub_mode => {
                self.reply(opc, 0, &[], Some(rom_error::INVALID_MESSAGE))
            }
            op::READ_FLASH_SLOW if w.len() >= 2 => {
                let (a, n) = (w[0] as usize, w[1] as usize);
                if n > 64 || a + 64 > FLASH_SIZE {
                    self.reply(opc, 0, &[], Some(rom_error::FLASH_READ_LENGTH));
                } else {
                    let buf = self.flash[a..a + 64].to_vec();
                    self.reply(opc, 0, &buf, None);
                }
            }
            op::MEM_BEGIN if w.len() >= 4 => self.reply(opc, 0, &[], None),
            op::MEM_DATA if data.len() >= 16 => {
                let err = (packet::checksum(&data[16..]) != sum).then_some(rom_error::INVALID_CRC);
                self.reply(opc, 0, &[], err);
            }
            op::MEM_END if w.len() >= 2 => {
                self.reply(opc, 0, &[], None);
                if w[1] != 0 {
                    self.stub_mode = true;
                    self.out.extend(slip::encode(b"OHAI"));
                }
            }
            _ => self.reply(opc, 0, &[], Some(rom_error::INVALID_MESSAGE)),
        }
    }

    fn begin(&mut self, opc: u8, w: &[u32]) {
        let (erase_size, _blocks, block_size, offset) =
            (w[0] as usize, w[1], w[2] as usize, w[3] as usize);
        if let Err(e) = self.erase(offset, erase_size) {
            self.reply(opc, 0, &[], Some(e));
            return;
        }
        let compressed = opc == op::FLASH_DEFL_BEGIN;
        self.write = Some(Write {
            compressed,
            offset,
            block_size,
            next_seq: 0,
            written: 0,
            inflater: compressed.then(|| InflateState::new_boxed(DataFormat::Zlib)),
        });
        self.reply(opc, 0, &[], None);
    }

    fn data(&mut self, opc: u8, w: &[u32], body: &[u8], sum: u32) {
        let (len, seq) = (w[0] as usize, w[1]);
        if len != body.len() {
            self.reply(opc, 0, &[], Some(rom_error::INVALID_MESSAGE));
            return;
        }
        if packet::checksum(body) != sum {
            self.reply(opc, 0, &[], Some(rom_error::INVALID_CRC));
            return;
        }
        let Some(st) = self.write.as_mut() else {
            self.reply(opc, 0, &[], Some(rom_error::FAILED));
            return;
        };
        if st.compressed != (opc == op::FLASH_DEFL_DATA) {
            self.reply(opc, 0, &[], Some(rom_error::FAILED));
            return;
        }
        if seq + 1 == st.next_seq {
            self.reply(opc, 0, &[], None);
            return;
        }
        if seq != st.next_seq {
            self.reply(opc, 0, &[], Some(rom_error::FAILED));
            return;
        }
        st.next_seq += 1;
        let at = st.offset + st.written;
        let produced = if let Some(inf) = st.inflater.as_mut() {
            match inflate_all(inf, body) {
                Ok(out) => out,
                Err(()) => {
                    self.write = None;
                    self.reply(opc, 0, &[], Some(rom_error::DEFLATE));
                    return;
                }
            }
        } else {
            let mut v = body.to_vec();
            v.resize(st.block_size.max(body.len()), 0xFF);
            v
        };
        if let Some(st) = self.write.as_mut() {
            st.written += produced.len();
        }
        match self.program(at, &produced) {
            Ok(()) => self.reply(opc, 0, &[], None),
            Err(e) => self.reply(opc, 0, &[], Some(e)),
        }
    }
}

/// The stub's code for what the ROM reports as `rom`.
fn stub_code(rom: u8) -> u8 {
    match rom {
        rom_error::INVALID_CRC => 0xC1,
        rom_error::DEFLATE => 0xC7,
        rom_error::FLASH_WRITE | rom_error::FLASH_READ => 0xC4,
        rom_error::FLASH_READ_LENGTH => 0xC0,
        rom_error::FAILED => 0xC6,
        _ => 0xC3,
    }
}

fn inflate_all(state: &mut InflateState, mut input: &[u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let r = inflate(state, input, &mut buf, MZFlush::None);
        out.extend_from_slice(&buf[..r.bytes_written]);
        input = &input[r.bytes_consumed..];
        match r.status {
            Ok(MZStatus::StreamEnd) => return Ok(out),
            Ok(_) if input.is_empty() && r.bytes_written < buf.len() => return Ok(out),
            Ok(_) => {}
            Err(miniz_oxide::MZError::Buf) if input.is_empty() => return Ok(out),
            Err(_) => return Err(()),
        }
    }
}

impl Device for EspRomSim {
    fn receive(&mut self, _now: Duration, data: &[u8]) {
        if !self.powered {
            return;
        }
        for item in self.decoder.feed(data) {
            if let SlipItem::Frame(f) = item {
                self.on_frame(&f);
            }
        }
    }

    fn transmit(&mut self, _now: Duration) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn next_wakeup(&self) -> Option<Duration> {
        None
    }

    fn tick(&mut self, _now: Duration) {}
}
