//! What the session does with the module's answers (parameters, slot sizes, upload offsets,
//! image state checks at each stage); and the image checks and upload bodies.

use std::time::Duration;

use super::{Action, Check, McuBootSmp, Pending, Upload};
use crate::driver::mcuboot_smp::state::{parse_images, partition_state, short_hex, ImageSlot};
use crate::image::mcuboot;
use crate::link::smp::{self, response_error, Value};
use crate::module::{Family, ModuleInfo};
use crate::session::{FlashErrorKind, LogLevel, SessionEvent, Step};

impl McuBootSmp {
    pub(super) fn answer(&mut self, now: Duration, p: Pending, body: Value) {
        let err = response_error(&body);
        match p.action {
            Action::Params => match (err, body.get("buf_size").and_then(Value::as_u64)) {
                (None, Some(size)) => {
                    self.buf_size = (size as usize).min(self.config.max_buf_size);
                    self.log(
                        LogLevel::Info,
                        format!("module buffer: {size} bytes (buf_size)"),
                    );
                }
                _ => self.log(
                    LogLevel::Info,
                    format!(
                        "no MCUmgr parameters: chunks sized for {} bytes",
                        self.buf_size
                    ),
                ),
            },
            Action::SlotInfo => match err {
                None => self.slot_info(now, &body),
                Some(e) => self.log(
                    LogLevel::Info,
                    format!(
                        "the module does not report its slot sizes ({}): it checks the image \
                         size itself when the upload starts",
                        e.name()
                    ),
                ),
            },
            Action::Echo(text) => match body.get("r").and_then(Value::as_text) {
                Some(r) if r == text => self.log(LogLevel::Info, format!("echo: {r}")),
                _ => self.fail(
                    now,
                    self.step,
                    FlashErrorKind::BadAnswer {
                        call: "echo",
                        got: format!("{body:?}"),
                    },
                ),
            },
            Action::Reset => {
                if let Some(e) = err {
                    return self.refused(now, "reset", e);
                }
                self.restarted = true;
                self.log(LogLevel::Info, "the module resets".into());
                self.decoder.reset();
                self.wake = Some(now + self.config.boot_wait);
                self.reconnect_deadline = Some(now + self.config.reconnect_timeout);
                let check = if self.upload.is_some() {
                    Check::Booted
                } else {
                    Check::Final
                };
                self.queue.push_front(Action::State(check));
            }
            Action::Upload => self.uploaded(now, p.chunk, err, &body),
            Action::Erase(slot) => {
                if let Some(e) = err {
                    return self.refused(now, "image erase", e);
                }
                self.log(LogLevel::Info, format!("slot {slot} erased"));
            }
            Action::State(_) | Action::Test(_) | Action::Confirm => {
                let call = match p.action {
                    Action::Test(_) => "image test",
                    Action::Confirm => "image confirm",
                    _ => "image state read",
                };
                if let Some(e) = err {
                    return self.refused(now, call, e);
                }
                match parse_images(&body) {
                    Ok(slots) => self.state(now, p.action, slots),
                    Err(text) => self.fail(
                        now,
                        self.step,
                        FlashErrorKind::BadAnswer { call, got: text },
                    ),
                }
            }
        }
    }

    fn refused(&mut self, now: Duration, call: &'static str, e: smp::SmpError) {
        self.fail(
            now,
            self.step,
            FlashErrorKind::Rejected {
                call,
                returned: e.to_string(),
            },
        );
    }

    pub(super) fn slot_info(&mut self, now: Duration, body: &Value) {
        let Some(u) = &self.upload else { return };
        let len = u.data.len() as u64;
        let images = body.get("images").and_then(Value::as_array).unwrap_or(&[]);
        let image0 = images
            .iter()
            .find(|i| i.get("image").and_then(Value::as_u64).unwrap_or(0) == 0);
        let Some(image0) = image0 else { return };
        let slot1 = image0
            .get("slots")
            .and_then(Value::as_array)
            .and_then(|s| {
                s.iter()
                    .find(|s| s.get("slot").and_then(Value::as_u64) == Some(1))
            })
            .and_then(|s| s.get("size"))
            .and_then(Value::as_u64);
        let room = image0
            .get("max_image_size")
            .and_then(Value::as_u64)
            .or(slot1);
        if let Some(room) = room {
            if len > room {
                self.fail(
                    now,
                    Step::Identify,
                    FlashErrorKind::Unsuitable(format!(
                        "the image is {len} bytes and the module's update slot takes {room}"
                    )),
                );
            }
        }
    }

