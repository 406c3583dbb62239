//! ESP-IDF application images: the 24-byte header, the segments, the checksum byte, the appended
//! SHA-256 and the `esp_app_desc_t` application descriptor.
//!
//! Layout: ESP-IDF `esp_app_format.h` and esptool's firmware-image-format documentation; names as
//! `esptool image-info` prints them. Parsing is bounded by the input: no allocation is sized by a
//! field read from it.

use serde::Serialize;

use super::esp_chip;
use super::util::{c_string, check_text, hex, row, ser_hex, take, u32_le, Truncated};
use crate::digest::sha256;

/// First byte of every ESP image.
pub const IMAGE_MAGIC: u8 = 0xE9;
/// First word of the application descriptor.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// Size of the image header.
pub const HEADER_LEN: usize = 24;
/// Offset of the application descriptor: header plus the first segment header.
pub const APP_DESC_OFFSET: usize = 32;
/// Size of the application descriptor.
pub const APP_DESC_LEN: usize = 256;
const MAX_SEGMENTS: usize = 16;

/// Why an ESP image was refused, with the offset of the faulty field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EspImageError {
    /// The first byte is not 0xE9.
    #[error("not an ESP image (byte 0 is {0:#04x}, expected 0xe9)")]
    BadMagic(u8),
    /// The data ends before a field.
    #[error(
        "image truncated: {field} at offset {offset} needs {needed} bytes, {available} present"
    )]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// More segments than the format allows.
    #[error("segment count {0} at offset 1 exceeds 16")]
    TooManySegments(u8),
    /// The checksum byte does not match the segment data.
    #[error("checksum byte at offset {offset} is {found:#04x}, the segments give {computed:#04x}")]
    Checksum {
        offset: usize,
        found: u8,
        computed: u8,
    },
    /// The appended SHA-256 does not match.
    #[error("appended SHA-256 at offset {offset} does not match the image")]
    Sha256Mismatch { offset: usize },
}

impl From<Truncated> for EspImageError {
    fn from(t: Truncated) -> Self {
        EspImageError::Truncated {
            field: t.field,
            offset: t.offset,
            needed: t.needed,
            available: t.available,
        }
    }
}

/// The application descriptor (`esp_app_desc_t`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AppDescriptor {
    /// `secure_version`, the anti-rollback counter.
    pub secure_version: u32,
    /// `version`.
    pub version: String,
    /// `project_name`.
    pub project_name: String,
    /// Build `time`.
    pub time: String,
    /// Build `date`.
    pub date: String,
    /// `idf_ver`.
    pub idf_version: String,
    /// `app_elf_sha256`.
    #[serde(serialize_with = "ser_hex")]
    pub app_elf_sha256: [u8; 32],
    /// `min_efuse_blk_rev_full` (major * 100 + minor; IDF v5.x).
    pub min_efuse_blk_rev_full: u16,
    /// `max_efuse_blk_rev_full` (major * 100 + minor; IDF v5.x).
    pub max_efuse_blk_rev_full: u16,
    /// `mmu_page_size` as log2 of the page size; 0 when not recorded.
    pub mmu_page_size_log2: u8,
}

/// One segment: its header and where its data sits in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// `load_addr`.
    pub load_addr: u32,
    /// `data_len`.
    pub len: u32,
    /// Offset of the segment header in the file (esptool's "File offs").
    pub header_offset: usize,
    /// Memory regions holding `load_addr`, as esptool names them (empty for an unknown chip).
    pub memory_types: Vec<&'static str>,
}

/// A stored check value and the one computed from the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked<T> {
    /// Where the stored value is.
    pub offset: usize,
    /// What the file says.
    pub stored: T,
    /// What the data gives.
    pub computed: T,
}

impl<T: PartialEq> Checked<T> {
    /// True when the stored value matches.
    pub fn ok(&self) -> bool {
        self.stored == self.computed
    }
}

