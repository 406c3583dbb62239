//! The admission check: what an image must be before any driver starts to write it.
//!
//! [`admit`] runs in [`crate::family::open`] for every flash, whoever asks (the web app, the CLI,
//! a plan step), so no driver ever starts on an image that it must not write:
//!
//! 1. not empty and at most [`MAX_IMAGE_BYTES`];
//! 2. not a text file (a manifest, a plan, a web page saved by mistake);
//! 3. valid and intact by `inspect`'s rules (structure, checksum, appended hash, CRC);
//! 4. of a format the family takes ([`crate::family::Capabilities::formats`]);
//! 5. raw data only where the family's protocol verifies the image on the module, or with the
//!    technician's explicit consent ([`Policy::allow_raw`]);
//! 6. where the host picks the address (the ROM loader): on a sector boundary, an app on a
//!    64 KiB app-partition boundary past the partition table, a bootloader at the chip's
//!    bootloader offset, a partition table at [`PARTITION_TABLE_OFFSET`];
//! 7. an MCUboot signature that verifies when keys are given, and one required when the policy
//!    says so.
//!
//! What needs the module (its chip, its partition table) is checked by the driver once it knows.

use std::collections::VecDeque;
use std::time::Duration;

use crate::family::Family;
use crate::image::{self, mcuboot::McuBootError, Format, Image, ImageError, PublicKey};
use crate::session::{LogLevel, Machine, Next, SessionEvent, SignalStep, TransferError};

/// The largest flash any family has: no image may be larger.
pub const MAX_IMAGE_BYTES: usize = 64 << 20;

/// Where ESP-IDF puts the partition table unless the project moved it.
pub const PARTITION_TABLE_OFFSET: u32 = 0x8000;

/// Flash sector size: the erase unit of every ESP chip.
const SECTOR: u32 = 0x1000;

/// ESP-IDF app partitions start on 64 KiB boundaries.
const APP_ALIGN: u32 = 0x1_0000;

/// What the technician allows and requires beyond the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Write raw data even where the protocol does not check it on the module (`--raw`).
    pub allow_raw: bool,
    /// Keys an MCUboot signature is checked against (`--key`).
    pub keys: Vec<PublicKey>,
    /// Refuse an image that no given key verifies.
    pub require_signature: bool,
}

/// What passed the check, for the log and the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The format the image was recognised as.
    pub format: Format,
    /// Lines worth a place in the log (a raw write on consent, a verified signature).
    pub notes: Vec<String>,
}

/// Why an image may not be written. Each message says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Zero bytes.
    #[error("the file is empty: choose the firmware file again")]
    Empty,
    /// Larger than any module's flash.
    #[error("the file is {size} bytes, more than the 64 MiB any module can hold: it is not a firmware image")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
    },
    /// Text, not firmware.
    #[error("this is a text file ({what}), not firmware: choose the .bin image it names")]
    Text {
        /// What the text looks like.
        what: &'static str,
    },
    /// Recognised, but broken or altered.
    #[error("this {format} is damaged ({error}): download it again")]
    Damaged {
        /// The format it announced.
        format: &'static str,
        /// What is wrong.
        error: ImageError,
    },
    /// A format this family does not take.
    #[error("{family} do not take this {format} (they take: {accepted})")]
    WrongFormat {
        /// The family's devices, as a sentence names them.
        family: &'static str,
        /// The image's format.
        format: &'static str,
        /// The formats the family takes, in words.
        accepted: String,
    },
    /// An ESP image without an app descriptor, for an update slot.
    #[error("this ESP image has no application descriptor: it is a bootloader, not an app for an update slot")]
    NotAnApp,
    /// Raw data where nothing on the module checks it.
    #[error("this file is not a firmware image otadeck recognises, and the {family} writes whatever it is sent without checking it: write it only if you know it is right for this module")]
    RawNeedsConsent {
        /// The family's name.
        family: &'static str,
    },
    /// Not on a flash sector boundary.
    #[error(
        "offset {offset:#x} is not on a 4 KiB sector boundary; an app usually goes at 0x10000"
    )]
    Unaligned {
        /// The offset asked for.
        offset: u32,
    },
    /// The wrong place for this kind of image.
    #[error("{what} does not go at {offset:#x}: {rule}")]
    WrongPlace {
        /// What the image is, with its article.
        what: &'static str,
        /// The offset asked for.
        offset: u32,
        /// Where it goes instead.
        rule: String,
    },
    /// A signature was required and none verified.
    #[error("the image's signature does not verify with the given key ({0}): it was changed or signed with another key")]
    BadSignature(McuBootError),
    /// The file's layout does not fit the device (a DfuSe file's targets, addresses).
    #[error("{0}")]
    Layout(String),
    /// A signature is required, but there is no key to check it with.
    #[error("a signed image is required, but no key was given to check it with")]
    NoKey,
}

