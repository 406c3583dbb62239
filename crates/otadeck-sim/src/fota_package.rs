//! The simulated QuecPython module's full FOTA package.
//!
//! Quectel wraps a full firmware in a vendor package ("headers, footers, verification data")
//! whose layout it does not publish and which differs by chipset; the module's `fota.verify()`
//! checks it. otadeck treats such a package as opaque data for that reason. The simulated module
//! needs one it can check and take a version from, so it has this one:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `QPYFOTA\0` |
//! | 8..12 | body length, little-endian |
//! | 12..44 | version, NUL-padded UTF-8 |
//! | 44..76 | SHA-256 of the body |
//! | 76.. | body |
//!
//! The Python stand-in of `fota` (`peers/micropython/fota.py`) checks the same layout.

use sha2::{Digest, Sha256};

/// The first eight bytes of a package.
pub const MAGIC: &[u8; 8] = b"QPYFOTA\0";
/// Header length: the body starts here.
pub const HEADER_LEN: usize = 76;
const VERSION_LEN: usize = 32;

/// A package whose header checks: its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The version the package installs.
    pub version: String,
}

/// Wrap `body` as the package of `version` (cut to 32 bytes).
pub fn build(version: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    let mut name = [0u8; VERSION_LEN];
    let len = version.len().min(VERSION_LEN);
    name[..len].copy_from_slice(&version.as_bytes()[..len]);
    out.extend_from_slice(&name);
    out.extend_from_slice(&Sha256::digest(body));
    out.extend_from_slice(body);
    out
}

/// The package in `data` when it is one and whole: magic, exact length and body hash.
pub fn parse(data: &[u8]) -> Option<Package> {
    let header = data.get(..HEADER_LEN)?;
    if &header[..8] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(header[8..12].try_into().ok()?) as usize;
    let body = &data[HEADER_LEN..];
    if body.len() != len || Sha256::digest(body).as_slice() != &header[44..76] {
        return None;
    }
    let name = &header[12..44];
    let end = name.iter().position(|&b| b == 0).unwrap_or(VERSION_LEN);
    let version = std::str::from_utf8(&name[..end]).ok()?.to_string();
    Some(Package { version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_parses_back_to_its_version() {
        let p = build("2.1.0", &[7; 1000]);
        assert_eq!(p.len(), HEADER_LEN + 1000);
        assert_eq!(parse(&p).unwrap().version, "2.1.0");
    }

    #[test]
    fn a_cut_or_changed_package_does_not_parse() {
        let p = build("2.1.0", &[7; 1000]);
        assert_eq!(parse(&p[..p.len() - 1]), None);
        let mut flipped = p.clone();
        flipped[500] ^= 1;
        assert_eq!(parse(&flipped), None);
        let mut longer = p;
        longer.push(0);
        assert_eq!(parse(&longer), None);
        assert_eq!(parse(b"QPYFOTA"), None);
    }
}
