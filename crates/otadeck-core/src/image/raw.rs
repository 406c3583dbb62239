//! Anything not recognised: its size and digests.

use crc::{Crc, CRC_32_ISO_HDLC};
use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::util::{hex, row};

static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Size and digests of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawImage {
    /// Bytes.
    pub len: usize,
    /// SHA-256, hex.
    pub sha256: String,
    /// SHA-1, hex.
    pub sha1: String,
    /// MD5, hex.
    pub md5: String,
    /// CRC-32 (zlib / ISO-HDLC).
    pub crc32: u32,
}

impl RawImage {
    /// Digest `data` in one call (for a large image in the browser, prefer the streaming
    /// digests of [`crate::digest`]).
    pub fn new(data: &[u8]) -> Self {
        Self {
            len: data.len(),
            sha256: hex(&Sha256::digest(data)),
            sha1: hex(&Sha1::digest(data)),
            md5: hex(&Md5::digest(data)),
            crc32: CRC32.checksum(data),
        }
    }

    /// Label/value rows for a human summary.
    pub fn summary(&self) -> Vec<(String, String)> {
        vec![
            row("Format", "raw data"),
            row("Size", format!("{} bytes", self.len)),
            row("SHA-256", self.sha256.clone()),
            row("SHA-1", self.sha1.clone()),
            row("MD5", self.md5.clone()),
            row("CRC-32", format!("{:#010x}", self.crc32)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let r = RawImage::new(b"123456789");
        assert_eq!(r.crc32, 0xCBF4_3926);
        assert_eq!(r.md5, "25f9e794323b453885f5181f1b624d0b");
    }
}
