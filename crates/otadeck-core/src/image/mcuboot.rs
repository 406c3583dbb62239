//! MCUboot images: the 32-byte header, the body, the protected (0x6908) and unprotected (0x6907)
//! TLV areas, the image hash and the ed25519 / ECDSA P-256 signature.
//!
//! Layout and semantics: MCUboot `docs/design.md`, `bootutil/image.h` and imgtool's `image.py`.
//! The hash TLV covers header + body + protected TLV area. imgtool signs that *digest* for
//! ed25519 and ECDSA (ECDSA: the digest is the prehash of an ECDSA-SHA256 signature); with
//! SIG_PURE, ed25519 signs the hashed region itself. KEYHASH is the hash of the DER
//! SubjectPublicKeyInfo imgtool embeds for both key types.

use serde::Serialize;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::pubkey::PublicKey;

#[path = "mcuboot_signature.rs"]
mod signature;
use super::util::{check_text, hex, row, ser_hex, take, u16_le, u32_le, Truncated};

/// `ih_magic`.
pub const IMAGE_MAGIC: u32 = 0x96f3_b83d;
/// Bytes of the header proper (`hdr_size` may pad it further).
pub const HEADER_LEN: usize = 32;
/// Magic of the unprotected TLV area.
pub const TLV_INFO_MAGIC: u16 = 0x6907;
/// Magic of the protected TLV area.
pub const TLV_PROT_INFO_MAGIC: u16 = 0x6908;
/// Image trailer magic (BOOT_MAX_ALIGN 8) at the end of a padded slot.
pub const BOOT_MAGIC: [u8; 16] = [
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
];

/// TLV type numbers (`IMAGE_TLV_*`).
pub mod tlv {
    pub const KEYHASH: u16 = 0x01;
    pub const PUBKEY: u16 = 0x02;
    pub const SHA256: u16 = 0x10;
    pub const SHA384: u16 = 0x11;
    pub const SHA512: u16 = 0x12;
    pub const RSA2048_PSS: u16 = 0x20;
    pub const ECDSA_SIG: u16 = 0x22;
    pub const RSA3072_PSS: u16 = 0x23;
    pub const ED25519: u16 = 0x24;
    pub const SIG_PURE: u16 = 0x25;
}

/// The name of a TLV type, as imgtool spells it.
pub fn tlv_name(kind: u16) -> &'static str {
    match kind {
        0x01 => "KEYHASH",
        0x02 => "PUBKEY",
        0x10 => "SHA256",
        0x11 => "SHA384",
        0x12 => "SHA512",
        0x20 => "RSA2048_PSS",
        0x22 => "ECDSA_SIG",
        0x23 => "RSA3072_PSS",
        0x24 => "ED25519",
        0x25 => "SIG_PURE",
        0x30 => "ENC_RSA2048",
        0x31 => "ENC_KW",
        0x32 => "ENC_EC256",
        0x33 => "ENC_X25519",
        0x34 => "ENC_X25519_SHA512",
        0x40 => "DEPENDENCY",
        0x50 => "SEC_CNT",
        0x60 => "BOOT_RECORD",
        0x70 => "DECOMP_SIZE",
        0x71 => "DECOMP_SHA",
        0x72 => "DECOMP_SIGNATURE",
        0x73 => "COMP_DEC_SIZE",
        0x74 => "UUID_VID",
        0x75 => "UUID_CID",
        0xa0..=0xfffe => "vendor",
        _ => "unknown",
    }
}