/// A parsed ESP application (or bootloader) image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EspImage {
    /// `chip_id` from the header.
    pub chip_id: u16,
    /// The chip's name (see [`chip_name`]).
    pub chip: &'static str,
    /// Number of segments.
    pub segment_count: u8,
    /// Entry point.
    pub entry_addr: u32,
    /// `spi_mode` byte (0 QIO, 1 QOUT, 2 DIO, 3 DOUT).
    pub spi_mode: u8,
    /// Low nibble of byte 3.
    pub spi_speed: u8,
    /// High nibble of byte 3.
    pub spi_size: u8,
    /// Flash mode name, e.g. "DIO".
    pub flash_mode: &'static str,
    /// Flash frequency name for this chip, e.g. "40m".
    pub flash_freq: &'static str,
    /// Flash size name, e.g. "4MB".
    pub flash_size: &'static str,
    /// `wp_pin` (0xEE: disabled).
    pub wp_pin: u8,
    /// `spi_pin_drv[3]`.
    pub spi_pin_drv: [u8; 3],
    /// Legacy `min_chip_rev`.
    pub min_chip_rev: u8,
    /// `min_chip_rev_full` (major * 100 + minor).
    pub min_chip_rev_full: u16,
    /// `max_chip_rev_full` (major * 100 + minor).
    pub max_chip_rev_full: u16,
    /// Whether a SHA-256 is appended.
    pub hash_appended: bool,
    /// The segments, in file order.
    pub segments: Vec<Segment>,
    /// The checksum byte.
    pub checksum: Checked<u8>,
    /// The appended SHA-256, when there is one.
    pub sha256: Option<Checked<HexDigest>>,
    /// The application descriptor, when the first segment carries one.
    pub app: Option<AppDescriptor>,
    /// Bytes of the image proper (checksum and appended hash included).
    pub image_len: usize,
    /// Bytes after the image (flash padding, a secure-boot signature block).
    pub trailing_len: usize,
}

/// A SHA-256 digest that serializes as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HexDigest(#[serde(serialize_with = "ser_hex")] pub [u8; 32]);

/// The name of a chip id, as esptool prints it.
pub fn chip_name(chip_id: u16) -> &'static str {
    esp_chip::chip(chip_id).map_or("unknown chip", |c| c.name)
}

/// The name of the header's `spi_mode` byte.
pub fn flash_mode_name(mode: u8) -> &'static str {
    match mode {
        0 => "QIO",
        1 => "QOUT",
        2 => "DIO",
        3 => "DOUT",
        _ => "invalid",
    }
}

/// The name of the header's flash-size nibble.
pub fn flash_size_name(nibble: u8) -> &'static str {
    const SIZES: [&str; 8] = ["1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB"];
    SIZES.get(usize::from(nibble)).copied().unwrap_or("invalid")
}

/// Read the application descriptor at offset 32, if present.
pub fn app_descriptor(data: &[u8]) -> Option<AppDescriptor> {
    let d = data.get(APP_DESC_OFFSET..APP_DESC_OFFSET + APP_DESC_LEN)?;
    if u32::from_le_bytes([d[0], d[1], d[2], d[3]]) != APP_DESC_MAGIC {
        return None;
    }
    let mut elf = [0u8; 32];
    elf.copy_from_slice(&d[144..176]);
    Some(AppDescriptor {
        secure_version: u32::from_le_bytes([d[4], d[5], d[6], d[7]]),
        version: c_string(&d[16..48]),
        project_name: c_string(&d[48..80]),
        time: c_string(&d[80..96]),
        date: c_string(&d[96..112]),
        idf_version: c_string(&d[112..144]),
        app_elf_sha256: elf,
        min_efuse_blk_rev_full: u16::from_le_bytes([d[176], d[177]]),
        max_efuse_blk_rev_full: u16::from_le_bytes([d[178], d[179]]),
        mmu_page_size_log2: d[180],
    })
}

/// The XOR of every byte of `data`, eight bytes at a time.
fn xor_all(data: &[u8]) -> u8 {
    let words = data.chunks_exact(8);
    let tail = words.remainder().iter().fold(0u8, |c, b| c ^ b);
    let word = words.fold(0u64, |w, c| {
        w ^ u64::from_le_bytes(c.try_into().expect("eight bytes"))
    });
    word.to_le_bytes().iter().fold(tail, |c, b| c ^ b)
}

/// Parse and check an ESP application image: segments within bounds, checksum byte, and the
/// appended SHA-256 when the header says there is one. Trailing bytes after the image (padding in
/// a flash dump) are allowed.
pub fn parse(data: &[u8]) -> Result<EspImage, EspImageError> {
    let image = parse_unchecked(data)?;
    image.check()?;
    Ok(image)
}

