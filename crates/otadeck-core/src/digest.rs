//! Digests computed as the bytes stream past, so that a large image never has to be hashed in one
//! call (a long call in the browser stays in the slow baseline tier and freezes the page).
//!
//! [`MultiDigest`] feeds SHA-256, SHA-1, MD5 and CRC-32 (IEEE, as zlib's `crc32`) from the same
//! chunks; [`ExpectedDigest`] is a hash string from a manifest, parsed and checked for its
//! algorithm's length; [`Digests::verify`] compares the two.

use crc::{Crc, CRC_32_ISO_HDLC};
use md5::Md5;
use serde::{Deserialize, Serialize, Serializer};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 fed in chunks.
#[derive(Debug, Clone, Default)]
pub struct StreamingSha256 {
    inner: Sha256,
    len: u64,
}

impl StreamingSha256 {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.inner.update(chunk);
        self.len += chunk.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before the first byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> [u8; 32] {
        self.inner.finalize().into()
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// SHA-256 of a whole buffer, in one call. For small inputs only.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A digest algorithm found in update manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-1 (20 bytes): Pycom, hawkBit.
    Sha1,
    /// MD5 (16 bytes): hawkBit, Zerynth `bc_crc`.
    Md5,
    /// CRC-32, IEEE polynomial, as zlib computes it (4 bytes, written big-endian in hex).
    Crc32,
}

impl Algorithm {
    /// Every algorithm, strongest first.
    pub const ALL: [Algorithm; 4] = [Self::Sha256, Self::Sha1, Self::Md5, Self::Crc32];

    /// The name people read: `SHA-256`, `SHA-1`, `MD5`, `CRC-32`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha1 => "SHA-1",
            Self::Md5 => "MD5",
            Self::Crc32 => "CRC-32",
        }
    }

    /// The key used in JSON: `sha256`, `sha1`, `md5`, `crc32`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha1 => "sha1",
            Self::Md5 => "md5",
            Self::Crc32 => "crc32",
        }
    }

    /// `an` for MD5, `a` for the others (as the names are read aloud).
    pub fn article(self) -> &'static str {
        if self == Self::Md5 {
            "an"
        } else {
            "a"
        }
    }

    /// Length of the digest in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha1 => 20,
            Self::Md5 => 16,
            Self::Crc32 => 4,
        }
    }

    /// Length of the digest in hex characters.
    pub fn hex_len(self) -> usize {
        self.byte_len() * 2
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a hex digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum HexError {
    /// The string has the wrong number of characters for the algorithm.
    #[error("not {} {algorithm} digest: expected {expected} hex characters, found {found}", algorithm.article())]
    WrongLength {
        /// The algorithm the string was meant for.
        algorithm: Algorithm,
        /// Hex characters required.
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// A character is not a hex digit.
    #[error("not {} {algorithm} digest: expected {expected} hex characters, found {found:?} at character {position}", algorithm.article())]
    NotHex {
        /// The algorithm the string was meant for.
        algorithm: Algorithm,
        /// Hex characters required.
        expected: usize,
        /// The offending character.
        found: char,
        /// Its position (0-based, in characters).
        position: usize,
    },
}

/// Parse `hex` (either case) as a digest of `algorithm`: exactly [`Algorithm::hex_len`] hex digits.
pub fn parse_hex(algorithm: Algorithm, hex: &str) -> Result<Vec<u8>, HexError> {
    let expected = algorithm.hex_len();
    if let Some((position, found)) = hex
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(HexError::NotHex {
            algorithm,
            expected,
            found,
            position,
        });
    }
    if hex.len() != expected {
        return Err(HexError::WrongLength {
            algorithm,
            expected,
            found: hex.chars().count(),
        });
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    };
    Ok(hex
        .as_bytes()
        .chunks_exact(2)
        .map(|p| nibble(p[0]) << 4 | nibble(p[1]))
        .collect())
}

/// A digest a manifest promises: an algorithm and its bytes. Serialises as
/// `{"algorithm":"sha1","hex":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExpectedDigest {
    algorithm: Algorithm,
    bytes: Vec<u8>,
}