    pub(super) fn uploaded(
        &mut self,
        now: Duration,
        chunk: usize,
        err: Option<smp::SmpError>,
        body: &Value,
    ) {
        if let Some(e) = err {
            if e.group == Some(smp::GROUP_IMAGE) && e.rc == smp::img_rc::INVALID_IMAGE_TOO_LARGE {
                let len = self.upload.as_ref().map_or(0, |u| u.data.len());
                return self.fail(
                    now,
                    Step::Write,
                    FlashErrorKind::Unsuitable(format!(
                        "the module refused the image as too large for its update slot \
                         ({len} bytes; {}): build it for this board's flash layout",
                        e.name()
                    )),
                );
            }
            return self.refused(now, "image upload", e);
        }
        let Some(next) = body.get("off").and_then(Value::as_u64) else {
            return self.fail(
                now,
                Step::Write,
                FlashErrorKind::BadAnswer {
                    call: "image upload",
                    got: format!("no off in {body:?}"),
                },
            );
        };
        let u = self.upload.as_mut().expect("upload job");
        let total = u.data.len() as u64;
        let sent_to = u.off + chunk as u64;
        let was_first = !u.started;
        u.started = true;
        let mut note = None;
        if next > total {
            return self.fail(
                now,
                Step::Write,
                FlashErrorKind::BadAnswer {
                    call: "image upload",
                    got: format!("off {next} past the image end {total}"),
                },
            );
        } else if next == 0 && !was_first {
            note = Some("the module lost the upload (off 0): starting again".to_string());
            u.started = false;
        } else if next != sent_to {
            note = Some(if was_first {
                format!("the module already holds {next} bytes of this image: resuming there")
            } else {
                format!("the module asks for offset {next} (sent up to {sent_to}): resuming there")
            });
        }
        u.off = next;
        let done = next >= total;
        let matched = body.get("match").and_then(Value::as_bool);
        if let Some(n) = note {
            self.log(LogLevel::Info, n);
        }
        self.events
            .push_back(SessionEvent::Progress { done: next, total });
        if !done {
            self.queue.push_front(Action::Upload);
        } else if matched == Some(false) {
            self.fail(
                now,
                Step::Write,
                FlashErrorKind::Mismatch(
                    "the module's SHA-256 of what it received differs from the file's".into(),
                ),
            );
        }
    }

    fn identify(&mut self, slots: &[ImageSlot]) {
        let active = slots.iter().find(|s| s.image == 0 && s.active);
        let info = ModuleInfo {
            details: Default::default(),
            family: Family::McuBoot,
            model: "SMP server".into(),
            firmware_version: active.map_or_else(|| "unknown".into(), |s| s.version.clone()),
            runtime: format!(
                "SMP v{}, buffer {} bytes",
                self.config.version + 1,
                self.buf_size
            ),
        };
        if self.module.as_ref() != Some(&info) {
            self.module = Some(info.clone());
            self.events.push_back(SessionEvent::Identified(info));
        }
    }

    pub(super) fn state(&mut self, now: Duration, action: Action, slots: Vec<ImageSlot>) {
        for s in &slots {
            self.log(LogLevel::Info, s.line());
        }
        self.events
            .push_back(SessionEvent::Partitions(partition_state(&slots)));
        self.identify(&slots);
        self.slots = slots;
        let find = |hash: &[u8]| self.slots.iter().find(|s| s.image == 0 && s.hash == hash);
        match action {
            Action::Test(hash) => {
                if !find(&hash).is_some_and(|s| s.pending || s.active) {
                    return self.fail(
                        now,
                        Step::Verify,
                        FlashErrorKind::Mismatch(format!(
                            "after the test request no slot with hash {} is pending",
                            short_hex(&hash)
                        )),
                    );
                }
                self.tested = true;
            }
            Action::Confirm => {
                let ok = self.slots.iter().any(|s| s.active && s.confirmed);
                if !ok {
                    return self.fail(
                        now,
                        Step::Confirm,
                        FlashErrorKind::Mismatch("the running image is still not confirmed".into()),
                    );
                }
                self.log(LogLevel::Info, "the running image is confirmed".into());
            }
            Action::State(check) => self.check(now, check),
            _ => {}
        }
    }