/// Names of the header flag bits that are set.
pub fn flag_names(flags: u32) -> Vec<&'static str> {
    const FLAGS: [(u32, &str); 9] = [
        (0x1, "PIC"),
        (0x4, "ENCRYPTED_AES128"),
        (0x8, "ENCRYPTED_AES256"),
        (0x10, "NON_BOOTABLE"),
        (0x20, "RAM_LOAD"),
        (0x100, "ROM_FIXED"),
        (0x200, "COMPRESSED_LZMA1"),
        (0x400, "COMPRESSED_LZMA2"),
        (0x800, "COMPRESSED_ARM_THUMB"),
    ];
    FLAGS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Why an MCUboot image was refused, or failed a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum McuBootError {
    /// The data ends before a field.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// The first word is not 0x96f3b83d.
    #[error("not an MCUboot image (magic {found:#010x} at offset 0)")]
    BadMagic { found: u32 },
    /// `hdr_size` (offset 8) is smaller than the header.
    #[error("hdr_size {hdr_size:#x} at offset 8 is smaller than the 32-byte header")]
    HeaderSize { hdr_size: u16 },
    /// No TLV info magic where a TLV area must start.
    #[error("TLV area at offset {offset:#x} has magic {found:#06x}, expected 0x6907 or 0x6908")]
    BadTlvMagic { offset: usize, found: u16 },
    /// A TLV area whose total is smaller than its own info header.
    #[error("TLV area at offset {offset:#x} has total length {total}, less than 4")]
    TlvAreaSize { offset: usize, total: u16 },
    /// A TLV runs past the end of its area.
    #[error("TLV at offset {offset:#x} (length {len}) runs past its area end {area_end:#x}")]
    TlvOverrun {
        offset: usize,
        len: u16,
        area_end: usize,
    },
    /// `protect_tlv_size` (offset 10) disagrees with the protected area.
    #[error("protect_tlv_size {header} at offset 10 but the protected TLV area at {offset:#x} is {area} bytes")]
    ProtectedSize {
        offset: usize,
        header: u16,
        area: u16,
    },
    /// No SHA256/SHA384/SHA512 TLV (and no SIG_PURE).
    #[error("no image hash TLV")]
    NoHash,
    /// The hash TLV does not match the image.
    #[error(
        "{tlv} TLV at offset {offset:#x} does not match the image (body or protected TLVs changed)"
    )]
    HashMismatch { tlv: &'static str, offset: usize },
    /// The image is encrypted: its hash covers the plaintext.
    #[error("encrypted image: the hash covers the plaintext and cannot be checked")]
    Encrypted,
    /// KEYHASH names another key.
    #[error("KEYHASH TLV at offset {offset:#x} names another key than the one given")]
    KeyHashMismatch { offset: usize },
    /// PUBKEY carries another key.
    #[error("PUBKEY TLV at offset {offset:#x} carries another key than the one given")]
    PubKeyMismatch { offset: usize },
    /// No signature TLV for the key's algorithm.
    #[error("no {tlv} signature TLV for a {algorithm} key")]
    NoSignature {
        algorithm: &'static str,
        tlv: &'static str,
    },
    /// The signature does not verify with the key.
    #[error("{tlv} signature at offset {offset:#x} does not verify with the given key")]
    SignatureInvalid { tlv: &'static str, offset: usize },
    /// A hash TLV that disagrees with the first one: MCUboot checks every one.
    #[error("a second {tlv} TLV at offset {offset:#x} does not match the image: MCUboot checks every hash TLV and would refuse it")]
    ExtraHash { tlv: &'static str, offset: usize },
    /// The image names no key, so MCUboot finds none to check its signature with.
    #[error("the image names no key (no KEYHASH or PUBKEY TLV): MCUboot finds the key to check a signature by it and would refuse the image")]
    KeyNotNamed,
}

/// `ih_ver`: major.minor.revision+build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub revision: u16,
    pub build: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}+{}",
            self.major, self.minor, self.revision, self.build
        )
    }
}

/// The image header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// `ih_load_addr`.
    pub load_addr: u32,
    /// `ih_hdr_size`.
    pub hdr_size: u16,
    /// `ih_protect_tlv_size`.
    pub protect_tlv_size: u16,
    /// `ih_img_size` (body bytes after the header).
    pub img_size: u32,
    /// `ih_flags`.
    pub flags: u32,
    /// `ih_ver`.
    pub version: Version,
}

/// One TLV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tlv {
    /// `it_type`.
    pub kind: u16,
    /// Its name.
    pub name: &'static str,
    /// Offset of the TLV header; the value follows 4 bytes later.
    pub offset: usize,
    /// In the protected (hashed) area.
    pub protected: bool,
    /// The value.
    #[serde(serialize_with = "ser_hex")]
    pub value: Vec<u8>,
}

/// A TLV area's info header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlvArea {
    /// Where it starts.
    pub offset: usize,
    /// `it_tlv_tot`, info header included.
    pub total: u16,
}

/// The hash TLV and the hash of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageHash {
    /// TLV name (SHA256, SHA384, SHA512).
    pub tlv: &'static str,
    /// Offset of the TLV.
    pub offset: usize,
    /// Stored digest.
    #[serde(serialize_with = "ser_hex")]
    pub stored: Vec<u8>,
    /// Digest of header + body + protected TLVs.
    #[serde(serialize_with = "ser_hex")]
    pub computed: Vec<u8>,
}

impl ImageHash {
    /// True when the digests match.
    pub fn ok(&self) -> bool {
        self.stored == self.computed
    }
}