/// Parse the structure only: the checksum byte and appended hash are read and computed but a
/// mismatch is left in [`EspImage::checksum`] / [`EspImage::sha256`] (see [`EspImage::check`]).
pub fn parse_unchecked(data: &[u8]) -> Result<EspImage, EspImageError> {
    parse_unchecked_with(data, None)
}

/// How many leading bytes the appended SHA-256 of the image in `data` covers, when the header
/// says one is appended and the segments are within `data` (a caller streaming its own SHA-256
/// over `data` can keep the digest at that point for [`parse_unchecked_with`]).
pub fn appended_hash_covers(data: &[u8]) -> Option<usize> {
    let header = data.get(..HEADER_LEN)?;
    if header[0] != IMAGE_MAGIC || header[23] != 1 {
        return None;
    }
    let mut offset = HEADER_LEN;
    for _ in 0..header[1] {
        let len = u32_le(data, offset + 4, "segment length").ok()? as usize;
        offset = offset.checked_add(8 + len)?;
    }
    let covers = offset + (15 - offset % 16) + 1;
    (covers + 32 <= data.len()).then_some(covers)
}

/// [`parse_unchecked`], given the SHA-256 of `data[..n]` when it is known already
/// (`Some((n, digest))`); it is used when `n` is what the appended hash covers.
pub fn parse_unchecked_with(
    data: &[u8],
    known_prefix_sha256: Option<(usize, [u8; 32])>,
) -> Result<EspImage, EspImageError> {
    let header = take(data, 0, HEADER_LEN, "image header")?;
    if header[0] != IMAGE_MAGIC {
        return Err(EspImageError::BadMagic(header[0]));
    }
    let segment_count = header[1];
    if usize::from(segment_count) > MAX_SEGMENTS {
        return Err(EspImageError::TooManySegments(segment_count));
    }
    let chip_id = u16::from_le_bytes([header[12], header[13]]);
    let (spi_speed, spi_size) = (header[3] & 0x0F, header[3] >> 4);

    let mut segments = Vec::with_capacity(usize::from(segment_count));
    let mut offset = HEADER_LEN;
    let mut checksum: u8 = 0xEF;
    for _ in 0..segment_count {
        let load_addr = u32_le(data, offset, "segment load address")?;
        let len = u32_le(data, offset + 4, "segment length")?;
        let body = take(data, offset + 8, len as usize, "segment data")?;
        checksum ^= xor_all(body);
        segments.push(Segment {
            load_addr,
            len,
            header_offset: offset,
            memory_types: esp_chip::memory_types(chip_id, load_addr),
        });
        offset += 8 + body.len();
    }
    // Zero padding so that the checksum byte sits at an offset of 15 modulo 16.
    let checksum_at = offset + (15 - offset % 16);
    let found = take(data, checksum_at, 1, "checksum byte")?[0];
    let mut image_len = checksum_at + 1;
    let hash_appended = header[23] == 1;
    let mut digest = None;
    if hash_appended {
        let mut stored = [0u8; 32];
        stored.copy_from_slice(take(data, image_len, 32, "appended SHA-256")?);
        digest = Some(Checked {
            offset: image_len,
            stored: HexDigest(stored),
            computed: HexDigest(match known_prefix_sha256 {
                Some((n, digest)) if n == image_len => digest,
                _ => sha256(&data[..image_len]),
            }),
        });
        image_len += 32;
    }
    Ok(EspImage {
        chip_id,
        chip: chip_name(chip_id),
        segment_count,
        entry_addr: u32::from_le_bytes([header[4], header[5], header[6], header[7]]),
        spi_mode: header[2],
        spi_speed,
        spi_size,
        flash_mode: flash_mode_name(header[2]),
        flash_freq: esp_chip::flash_freq_name(chip_id, spi_speed).unwrap_or("invalid"),
        flash_size: flash_size_name(spi_size),
        wp_pin: header[8],
        spi_pin_drv: [header[9], header[10], header[11]],
        min_chip_rev: header[14],
        min_chip_rev_full: u16::from_le_bytes([header[15], header[16]]),
        max_chip_rev_full: u16::from_le_bytes([header[17], header[18]]),
        hash_appended,
        segments,
        checksum: Checked {
            offset: checksum_at,
            stored: found,
            computed: checksum,
        },
        sha256: digest,
        app: app_descriptor(data),
        image_len,
        trailing_len: data.len() - image_len,
    })
}