impl ExpectedDigest {
    /// Parse a hex string for `algorithm`; refuses wrong lengths and non-hex characters.
    pub fn parse(algorithm: Algorithm, hex: &str) -> Result<Self, HexError> {
        Ok(Self {
            algorithm,
            bytes: parse_hex(algorithm, hex)?,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The digest bytes (length [`Algorithm::byte_len`]).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Lower-case hex.
    pub fn hex(&self) -> String {
        to_hex(&self.bytes)
    }
}

impl fmt::Display for ExpectedDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.algorithm, self.hex())
    }
}

impl Serialize for ExpectedDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ExpectedDigest", 2)?;
        st.serialize_field("algorithm", &self.algorithm)?;
        st.serialize_field("hex", &self.hex())?;
        st.end()
    }
}

static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// SHA-256, SHA-1, MD5 and CRC-32 fed from the same chunks. Choose fewer algorithms with
/// [`MultiDigest::only`] when speed matters (each one costs a pass over the bytes).
#[derive(Clone)]
pub struct MultiDigest {
    sha256: Option<Sha256>,
    sha1: Option<Sha1>,
    md5: Option<Md5>,
    crc32: Option<crc::Digest<'static, u32>>,
    len: u64,
}

impl fmt::Debug for MultiDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiDigest")
            .field("algorithms", &self.algorithms())
            .field("len", &self.len)
            .finish()
    }
}

impl Default for MultiDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl MultiDigest {
    /// All four algorithms.
    pub fn new() -> Self {
        Self::only(&Algorithm::ALL)
    }

    /// Only the algorithms listed.
    pub fn only(algorithms: &[Algorithm]) -> Self {
        let has = |a| algorithms.contains(&a);
        Self {
            sha256: has(Algorithm::Sha256).then(Sha256::new),
            sha1: has(Algorithm::Sha1).then(Sha1::new),
            md5: has(Algorithm::Md5).then(Md5::new),
            crc32: has(Algorithm::Crc32).then(|| CRC32.digest()),
            len: 0,
        }
    }

    /// The algorithms being computed.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let on = [
            self.sha256.is_some(),
            self.sha1.is_some(),
            self.md5.is_some(),
            self.crc32.is_some(),
        ];
        Algorithm::ALL
            .into_iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(a, _)| a)
            .collect()
    }

    /// Add the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        if let Some(h) = &mut self.sha256 {
            h.update(chunk);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(chunk);
        }
        if let Some(h) = &mut self.md5 {
            h.update(chunk);
        }
        if let Some(h) = &mut self.crc32 {
            h.update(chunk);
        }
        self.len += chunk.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before the first byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digests of everything fed so far.
    pub fn finish(self) -> Digests {
        Digests {
            len: self.len,
            sha256: self.sha256.map(|h| h.finalize().into()),
            sha1: self.sha1.map(|h| h.finalize().into()),
            md5: self.md5.map(|h| h.finalize().into()),
            crc32: self.crc32.map(|h| h.finalize()),
        }
    }

    /// All digests of one buffer, in one call. For small inputs only.
    pub fn of(data: &[u8]) -> Digests {
        let mut d = Self::new();
        d.update(data);
        d.finish()
    }
}

/// The result of a [`MultiDigest`]: the length and each digest computed. Serialises as
/// `{"len":…,"sha256":"hex",…}` (algorithms not computed are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Bytes hashed.
    pub len: u64,
    /// SHA-256, when computed.
    pub sha256: Option<[u8; 32]>,
    /// SHA-1, when computed.
    pub sha1: Option<[u8; 20]>,
    /// MD5, when computed.
    pub md5: Option<[u8; 16]>,
    /// CRC-32 (zlib), when computed.
    pub crc32: Option<u32>,
}

