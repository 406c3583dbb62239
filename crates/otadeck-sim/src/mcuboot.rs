//! A Zephyr application under MCUboot answering MCUmgr SMP on its serial console: OS group (echo,
//! reset, params) and image group (state, test/confirm, upload, erase, slot info) over
//! [`Slots`] with trailer semantics. Frames whose CRC fails are dropped, as Zephyr does; a reset
//! is answered first, then the module reboots through the bootloader.

use std::time::Duration;

use otadeck_core::driver::mcuboot_smp::state::images_body;
use otadeck_core::link::smp::{self, img_rc, rc, Packet, Value};
use otadeck_core::link::smp_frame::{self, Frame, FrameDecoder};
use sha2::{Digest, Sha256};

use crate::line::Device;
pub use crate::mcuboot_slots::{demo_mcuboot_image, BootResult, NextSwap, Slots};

/// How the simulated module is built.
#[derive(Debug, Clone)]
pub struct McuBootConfig {
    /// Size of each slot.
    pub slot_size: usize,
    /// `buf_size` reported by params; larger requests are dropped.
    pub buf_size: usize,
    /// Time from reset (or power) to answering again.
    pub boot_time: Duration,
    /// Print Zephyr's boot banner on the console at each boot.
    pub banner: bool,
    /// Answer the params request (older Zephyr builds do not).
    pub params: bool,
    /// Answer the slot info request (Zephyr before 3.7 does not).
    pub slot_info: bool,
    /// Fault: the uploaded byte at this image offset is stored with its low bit flipped (a
    /// failing flash cell), so the image no longer matches its `sha` and hash TLV.
    pub flash_fault: Option<u64>,
}

impl Default for McuBootConfig {
    fn default() -> Self {
        McuBootConfig {
            slot_size: 256 * 1024,
            buf_size: 384,
            boot_time: Duration::from_millis(300),
            banner: true,
            params: true,
            slot_info: true,
            flash_fault: None,
        }
    }
}

/// An upload in progress (kept across power cuts: the simulated module finds its offset again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    /// Announced image length.
    pub len: u64,
    /// Announced SHA-256 of the file.
    pub sha: Option<Vec<u8>>,
    /// Bytes received so far.
    pub off: u64,
}

/// The simulated module.
#[derive(Debug)]
pub struct McuBoot {
    /// Configuration.
    pub config: McuBootConfig,
    /// The flash slots.
    pub slots: Slots,
    /// The upload in progress, if any.
    pub upload: Option<UploadState>,
    decoder: FrameDecoder,
    out: Vec<u8>,
    /// Resetting: reboot at this instant.
    reset_at: Option<Duration>,
    /// Booting: deaf until this instant.
    booting_until: Option<Duration>,
    /// Frames dropped for a bad CRC or framing.
    pub dropped_frames: u32,
    /// Requests answered.
    pub requests: u32,
    /// Resets and power cycles.
    pub resets: u64,
}

/// Zephyr's boot banner.
pub const BANNER: &str = "*** Booting Zephyr OS build v3.7.0 ***\r\n";

impl McuBoot {
    /// A module whose primary slot holds `running` (confirmed), booted and listening.
    pub fn new(config: McuBootConfig, running: Vec<u8>) -> Self {
        McuBoot {
            slots: Slots::new(config.slot_size, running),
            config,
            upload: None,
            decoder: FrameDecoder::new(),
            out: Vec::new(),
            reset_at: None,
            booting_until: None,
            dropped_frames: 0,
            requests: 0,
            resets: 0,
        }
    }

    /// Cut the power and restore it: RAM (a partial frame, queued output) is lost, flash is
    /// kept, and the bootloader runs.
    pub fn power_cycle(&mut self, now: Duration) {
        self.out.clear();
        self.reset_at = None;
        self.reboot(now);
    }

    /// The version the module runs.
    pub fn running_version(&self) -> Option<String> {
        self.slots.running_version()
    }

    fn reboot(&mut self, now: Duration) {
        self.resets += 1;
        self.decoder.reset();
        if self.slots.next_swap() != NextSwap::None {
            // The secondary's contents change with the swap: the upload state no longer applies.
            self.upload = None;
        }
        self.slots.boot();
        self.booting_until = Some(now + self.config.boot_time);
    }