/// "v1.3" from a `*_rev_full` value.
pub fn rev_text(full: u16) -> String {
    format!("v{}.{}", full / 100, full % 100)
}

impl EspImage {
    /// The checksum byte and appended hash agree with the data.
    pub fn check(&self) -> Result<(), EspImageError> {
        if !self.checksum.ok() {
            return Err(EspImageError::Checksum {
                offset: self.checksum.offset,
                found: self.checksum.stored,
                computed: self.checksum.computed,
            });
        }
        match &self.sha256 {
            Some(h) if !h.ok() => Err(EspImageError::Sha256Mismatch { offset: h.offset }),
            _ => Ok(()),
        }
    }

    /// Label/value rows for a human summary, in `esptool image-info` terms.
    pub fn summary(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            row("Format", "ESP-IDF app image"),
            row("Chip", format!("{} (chip id {})", self.chip, self.chip_id)),
            row("Entry point", format!("{:#x}", self.entry_addr)),
            row(
                "Flash",
                format!(
                    "{} {} {}",
                    self.flash_mode, self.flash_freq, self.flash_size
                ),
            ),
            row(
                "Chip revision",
                format!(
                    "{} to {} (legacy min_rev {})",
                    rev_text(self.min_chip_rev_full),
                    rev_text(self.max_chip_rev_full),
                    self.min_chip_rev
                ),
            ),
            row("Segments", self.segments.len().to_string()),
        ];
        for (i, s) in self.segments.iter().enumerate() {
            rows.push(row(
                format!("Segment {i}"),
                format!(
                    "{:#010x}, {} bytes at file offset {:#x} {}",
                    s.load_addr,
                    s.len,
                    s.header_offset,
                    s.memory_types.join(", ")
                ),
            ));
        }
        let c = &self.checksum;
        rows.push(row(
            "Checksum",
            check_text(
                c.ok(),
                &format!("{:#04x}", c.stored),
                &format!("{:#04x}", c.computed),
            ),
        ));
        rows.push(row(
            "SHA-256 (appended)",
            match &self.sha256 {
                Some(h) => check_text(h.ok(), &hex(&h.stored.0), &hex(&h.computed.0)),
                None => "not appended".into(),
            },
        ));
        if let Some(a) = &self.app {
            rows.push(row("Project name", a.project_name.clone()));
            rows.push(row("App version", a.version.clone()));
            rows.push(row("Compile time", format!("{} {}", a.date, a.time)));
            rows.push(row("ESP-IDF", a.idf_version.clone()));
            rows.push(row("Secure version", a.secure_version.to_string()));
            rows.push(row("ELF file SHA256", hex(&a.app_elf_sha256)));
        }
        rows.push(row("Image length", format!("{} bytes", self.image_len)));
        if self.trailing_len > 0 {
            rows.push(row("Trailing data", format!("{} bytes", self.trailing_len)));
        }
        rows
    }
}

/// The fields of an application descriptor to build, for test and demo images.
#[derive(Debug, Clone)]
pub struct AppDescriptorFields<'a> {
    pub version: &'a str,
    pub project_name: &'a str,
    pub time: &'a str,
    pub date: &'a str,
    pub idf_version: &'a str,
    pub secure_version: u32,
}

/// Build a well-formed ESP application image for `chip_id` with the given descriptor and segment
/// bodies (the descriptor is put at the start of the first segment). Used for sample and test
/// images; real images come from ESP-IDF.
pub fn build_app_image(
    chip_id: u16,
    desc: &AppDescriptorFields<'_>,
    segments: &[(u32, &[u8])],
) -> Vec<u8> {
    build_image(chip_id, Some(desc), segments)
}