impl Digests {
    /// The bytes of one digest (CRC-32 big-endian, as it is written in hex), if it was computed.
    pub fn get(&self, algorithm: Algorithm) -> Option<Vec<u8>> {
        match algorithm {
            Algorithm::Sha256 => self.sha256.map(|d| d.to_vec()),
            Algorithm::Sha1 => self.sha1.map(|d| d.to_vec()),
            Algorithm::Md5 => self.md5.map(|d| d.to_vec()),
            Algorithm::Crc32 => self.crc32.map(|c| c.to_be_bytes().to_vec()),
        }
    }

    /// Lower-case hex of one digest, if it was computed.
    pub fn hex(&self, algorithm: Algorithm) -> Option<String> {
        self.get(algorithm).map(|b| to_hex(&b))
    }

    /// Compare an expected digest with the one computed.
    pub fn verify(&self, expected: &ExpectedDigest) -> Verdict {
        let algorithm = expected.algorithm();
        match self.get(algorithm) {
            None => Verdict::NotComputed { algorithm },
            Some(actual) if actual == expected.bytes() => Verdict::Match { algorithm },
            Some(actual) => Verdict::Mismatch {
                algorithm,
                expected: expected.hex(),
                actual: to_hex(&actual),
            },
        }
    }

    /// Parse `hex` for `algorithm` and compare it with the digest computed.
    pub fn verify_hex(&self, algorithm: Algorithm, hex: &str) -> Result<Verdict, HexError> {
        Ok(self.verify(&ExpectedDigest::parse(algorithm, hex)?))
    }
}

impl Serialize for Digests {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("len", &self.len)?;
        for a in Algorithm::ALL {
            if let Some(hex) = self.hex(a) {
                m.serialize_entry(a.key(), &hex)?;
            }
        }
        m.end()
    }
}

/// The outcome of comparing an expected digest with a computed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The digests are equal.
    Match {
        /// The algorithm compared.
        algorithm: Algorithm,
    },
    /// The digests differ: the data is not what the manifest describes.
    Mismatch {
        /// The algorithm compared.
        algorithm: Algorithm,
        /// Hex the manifest promised.
        expected: String,
        /// Hex of the data.
        actual: String,
    },
    /// The algorithm was not computed, so nothing was compared (never treat this as a match).
    NotComputed {
        /// The algorithm asked for.
        algorithm: Algorithm,
    },
}

impl Verdict {
    /// True only for [`Verdict::Match`].
    pub fn is_match(&self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Match { algorithm } => write!(f, "{algorithm} matches"),
            Self::Mismatch {
                algorithm,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{algorithm} mismatch: expected {expected}, computed {actual}"
                )
            }
            Self::NotComputed { algorithm } => write!(f, "{algorithm} was not computed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            to_hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chunked_equals_one_shot_for_every_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = sha256(&data);
        for split in [0, 1, 63, 64, 65, 150, 299, 300] {
            let mut s = StreamingSha256::new();
            s.update(&data[..split]);
            s.update(&data[split..]);
            assert_eq!(s.len(), 300);
            assert_eq!(s.finish(), whole, "split at {split}");
        }
    }

    #[test]
    fn multi_digest_known_vectors() {
        let d = MultiDigest::of(b"abc");
        assert_eq!(
            d.hex(Algorithm::Sha1).unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            d.hex(Algorithm::Md5).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(d.hex(Algorithm::Crc32).unwrap(), "352441c2");
        assert_eq!(d.len, 3);
    }

    #[test]
    fn hex_errors_name_algorithm_and_length() {
        let e = parse_hex(Algorithm::Sha1, "abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a SHA-1 digest: expected 40 hex characters, found 3"
        );
        let e = parse_hex(Algorithm::Md5, "zz").unwrap_err();
        assert!(e.to_string().contains("MD5"), "{e}");
        assert!(parse_hex(Algorithm::Crc32, "352441C2").is_ok());
    }
}