    fn check(&mut self, now: Duration, check: Check) {
        let active = self
            .slots
            .iter()
            .find(|s| s.image == 0 && s.active)
            .cloned();
        let other = self
            .slots
            .iter()
            .find(|s| s.image == 0 && !s.active && !s.hash.is_empty())
            .cloned();
        match check {
            Check::BeforeUpload => {
                let u = self.upload.as_ref().expect("upload job");
                let refuse = if active.as_ref().is_some_and(|a| a.hash == u.hash) {
                    Some(FlashErrorKind::ModuleState {
                        why: format!("the module already runs this image ({})", u.version),
                        then: "Nothing to do: this firmware is already running.",
                    })
                } else if active.as_ref().is_some_and(|a| !a.confirmed) {
                    Some(FlashErrorKind::ModuleState {
                        why: "the running image is on trial".into(),
                        then: "Accept or roll back the firmware on trial first (Device page, or \
                               otadeck accept|rollback), then flash again.",
                    })
                } else if other.as_ref().is_some_and(|o| o.pending) {
                    Some(FlashErrorKind::ModuleState {
                        why: "slot 1 holds an image marked for the next boot".into(),
                        then: "Reset the module to boot that image (or erase slot 1), then flash \
                               again.",
                    })
                } else {
                    None
                };
                if let Some(kind) = refuse {
                    self.fail(now, Step::Identify, kind);
                }
            }
            Check::Uploaded => {
                let u = self.upload.as_ref().expect("upload job");
                let hash = u.hash.clone();
                match other.filter(|o| o.hash == hash) {
                    Some(_) => {
                        self.queue.push_front(Action::Reset);
                        self.queue.push_front(Action::Test(hash));
                    }
                    None => self.fail(
                        now,
                        Step::Verify,
                        FlashErrorKind::Mismatch(format!(
                            "after the upload no slot holds an image with hash {}",
                            short_hex(&hash)
                        )),
                    ),
                }
            }
            Check::Booted => {
                let u = self.upload.as_ref().expect("upload job");
                let (hash, version, accept) = (u.hash.clone(), u.version.clone(), u.accept);
                match active {
                    Some(a) if a.hash == hash => {
                        self.log(
                            LogLevel::Info,
                            format!("the module runs {version} on trial"),
                        );
                        if accept {
                            self.queue.push_front(Action::Confirm);
                        }
                    }
                    other => {
                        self.tested = false;
                        self.fail(
                            now,
                            Step::Confirm,
                            FlashErrorKind::Mismatch(format!(
                                "after the reset the module runs {} instead of {version}: \
                                 MCUboot did not start the new image",
                                other.map_or("nothing".into(), |a| a.version)
                            )),
                        );
                    }
                }
            }
            Check::Rollback => match (active, other) {
                (Some(a), Some(_)) if !a.confirmed => {
                    self.log(
                        LogLevel::Info,
                        "the running image is on trial: a reset returns to the previous one".into(),
                    );
                    self.queue.push_front(Action::Reset);
                }
                (_, Some(o)) if o.bootable => {
                    self.queue.push_front(Action::Reset);
                    self.queue.push_front(Action::Test(o.hash));
                }
                _ => self.fail(
                    now,
                    Step::Prepare,
                    FlashErrorKind::ModuleState {
                        why: "the module's other slot holds no bootable image to return to".into(),
                        then: "There is nothing to roll back to: keep the firmware it runs, or flash another one.",
                    },
                ),
            },
            Check::Final => {}
        }
    }
}

/// The first chunk carries `image`-less `len` and `sha`; every chunk `off` and `data`. Returns
/// the body and the chunk length: as many bytes as keep `len + packet + crc` within `buf_size`.
pub(super) fn upload_body(
    u: &Upload,
    buf_size: usize,
    image: Option<u32>,
) -> Option<(Value, usize)> {
    let rest = u.data.len() - u.off as usize;
    let body = |n: usize| {
        let mut m = Value::map([]);
        if !u.started || u.off == 0 {
            if let Some(i) = image {
                m.insert("image", Value::Int(i.into()));
            }
            m.insert("len", Value::Int(u.data.len() as i128));
            m.insert("sha", Value::Bytes(u.sha.to_vec()));
        }
        m.insert("off", Value::Int(u.off.into()));
        let start = u.off as usize;
        m.insert("data", Value::Bytes(u.data[start..start + n].to_vec()));
        m
    };
    let fixed = smp::HEADER_LEN + 4 + body(0).encode().len() - 1;
    let bstr_head = |n: usize| match n {
        0..24 => 1,
        24..256 => 2,
        _ => 3,
    };
    let mut n = buf_size.checked_sub(fixed + 3)?.min(rest);
    while n > 0 && fixed + bstr_head(n) + n > buf_size {
        n -= 1;
    }
    (n > 0).then(|| (body(n), n))
}

/// The image's hash TLV and version, or why it cannot be sent.
pub(super) fn check_image(image: &[u8]) -> Result<(Vec<u8>, String), String> {
    if image.is_empty() {
        return Err("the image is empty (0 bytes)".into());
    }
    let parsed = mcuboot::parse(image).map_err(|e| format!("not a valid MCUboot image: {e}"))?;
    parsed
        .check()
        .map_err(|e| format!("the MCUboot image is damaged: {e}"))?;
    let hash = parsed
        .hash
        .as_ref()
        .map(|h| h.stored.clone())
        .ok_or("the MCUboot image carries no hash TLV, by which the module names images")?;
    let v = parsed.header.version;
    let version = if v.build == 0 {
        format!("{}.{}.{}", v.major, v.minor, v.revision)
    } else {
        format!("{}.{}.{}.{}", v.major, v.minor, v.revision, v.build)
    };
    Ok((hash, version))
}
