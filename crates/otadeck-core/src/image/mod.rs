//! Image formats, detected by content (never by file name).
//!
//! [`detect`] recognises an ESP-IDF app image, an ESP partition table, an otadata partition, an
//! MCUboot image, a DfuSe file, a file with a plain DFU suffix, or else raw data. Every parser is
//! bounded and total: malformed input gives a typed error naming the field and offset, and no
//! allocation is sized by a field before that field is checked against the input.

pub mod dfuse;
pub mod esp;
mod esp_chip;
pub mod esp_partition;
pub mod mcuboot;
pub mod otadata;
pub mod pubkey;
pub mod raw;
mod util;

use serde::Serialize;

pub use pubkey::{KeyError, PublicKey};
pub use util::Truncated;

/// The formats [`detect`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    EspApp,
    EspPartitionTable,
    EspOtadata,
    McuBoot,
    DfuSe,
    Dfu,
    Raw,
}

impl Format {
    /// A human name.
    pub fn name(self) -> &'static str {
        match self {
            Format::EspApp => "ESP-IDF app image",
            Format::EspPartitionTable => "ESP-IDF partition table",
            Format::EspOtadata => "ESP-IDF otadata",
            Format::McuBoot => "MCUboot image",
            Format::DfuSe => "DfuSe file",
            Format::Dfu => "DFU file",
            Format::Raw => "raw data",
        }
    }
}