/// A parsed MCUboot image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McuBootImage {
    /// The header.
    pub header: Header,
    /// Names of the set flags.
    pub flag_names: Vec<&'static str>,
    /// The protected TLV area, if any.
    pub protected_area: Option<TlvArea>,
    /// The unprotected TLV area.
    pub tlv_area: TlvArea,
    /// Every TLV, protected ones first.
    pub tlvs: Vec<Tlv>,
    /// The hash TLV, checked (None when there is none, or the image is encrypted).
    pub hash: Option<ImageHash>,
    /// SIG_PURE: the signature covers the hashed region itself.
    pub pure: bool,
    /// Bytes covered by the hash: header + body + protected TLV area.
    pub hashed_len: usize,
    /// End of the TLVs.
    pub image_len: usize,
    /// Bytes after the TLVs (slot padding).
    pub trailing_len: usize,
    /// The slot trailer magic ends the data (an image padded with `imgtool sign --pad`).
    pub trailer_magic: bool,
}

/// What a successful [`McuBootImage::verify`] established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// "ed25519" or "ecdsa-p256".
    pub algorithm: &'static str,
    /// The signature TLV that verified.
    pub signature_tlv: &'static str,
    /// How the image names its key: "KEYHASH", "PUBKEY" or "none".
    pub key_named_by: &'static str,
}