/// Check `data` before `family` writes it at `offset` (families that write by address; `None`
/// takes the family's default).
pub fn admit(
    family: Family,
    data: &[u8],
    offset: Option<u32>,
    policy: &Policy,
) -> Result<Admitted, Refusal> {
    admit_with(family, data, offset, policy, None)
}

/// [`admit`], given the SHA-256 of `data[..n]` as `Some((n, digest))` when the caller has it
/// (see [`image::inner_sha256_covers`]): the image's own hash is then not computed again.
pub fn admit_with(
    family: Family,
    data: &[u8],
    offset: Option<u32>,
    policy: &Policy,
    known_prefix_sha256: Option<(usize, [u8; 32])>,
) -> Result<Admitted, Refusal> {
    if data.is_empty() {
        return Err(Refusal::Empty);
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Err(Refusal::TooLarge { size: data.len() });
    }
    let detected = image::detect_with(data, known_prefix_sha256);
    let format = detected.format();
    if format == Format::Raw {
        if let Some(what) = text_kind(data) {
            return Err(Refusal::Text { what });
        }
    }
    if let Err(error) = detected.check() {
        return Err(Refusal::Damaged {
            format: format.name(),
            error,
        });
    }
    let caps = family.capabilities();
    if !caps.formats.contains(&format) {
        return Err(Refusal::WrongFormat {
            family: family.devices(),
            format: format.name(),
            accepted: format_list(family, caps.formats),
        });
    }
    if let Image::EspApp(esp) = &detected {
        if esp.app.is_none() && caps.app_offset.is_none() {
            return Err(Refusal::NotAnApp);
        }
    }
    let mut notes = Vec::new();
    if format == Format::Raw && !verifies_on_module(family) {
        if !policy.allow_raw {
            return Err(Refusal::RawNeedsConsent {
                family: family.name(),
            });
        }
        notes.push(format!(
            "Writing raw data on the technician's word: the {} loader does not check it",
            family.name()
        ));
    }
    if let Some(app_offset) = caps.app_offset {
        check_place(&detected, offset.unwrap_or(app_offset), policy)?;
    }
    if let Image::McuBoot(mcuboot) = &detected {
        notes.extend(check_signature(mcuboot, data, policy)?);
    }
    Ok(Admitted { format, notes })
}

/// Whether the module checks what it was sent before it boots it: the REPL families hand the
/// image to ESP-IDF's OTA API or the vendor's `fota` (both verify it), MCUboot checks its hash.
/// The ROM loader only proves that the bytes arrived; a DFU loader writes what it gets.
fn verifies_on_module(family: Family) -> bool {
    !matches!(family, Family::EspRom | Family::Dfu)
}

/// Where an image may go on an ESP flash written by address.
fn check_place(detected: &Image, offset: u32, policy: &Policy) -> Result<(), Refusal> {
    if !offset.is_multiple_of(SECTOR) {
        return Err(Refusal::Unaligned { offset });
    }
    let wrong: Option<(&'static str, String)> = match detected {
        Image::EspApp(esp) if esp.app.is_some() => {
            (offset < APP_ALIGN || !offset.is_multiple_of(APP_ALIGN)).then(|| {
                let rule = "app partitions start on a 64 KiB boundary after the partition table, \
                        usually 0x10000";
                ("an app image", rule.to_string())
            })
        }
        Image::EspApp(esp) => {
            // No app descriptor: a second-stage bootloader.
            let at = bootloader_offset(esp.chip_id);
            (offset != at).then(|| {
                let rule = format!("the {} boots its bootloader from {at:#x}", esp.chip);
                ("a bootloader image", rule)
            })
        }
        Image::EspPartitionTable(_) => (offset != PARTITION_TABLE_OFFSET).then(|| {
            let rule = format!("ESP-IDF reads it at {PARTITION_TABLE_OFFSET:#x}");
            ("a partition table", rule)
        }),
        Image::Raw(_) if policy.allow_raw => None,
        _ => (offset < PARTITION_TABLE_OFFSET + SECTOR).then(|| {
            let rule = "the first 36 KiB hold the bootloader and the partition table";
            ("this file", rule.to_string())
        }),
    };
    match wrong {
        Some((what, rule)) => Err(Refusal::WrongPlace { what, offset, rule }),
        None => Ok(()),
    }
}