/// An ESP image of `segments` for the chip `chip_id`; with `desc`, an app whose first segment
/// starts with that descriptor, without, a second-stage bootloader.
pub fn build_image(
    chip_id: u16,
    desc: Option<&AppDescriptorFields<'_>>,
    segments: &[(u32, &[u8])],
) -> Vec<u8> {
    fn put_str(buf: &mut [u8], s: &str) {
        let n = s.len().min(buf.len() - 1);
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    }
    let d = desc.map(|desc| {
        let mut d = [0u8; APP_DESC_LEN];
        d[..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
        d[4..8].copy_from_slice(&desc.secure_version.to_le_bytes());
        put_str(&mut d[16..48], desc.version);
        put_str(&mut d[48..80], desc.project_name);
        put_str(&mut d[80..96], desc.time);
        put_str(&mut d[96..112], desc.date);
        put_str(&mut d[112..144], desc.idf_version);
        let elf = sha256(desc.version.as_bytes());
        d[144..176].copy_from_slice(&elf);
        d
    });

    let mut out = vec![0u8; HEADER_LEN];
    out[0] = IMAGE_MAGIC;
    out[1] = segments.len().max(1) as u8;
    out[2] = 2; // DIO
    out[3] = 0x20; // 40 MHz, 4 MB
    out[4..8].copy_from_slice(&0x4008_1000u32.to_le_bytes());
    out[8] = 0xEE;
    out[12..14].copy_from_slice(&chip_id.to_le_bytes());
    out[23] = 1;
    let mut checksum: u8 = 0xEF;
    for (i, (addr, body)) in segments.iter().enumerate() {
        let mut data = Vec::with_capacity(body.len() + APP_DESC_LEN);
        if let (0, Some(d)) = (i, &d) {
            data.extend_from_slice(d);
        }
        data.extend_from_slice(body);
        while data.len() % 4 != 0 {
            data.push(0);
        }
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        checksum = data.iter().fold(checksum, |c, b| c ^ b);
        out.extend_from_slice(&data);
    }
    while out.len() % 16 != 15 {
        out.push(0);
    }
    out.push(checksum);
    let digest = sha256(&out);
    out.extend_from_slice(&digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let body: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        build_app_image(
            9,
            &AppDescriptorFields {
                version: "2.1.0",
                project_name: "demo",
                time: "12:00:00",
                date: "Nov 22 2026",
                idf_version: "v5.3.1",
                secure_version: 1,
            },
            &[(0x3c00_0020, &body), (0x4037_8000, &body[..300])],
        )
    }

    #[test]
    fn built_image_parses_back() {
        let img = sample();
        let parsed = parse(&img).unwrap();
        assert_eq!(parsed.chip_id, 9);
        assert_eq!(chip_name(parsed.chip_id), "ESP32-S3");
        assert_eq!(parsed.segment_count, 2);
        assert_eq!(parsed.segments[0].memory_types, ["DROM"]);
        assert_eq!(parsed.segments[1].memory_types, ["MEM_INTERNAL", "IRAM"]);
        assert_eq!(
            (parsed.flash_mode, parsed.flash_freq, parsed.flash_size),
            ("DIO", "40m", "4MB")
        );
        assert!(parsed.hash_appended);
        assert_eq!(parsed.image_len, img.len());
        let app = parsed.app.unwrap();
        assert_eq!(app.version, "2.1.0");
        assert_eq!(app.project_name, "demo");
        assert_eq!(app.idf_version, "v5.3.1");
        assert_eq!(app.secure_version, 1);
    }

    #[test]
    fn one_flipped_byte_is_caught() {
        let mut img = sample();
        img[600] ^= 0x40;
        assert_eq!(
            parse(&img).unwrap_err(),
            EspImageError::Checksum {
                offset: img.len() - 33,
                found: img[img.len() - 33],
                computed: img[img.len() - 33] ^ 0x40
            }
        );
        let unchecked = parse_unchecked(&img).unwrap();
        assert!(!unchecked.checksum.ok());
        let mut img = sample();
        let n = img.len();
        img[n - 1] ^= 1;
        assert!(matches!(
            parse(&img),
            Err(EspImageError::Sha256Mismatch { .. })
        ));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let img = sample();
        for len in 0..img.len() {
            assert!(parse(&img[..len]).is_err(), "accepted {len} bytes");
        }
    }

    #[test]
    fn other_data_is_not_an_esp_image() {
        assert_eq!(parse(&[0u8; 64]).unwrap_err(), EspImageError::BadMagic(0));
    }
}