    fn handle(&mut self, request: Packet) -> Option<Packet> {
        let h = request.header;
        if !h.op.is_request() {
            return None;
        }
        self.requests += 1;
        let v2 = h.version >= 1;
        let body = &request.body;
        let result = match (h.group, h.id) {
            (smp::GROUP_OS, smp::ID_ECHO) => Ok(Value::map([(
                "r",
                Value::Text(body.get("d").and_then(Value::as_text).unwrap_or("").into()),
            )])),
            (smp::GROUP_OS, smp::ID_RESET) => {
                self.reset_at = Some(Duration::MAX);
                Ok(Value::map([]))
            }
            (smp::GROUP_OS, smp::ID_PARAMS) if self.config.params => Ok(Value::map([
                ("buf_size", Value::Int(self.config.buf_size as i128)),
                ("buf_count", Value::Int(4)),
            ])),
            (smp::GROUP_IMAGE, smp::ID_STATE) if h.op == smp::Op::Read => {
                Ok(images_body(&self.slots.image_state()))
            }
            (smp::GROUP_IMAGE, smp::ID_STATE) => self.set_state(body),
            (smp::GROUP_IMAGE, smp::ID_UPLOAD) => self.upload(body),
            (smp::GROUP_IMAGE, smp::ID_ERASE) => self.erase(body),
            (smp::GROUP_IMAGE, smp::ID_SLOT_INFO) if self.config.slot_info => Ok(self.slot_info()),
            _ => Err(Error::Mgmt(rc::ENOTSUP)),
        };
        let body = match result {
            Ok(b) => b,
            Err(Error::Mgmt(code)) => Value::map([("rc", Value::Int(code.into()))]),
            Err(Error::Image(code)) if v2 => Value::map([(
                "err",
                Value::map([
                    ("group", Value::Int(smp::GROUP_IMAGE.into())),
                    ("rc", Value::Int(code.into())),
                ]),
            )]),
            Err(Error::Image(code)) => Value::map([("rc", Value::Int(legacy(code).into()))]),
        };
        Some(request.reply(body))
    }

    fn set_state(&mut self, body: &Value) -> Result<Value, Error> {
        let confirm = body
            .get("confirm")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let hash = body.get("hash").and_then(Value::as_bytes);
        let swap = self.slots.next_swap();
        match hash {
            None if confirm => self.slots.confirm(),
            None => return Err(Error::Mgmt(rc::EINVAL)),
            Some(h) if Some(h) == self.slots.hash(0).as_deref() => {
                if confirm {
                    self.slots.confirm();
                } else if self.slots.running.is_some() {
                    return Err(Error::Image(img_rc::IMAGE_SETTING_TEST_TO_ACTIVE_DENIED));
                }
            }
            Some(h) if Some(h) == self.slots.hash(1).as_deref() => {
                if swap == NextSwap::Revert {
                    // The secondary holds the image MCUboot returns to; it is in use.
                    return Err(Error::Image(img_rc::IMAGE_ALREADY_PENDING));
                }
                self.slots.set_pending(confirm);
            }
            Some(_) => return Err(Error::Image(img_rc::HASH_NOT_FOUND)),
        }
        Ok(images_body(&self.slots.image_state()))
    }

    fn upload(&mut self, body: &Value) -> Result<Value, Error> {
        let off = body
            .get("off")
            .and_then(Value::as_u64)
            .ok_or(Error::Mgmt(rc::EINVAL))?;
        let data = body
            .get("data")
            .and_then(Value::as_bytes)
            .ok_or(Error::Mgmt(rc::EINVAL))?;
        if off == 0 {
            let len = body
                .get("len")
                .and_then(Value::as_u64)
                .ok_or(Error::Mgmt(rc::EINVAL))?;
            let sha = body
                .get("sha")
                .and_then(Value::as_bytes)
                .map(<[u8]>::to_vec);
            if body.get("image").and_then(Value::as_u64).unwrap_or(0) != 0 {
                // A single-image module.
                return Err(Error::Image(img_rc::INVALID_SLOT));
            }
            if let Some(u) = &self.upload {
                if sha.is_some() && u.sha == sha && u.len == len && u.off < len {
                    // The same image again: carry on where it stopped (Zephyr compares `sha`).
                    return Ok(Value::map([("off", Value::Int(u.off.into()))]));
                }
            }
            match self.slots.next_swap() {
                NextSwap::Test | NextSwap::Perm => {
                    return Err(Error::Image(img_rc::IMAGE_ALREADY_PENDING))
                }
                NextSwap::Revert => {
                    return Err(Error::Image(img_rc::IMAGE_SETTING_TEST_TO_ACTIVE_DENIED))
                }
                NextSwap::None => {}
            }
            if len as usize > self.config.slot_size {
                return Err(Error::Image(img_rc::INVALID_IMAGE_TOO_LARGE));
            }
            if data.len() < 4
                || data[..4] != otadeck_core::image::mcuboot::IMAGE_MAGIC.to_le_bytes()
            {
                return Err(Error::Image(img_rc::INVALID_IMAGE_HEADER_MAGIC));
            }
            self.slots.erase_secondary();
            self.upload = Some(UploadState { len, sha, off: 0 });
        }
        let Some(u) = self.upload.as_mut() else {
            // No upload in progress: tell the host to start over.
            return Ok(Value::map([("off", Value::Int(0))]));
        };
        if off != u.off {
            return Ok(Value::map([("off", Value::Int(u.off.into()))]));
        }
        if u.off + data.len() as u64 > u.len {
            return Err(Error::Image(img_rc::INVALID_LENGTH));
        }
        let at = self.slots.secondary.len();
        self.slots.secondary.extend_from_slice(data);
        if let Some(bad) = self.config.flash_fault {
            if (u.off..u.off + data.len() as u64).contains(&bad) {
                self.slots.secondary[at + (bad - u.off) as usize] ^= 1;
            }
        }
        u.off += data.len() as u64;
        let mut reply = Value::map([("off", Value::Int(u.off.into()))]);
        if u.off == u.len {
            if let Some(sha) = &u.sha {
                let matched = Sha256::digest(&self.slots.secondary).as_slice() == sha.as_slice();
                reply.insert("match", Value::Bool(matched));
            }
        }
        Ok(reply)
    }