/// The flash offset the chip's ROM loads the second-stage bootloader from.
fn bootloader_offset(chip_id: u16) -> u32 {
    match chip_id {
        // ESP32 and ESP32-S2.
        0 | 2 => 0x1000,
        // ESP32-P4.
        18 => 0x2000,
        _ => 0,
    }
}

fn check_signature(
    mcuboot: &image::mcuboot::McuBootImage,
    data: &[u8],
    policy: &Policy,
) -> Result<Vec<String>, Refusal> {
    if policy.keys.is_empty() {
        return if policy.require_signature {
            Err(Refusal::NoKey)
        } else {
            Ok(Vec::new())
        };
    }
    let mut first_error = None;
    for key in &policy.keys {
        match mcuboot.verify(data, key) {
            Ok(v) => {
                return Ok(vec![format!(
                    "Signature verified ({}, {} TLV, key named by {})",
                    v.algorithm, v.signature_tlv, v.key_named_by
                )])
            }
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    Err(Refusal::BadSignature(
        first_error.expect("at least one key was tried"),
    ))
}

/// What a file that is text looks like, when it is text: firmware always holds bytes no text
/// file has.
fn text_kind(data: &[u8]) -> Option<&'static str> {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = std::str::from_utf8(body).ok()?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return None;
    }
    let start = text.trim_start();
    Some(match start.as_bytes().first() {
        Some(b'{' | b'[') => "JSON, a manifest or a plan",
        Some(b'<') => "HTML or XML, a web page",
        _ => "plain text",
    })
}

/// The formats `family` takes, in words: raw data is the vendor's own package where the module
/// checks it, and data written on the technician's word where it does not.
fn format_list(family: Family, formats: &[Format]) -> String {
    let names: Vec<&str> = formats
        .iter()
        .map(|f| match f {
            Format::Raw if verifies_on_module(family) => "the module vendor's own update package",
            Format::Raw => "raw data when you confirm it",
            other => other.name(),
        })
        .collect();
    match names.as_slice() {
        [] => "no image at all".into(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A session that first reports the admission notes in its log, then is `inner`.
pub(crate) struct Noted {
    notes: VecDeque<SessionEvent>,
    inner: Box<dyn Machine>,
}

impl Noted {
    /// `inner`, with `notes` logged first.
    pub(crate) fn wrap(notes: Vec<String>, inner: Box<dyn Machine>) -> Box<dyn Machine> {
        if notes.is_empty() {
            return inner;
        }
        let notes = notes
            .into_iter()
            .map(|message| SessionEvent::Log {
                level: LogLevel::Info,
                message,
            })
            .collect();
        Box::new(Noted { notes, inner })
    }
}

impl Machine for Noted {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.inner.handle_input(now, data)
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.inner.handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.inner.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.notes.pop_front().or_else(|| self.inner.poll_event())
    }
    fn cancel(&mut self, now: Duration) {
        self.inner.cancel(now)
    }
    fn link_lost(&mut self, now: Duration) {
        self.inner.link_lost(now)
    }
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
    fn poll_signals(&mut self) -> Option<SignalStep> {
        self.inner.poll_signals()
    }
    fn poll_baud(&mut self) -> Option<u32> {
        self.inner.poll_baud()
    }
    fn handle_transfer(&mut self, now: Duration, result: Result<Vec<u8>, TransferError>) {
        self.inner.handle_transfer(now, result)
    }
    fn handle_reconnected(&mut self, now: Duration, interfaces: Vec<crate::session::UsbAlt>) {
        self.inner.handle_reconnected(now, interfaces)
    }
    fn poll_next(&mut self) -> Next {
        self.inner.poll_next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_told_apart_from_firmware() {
        assert_eq!(
            text_kind(b"\xEF\xBB\xBF  {\"builds\": []}"),
            Some("JSON, a manifest or a plan")
        );
        assert_eq!(
            text_kind(b"<!doctype html>"),
            Some("HTML or XML, a web page")
        );
        assert_eq!(text_kind(b"hello\r\n"), Some("plain text"));
        assert_eq!(text_kind(&[0xE9, 0x03, 0x02, 0x20]), None);
        assert_eq!(text_kind(b"ab\x01cd"), None);
    }

    #[test]
    fn format_lists_read_as_words() {
        assert_eq!(
            format_list(Family::McuBoot, &[Format::McuBoot]),
            "MCUboot image"
        );
        assert_eq!(
            format_list(Family::EspRom, &[Format::EspApp, Format::Raw]),
            "ESP-IDF app image or raw data when you confirm it"
        );
        assert_eq!(
            format_list(Family::QuecPython, &[Format::Raw]),
            "the module vendor's own update package"
        );
    }
}
