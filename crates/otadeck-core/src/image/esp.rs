//! ESP-IDF application images: the 24-byte header, the segments, the checksum byte, the appended
//! SHA-256 and the `esp_app_desc_t` application descriptor.
//!
//! Layout: ESP-IDF `esp_app_format.h` and esptool's firmware-image-format documentation.
//! Parsing is bounded by the input: no allocation is sized by a field read from it.

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// The application descriptor's text fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    pub app_elf_sha256: [u8; 32],
}

/// A parsed and checked ESP application image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspImage {
    /// `chip_id` from the header.
    pub chip_id: u16,
    /// Number of segments.
    pub segment_count: u8,
    /// Entry point.
    pub entry_addr: u32,
    /// Whether a SHA-256 is appended (and was checked).
    pub hash_appended: bool,
    /// The application descriptor, when the first segment carries one.
    pub app: Option<AppDescriptor>,
    /// Bytes of the image proper (checksum and appended hash included).
    pub image_len: usize,
}

fn take<'a>(
    data: &'a [u8],
    offset: usize,
    len: usize,
    field: &'static str,
) -> Result<&'a [u8], EspImageError> {
    data.get(offset..offset.saturating_add(len))
        .ok_or(EspImageError::Truncated {
            field,
            offset,
            needed: len,
            available: data.len().saturating_sub(offset),
        })
}

fn u32_at(data: &[u8], offset: usize, field: &'static str) -> Result<u32, EspImageError> {
    let b = take(data, offset, 4, field)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The name of a chip id, as esptool prints it.
pub fn chip_name(chip_id: u16) -> &'static str {
    match chip_id {
        0 => "ESP32",
        2 => "ESP32-S2",
        5 => "ESP32-C3",
        9 => "ESP32-S3",
        12 => "ESP32-C2",
        13 => "ESP32-C6",
        16 => "ESP32-H2",
        _ => "unknown chip",
    }
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
    })
}

/// Parse and check an ESP application image: segments within bounds, checksum byte, and the
/// appended SHA-256 when the header says there is one. Trailing bytes after the image (padding in
/// a flash dump) are allowed.
pub fn parse(data: &[u8]) -> Result<EspImage, EspImageError> {
    let header = take(data, 0, HEADER_LEN, "image header")?;
    if header[0] != IMAGE_MAGIC {
        return Err(EspImageError::BadMagic(header[0]));
    }
    let segment_count = header[1];
    if usize::from(segment_count) > MAX_SEGMENTS {
        return Err(EspImageError::TooManySegments(segment_count));
    }
    let entry_addr = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let chip_id = u16::from_le_bytes([header[12], header[13]]);
    let hash_appended = header[23] == 1;

    let mut offset = HEADER_LEN;
    let mut checksum: u8 = 0xEF;
    for _ in 0..segment_count {
        let len = u32_at(data, offset + 4, "segment length")? as usize;
        let body = take(data, offset + 8, len, "segment data")?;
        checksum = body.iter().fold(checksum, |c, b| c ^ b);
        offset += 8 + len;
    }
    // Zero padding so that the checksum byte sits at an offset of 15 modulo 16.
    let checksum_at = offset + (15 - offset % 16);
    let found = take(data, checksum_at, 1, "checksum byte")?[0];
    if found != checksum {
        return Err(EspImageError::Checksum {
            offset: checksum_at,
            found,
            computed: checksum,
        });
    }
    let mut image_len = checksum_at + 1;
    if hash_appended {
        let digest = take(data, image_len, 32, "appended SHA-256")?;
        if sha256(&data[..image_len]) != digest {
            return Err(EspImageError::Sha256Mismatch { offset: image_len });
        }
        image_len += 32;
    }
    Ok(EspImage {
        chip_id,
        segment_count,
        entry_addr,
        hash_appended,
        app: app_descriptor(data),
        image_len,
    })
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
    fn put_str(buf: &mut [u8], s: &str) {
        let n = s.len().min(buf.len() - 1);
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    }
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
        if i == 0 {
            data.extend_from_slice(&d);
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
            &[(0x3f40_0020, &body), (0x4037_0000, &body[..300])],
        )
    }

    #[test]
    fn built_image_parses_back() {
        let img = sample();
        let parsed = parse(&img).unwrap();
        assert_eq!(parsed.chip_id, 9);
        assert_eq!(chip_name(parsed.chip_id), "ESP32-S3");
        assert_eq!(parsed.segment_count, 2);
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