/// A parser's error, whichever format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageError {
    #[error(transparent)]
    Esp(#[from] esp::EspImageError),
    #[error(transparent)]
    PartitionTable(#[from] esp_partition::PartitionTableError),
    #[error(transparent)]
    Otadata(#[from] otadata::OtadataError),
    #[error(transparent)]
    McuBoot(#[from] mcuboot::McuBootError),
    #[error(transparent)]
    Dfu(#[from] dfuse::DfuError),
}

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Image {
    EspApp(esp::EspImage),
    EspPartitionTable(esp_partition::PartitionTable),
    EspOtadata(otadata::Otadata),
    McuBoot(mcuboot::McuBootImage),
    DfuSe(dfuse::DfuSeFile),
    Dfu(dfuse::DfuFile),
    Raw(raw::RawImage),
    /// Recognised by its magic, but its structure is broken.
    Invalid {
        /// The format its magic announced.
        recognised_as: Format,
        /// The parser's complaint, in words.
        message: String,
        /// The parser's complaint.
        error: ImageError,
        /// Size and digests of the data.
        raw: raw::RawImage,
    },
}

/// Recognise `data` by content and parse it. Integrity checks (checksums, hashes, CRCs) are
/// computed but a mismatch is reported by [`Image::check`], so the parsed fields stay available.
pub fn detect(data: &[u8]) -> Image {
    detect_with(data, None)
}

/// How many leading bytes of `data` an integrity hash inside the image covers (the SHA-256
/// appended to an ESP app image), so that a caller streaming its own SHA-256 over `data` can
/// keep the digest at that point and hand it to [`detect_with`].
pub fn inner_sha256_covers(data: &[u8]) -> Option<usize> {
    match sniff(data) {
        Format::EspApp => esp::appended_hash_covers(data),
        _ => None,
    }
}

/// [`detect`], given the SHA-256 of `data[..n]` as `Some((n, digest))` when the caller has it
/// (see [`inner_sha256_covers`]): the image is then not hashed again.
pub fn detect_with(data: &[u8], known_prefix_sha256: Option<(usize, [u8; 32])>) -> Image {
    let format = sniff(data);
    let parsed: Result<Image, ImageError> = match format {
        Format::McuBoot => mcuboot::parse(data).map(Image::McuBoot).map_err(Into::into),
        Format::EspApp => esp::parse_unchecked_with(data, known_prefix_sha256)
            .map(Image::EspApp)
            .map_err(Into::into),
        Format::EspPartitionTable => esp_partition::parse(data)
            .map(Image::EspPartitionTable)
            .map_err(Into::into),
        Format::DfuSe => dfuse::parse_dfuse(data)
            .map(Image::DfuSe)
            .map_err(Into::into),
        Format::EspOtadata => otadata::parse(data)
            .map(Image::EspOtadata)
            .map_err(Into::into),
        Format::Dfu => dfuse::parse_dfu(data).map(Image::Dfu).map_err(Into::into),
        Format::Raw => Ok(Image::Raw(raw::RawImage::new(data))),
    };
    parsed.unwrap_or_else(|error| Image::Invalid {
        recognised_as: format,
        message: error.to_string(),
        error,
        raw: raw::RawImage::new(data),
    })
}

/// The format `data` announces by its magic numbers, without parsing it.
pub fn sniff(data: &[u8]) -> Format {
    let word = data
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if word == Some(mcuboot::IMAGE_MAGIC) {
        Format::McuBoot
    } else if data.first() == Some(&esp::IMAGE_MAGIC) && data.len() >= esp::HEADER_LEN {
        // Its magic announces an ESP image: a broken header is that format's error, not raw.
        Format::EspApp
    } else if data.starts_with(&esp_partition::ENTRY_MAGIC) {
        Format::EspPartitionTable
    } else if data.starts_with(b"DfuSe") {
        Format::DfuSe
    } else if otadata::looks_like(data) {
        Format::EspOtadata
    } else if dfuse::has_suffix(data) {
        Format::Dfu
    } else {
        Format::Raw
    }
}

impl Image {
    /// The detected format ([`Image::Invalid`] gives the one its magic announced).
    pub fn format(&self) -> Format {
        match self {
            Image::EspApp(_) => Format::EspApp,
            Image::EspPartitionTable(_) => Format::EspPartitionTable,
            Image::EspOtadata(_) => Format::EspOtadata,
            Image::McuBoot(_) => Format::McuBoot,
            Image::DfuSe(_) => Format::DfuSe,
            Image::Dfu(_) => Format::Dfu,
            Image::Raw(_) => Format::Raw,
            Image::Invalid { recognised_as, .. } => *recognised_as,
        }
    }

    /// Ok when the image is well formed and intact (checksums, hashes and CRCs match). Raw data
    /// is always Ok. Signatures need a key: see [`mcuboot::McuBootImage::verify`].
    pub fn check(&self) -> Result<(), ImageError> {
        match self {
            Image::EspApp(i) => Ok(i.check()?),
            Image::EspPartitionTable(t) => Ok(t.check()?),
            Image::EspOtadata(_) | Image::Raw(_) => Ok(()),
            Image::McuBoot(i) => Ok(i.check()?),
            Image::DfuSe(f) => Ok(f.check()?),
            Image::Dfu(f) => Ok(f.check()?),
            Image::Invalid { error, .. } => Err(error.clone()),
        }
    }

    /// Label/value rows for a human summary (what `otadeck inspect` prints).
    pub fn summary(&self) -> Vec<(String, String)> {
        match self {
            Image::EspApp(i) => i.summary(),
            Image::EspPartitionTable(t) => t.summary(),
            Image::EspOtadata(o) => o.summary(),
            Image::McuBoot(i) => i.summary(),
            Image::DfuSe(f) => f.summary(),
            Image::Dfu(f) => f.summary(),
            Image::Raw(r) => r.summary(),
            Image::Invalid {
                recognised_as,
                message,
                raw,
                ..
            } => {
                let mut rows = vec![
                    (
                        String::from("Format"),
                        format!("{} (INVALID)", recognised_as.name()),
                    ),
                    (String::from("Error"), message.clone()),
                ];
                rows.extend(raw.summary().into_iter().skip(1));
                rows
            }
        }
    }
}

impl std::fmt::Display for Image {
    /// One `label: value` line per summary row.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = self.summary();
        let width = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, value) in rows {
            writeln!(f, "{label:width$}  {value}")?;
        }
        Ok(())
    }
}