fn digest_for(kind: u16, data: &[u8]) -> Option<Vec<u8>> {
    Some(match kind {
        tlv::SHA256 => Sha256::digest(data).to_vec(),
        tlv::SHA384 => Sha384::digest(data).to_vec(),
        tlv::SHA512 => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// Walk the TLV area at `offset`, expecting `magic`.
fn area(
    data: &[u8],
    offset: usize,
    protected: bool,
    tlvs: &mut Vec<Tlv>,
) -> Result<TlvArea, McuBootError> {
    let total = u16_le(data, offset + 2, "TLV area total")?;
    if total < 4 {
        return Err(McuBootError::TlvAreaSize { offset, total });
    }
    let end = offset + usize::from(total);
    take(data, offset, usize::from(total), "TLV area")?;
    let mut at = offset + 4;
    while at < end {
        if end - at < 4 {
            return Err(McuBootError::TlvOverrun {
                offset: at,
                len: 0,
                area_end: end,
            });
        }
        let kind = u16_le(data, at, "TLV type")?;
        let len = u16_le(data, at + 2, "TLV length")?;
        let value_end = at + 4 + usize::from(len);
        if value_end > end {
            return Err(McuBootError::TlvOverrun {
                offset: at,
                len,
                area_end: end,
            });
        }
        tlvs.push(Tlv {
            kind,
            name: tlv_name(kind),
            offset: at,
            protected,
            value: data[at + 4..value_end].to_vec(),
        });
        at = value_end;
    }
    Ok(TlvArea { offset, total })
}

/// Parse an MCUboot image and check its hash TLV (the result is in [`McuBootImage::hash`];
/// see [`McuBootImage::check`]). Bytes after the TLVs (slot padding, trailer) are allowed.
pub fn parse(data: &[u8]) -> Result<McuBootImage, McuBootError> {
    let magic = u32_le(data, 0, "ih_magic")?;
    if magic != IMAGE_MAGIC {
        return Err(McuBootError::BadMagic { found: magic });
    }
    take(data, 0, HEADER_LEN, "image header")?;
    let v = take(data, 20, 8, "ih_ver")?;
    let header = Header {
        load_addr: u32_le(data, 4, "ih_load_addr")?,
        hdr_size: u16_le(data, 8, "ih_hdr_size")?,
        protect_tlv_size: u16_le(data, 10, "ih_protect_tlv_size")?,
        img_size: u32_le(data, 12, "ih_img_size")?,
        flags: u32_le(data, 16, "ih_flags")?,
        version: Version {
            major: v[0],
            minor: v[1],
            revision: u16::from_le_bytes([v[2], v[3]]),
            build: u32::from_le_bytes([v[4], v[5], v[6], v[7]]),
        },
    };
    if usize::from(header.hdr_size) < HEADER_LEN {
        return Err(McuBootError::HeaderSize {
            hdr_size: header.hdr_size,
        });
    }
    let body_end = usize::from(header.hdr_size)
        .checked_add(header.img_size as usize)
        .ok_or(McuBootError::Truncated(Truncated {
            field: "image body",
            offset: usize::from(header.hdr_size),
            needed: header.img_size as usize,
            available: data.len().saturating_sub(usize::from(header.hdr_size)),
        }))?;
    take(
        data,
        usize::from(header.hdr_size),
        header.img_size as usize,
        "image body",
    )?;

    let mut tlvs = Vec::new();
    let mut at = body_end;
    let mut protected_area = None;
    let mut found = u16_le(data, at, "TLV info magic")?;
    if found == TLV_PROT_INFO_MAGIC {
        let a = area(data, at, true, &mut tlvs)?;
        if a.total != header.protect_tlv_size {
            return Err(McuBootError::ProtectedSize {
                offset: at,
                header: header.protect_tlv_size,
                area: a.total,
            });
        }
        at += usize::from(a.total);
        protected_area = Some(a);
        found = u16_le(data, at, "TLV info magic")?;
    } else if header.protect_tlv_size != 0 {
        return Err(McuBootError::ProtectedSize {
            offset: at,
            header: header.protect_tlv_size,
            area: 0,
        });
    }
    if found != TLV_INFO_MAGIC {
        return Err(McuBootError::BadTlvMagic { offset: at, found });
    }
    let hashed_len = at;
    let tlv_area = area(data, at, false, &mut tlvs)?;
    let image_len = at + usize::from(tlv_area.total);

    let encrypted = header.flags & 0xC != 0;
    let hash = tlvs.iter().filter(|_| !encrypted).find_map(|t| {
        digest_for(t.kind, &data[..hashed_len]).map(|computed| ImageHash {
            tlv: t.name,
            offset: t.offset,
            stored: t.value.clone(),
            computed,
        })
    });
    Ok(McuBootImage {
        flag_names: flag_names(header.flags),
        header,
        protected_area,
        tlv_area,
        pure: tlvs.iter().any(|t| t.kind == tlv::SIG_PURE),
        tlvs,
        hash,
        hashed_len,
        image_len,
        trailing_len: data.len() - image_len,
        trailer_magic: data.len() > image_len + 16 && data.ends_with(&BOOT_MAGIC),
    })
}

impl McuBootImage {
    /// The TLVs of one type.
    pub fn find(&self, kind: u16) -> impl Iterator<Item = &Tlv> {
        self.tlvs.iter().filter(move |t| t.kind == kind)
    }

    /// The image is intact: its hash TLV matches (SIG_PURE images carry no hash).
    pub fn check(&self) -> Result<(), McuBootError> {
        if self.header.flags & 0xC != 0 {
            return Err(McuBootError::Encrypted);
        }
        if let Some(h) = &self.hash {
            if let Some(t) = self
                .tlvs
                .iter()
                .find(|t| t.name == h.tlv && t.offset != h.offset && t.value != h.computed)
            {
                return Err(McuBootError::ExtraHash {
                    tlv: t.name,
                    offset: t.offset,
                });
            }
        }
        match &self.hash {
            Some(h) if h.ok() => Ok(()),
            Some(h) => Err(McuBootError::HashMismatch {
                tlv: h.tlv,
                offset: h.offset,
            }),
            None if self.pure => Ok(()),
            None => Err(McuBootError::NoHash),
        }
    }

    /// Label/value rows for a human summary.
    pub fn summary(&self) -> Vec<(String, String)> {
        let h = &self.header;
        let mut rows = vec![
            row("Format", "MCUboot image"),
            row("Version", h.version.to_string()),
            row("Load address", format!("{:#x}", h.load_addr)),
            row("Header size", format!("{:#x}", h.hdr_size)),
            row("Image size", format!("{} bytes", h.img_size)),
            row(
                "Flags",
                if self.flag_names.is_empty() {
                    format!("{:#x}", h.flags)
                } else {
                    format!("{:#x} ({})", h.flags, self.flag_names.join(", "))
                },
            ),
        ];
        if let Some(p) = &self.protected_area {
            rows.push(row(
                "Protected TLVs",
                format!("{} bytes at {:#x}", p.total, p.offset),
            ));
        }
        rows.push(row(
            "TLVs",
            format!(
                "{} bytes at {:#x}",
                self.tlv_area.total, self.tlv_area.offset
            ),
        ));
        for t in &self.tlvs {
            let shown = if t.value.len() > 64 {
                format!("{}… ({} bytes)", hex(&t.value[..64]), t.value.len())
            } else {
                hex(&t.value)
            };
            let area = if t.protected { "protected " } else { "" };
            rows.push(row(
                format!("{area}TLV {} ({:#04x})", t.name, t.kind),
                shown,
            ));
        }
        rows.push(row(
            "Hash",
            match (&self.hash, self.check()) {
                (Some(x), _) => format!(
                    "{}: {}",
                    x.tlv,
                    check_text(x.ok(), &hex(&x.stored), &hex(&x.computed))
                ),
                (None, Err(e)) => e.to_string(),
                (None, Ok(())) => "none (SIG_PURE)".into(),
            },
        ));
        let sigs: Vec<&str> = self
            .tlvs
            .iter()
            .filter(|t| matches!(t.kind, 0x20 | 0x22 | 0x23 | 0x24))
            .map(|t| t.name)
            .collect();
        rows.push(row(
            "Signature",
            if sigs.is_empty() {
                "unsigned".into()
            } else {
                format!("{} (give a key to verify)", sigs.join(", "))
            },
        ));
        if self.trailer_magic {
            rows.push(row("Slot trailer", "boot magic present"));
        }
        rows
    }
}