    fn erase(&mut self, body: &Value) -> Result<Value, Error> {
        let slot = body.get("slot").and_then(Value::as_u64).unwrap_or(1);
        if slot != 1 {
            return Err(Error::Image(img_rc::INVALID_SLOT));
        }
        if self.slots.next_swap() != NextSwap::None {
            return Err(Error::Mgmt(rc::EBADSTATE));
        }
        self.slots.erase_secondary();
        self.upload = None;
        Ok(Value::map([]))
    }

    fn slot_info(&self) -> Value {
        let size = Value::Int(self.config.slot_size as i128);
        Value::map([(
            "images",
            Value::Array(vec![Value::map([
                ("image", Value::Int(0)),
                (
                    "slots",
                    Value::Array(vec![
                        Value::map([("slot", Value::Int(0)), ("size", size.clone())]),
                        Value::map([
                            ("slot", Value::Int(1)),
                            ("size", size.clone()),
                            ("upload_image_id", Value::Int(0)),
                        ]),
                    ]),
                ),
                ("max_image_size", size),
            ])]),
        )])
    }
}

enum Error {
    /// A v1 `MGMT_ERR_*` code, sent as `rc` in both versions.
    Mgmt(u32),
    /// An image group code: `err {group 1, rc}` in SMP v2, mapped to an `rc` in legacy.
    Image(u32),
}

/// Zephyr's translation of image group codes for legacy (v1) clients.
fn legacy(code: u32) -> u32 {
    match code {
        img_rc::NO_IMAGE | img_rc::HASH_NOT_FOUND => rc::ENOENT,
        img_rc::INVALID_IMAGE_TOO_LARGE => rc::ENOMEM,
        img_rc::IMAGE_ALREADY_PENDING | img_rc::IMAGE_SETTING_TEST_TO_ACTIVE_DENIED => {
            rc::EBADSTATE
        }
        _ => rc::EINVAL,
    }
}

impl Device for McuBoot {
    fn receive(&mut self, now: Duration, data: &[u8]) {
        self.tick(now);
        if self.booting_until.is_some() || self.reset_at.is_some() {
            return;
        }
        for frame in self.decoder.push(data) {
            let bytes = match frame {
                Frame::Packet(p) if p.len() + 4 <= self.config.buf_size => p,
                _ => {
                    self.dropped_frames += 1;
                    continue;
                }
            };
            let Ok(request) = Packet::decode(&bytes) else {
                self.dropped_frames += 1;
                continue;
            };
            if let Some(reply) = self.handle(request) {
                self.out.extend(smp_frame::encode(&reply.encode()));
            }
            if self.reset_at == Some(Duration::MAX) {
                // The reply leaves first; the reset follows shortly after.
                self.reset_at = Some(now + Duration::from_millis(50));
                break;
            }
        }
        let _ = self.decoder.take_noise();
    }

    fn transmit(&mut self, _now: Duration) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn next_wakeup(&self) -> Option<Duration> {
        [self.reset_at, self.booting_until]
            .into_iter()
            .flatten()
            .min()
    }

    fn hard_resets(&self) -> u64 {
        self.resets
    }

    fn tick(&mut self, now: Duration) {
        if self.reset_at.is_some_and(|t| t <= now) {
            self.reset_at = None;
            self.reboot(now);
        }
        if self.booting_until.is_some_and(|t| t <= now) {
            self.booting_until = None;
            if self.config.banner {
                self.out.extend_from_slice(BANNER.as_bytes());
            }
        }
    }
}
