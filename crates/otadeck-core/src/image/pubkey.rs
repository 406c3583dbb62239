//! Signature-check keys for MCUboot images: ed25519 and ECDSA P-256, given as PEM or DER
//! SubjectPublicKeyInfo (what `imgtool getpub --encoding pem` writes). A PKCS#8 or SEC1 private
//! key (what `imgtool keygen` writes, or MCUboot's `root-*.pem`) is accepted too and only its
//! public half is kept. The DER reader is minimal and bounds-checked.

use base64::Engine;
use serde::Serialize;

const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const SPKI_ED25519_PREFIX: &[u8] = &[
    0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const SPKI_P256_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A,
    0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyError {
    /// A PEM block without its END line, or with a label this reader does not take.
    #[error("PEM: {0}")]
    Pem(String),
    /// The PEM body is not base64.
    #[error("PEM body is not valid base64")]
    Base64,
    /// The DER structure is malformed at `offset`.
    #[error("DER: {what} at offset {offset}")]
    Der { what: &'static str, offset: usize },
    /// A key for another algorithm or curve.
    #[error("unsupported key algorithm (OID {0}); ed25519 and ECDSA P-256 are supported")]
    Unsupported(String),
    /// The key bytes are not a valid key of their algorithm.
    #[error("invalid {0} key")]
    Invalid(&'static str),
}

/// A public key to check MCUboot signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 (signature TLV 0x24).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// ECDSA over P-256 (signature TLV 0x22).
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Read a key from PEM text or DER bytes (SubjectPublicKeyInfo, PKCS#8 or SEC1 private key).
    pub fn parse(input: &[u8]) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(input).ok().map(str::trim_start);
        match text {
            Some(t) if t.starts_with("-----BEGIN") => Self::from_pem(t),
            _ => Self::from_der(input),
        }
    }

    /// Read the first PEM block of `text`.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let start = text
            .find("-----BEGIN ")
            .ok_or(KeyError::Pem("no BEGIN line".into()))?;
        let rest = &text[start + 11..];
        let label_end = rest
            .find("-----")
            .ok_or(KeyError::Pem("bad BEGIN line".into()))?;
        let label = &rest[..label_end];
        let body_start = label_end + 5;
        let end_line = format!("-----END {label}-----");
        let body_end = rest
            .find(&end_line)
            .ok_or(KeyError::Pem(format!("no END {label} line")))?;
        let body: String = rest
            .get(body_start..body_end)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| KeyError::Base64)?;
        match label {
            "PUBLIC KEY" => Self::from_spki(&der),
            "PRIVATE KEY" => Self::from_pkcs8(&der),
            "EC PRIVATE KEY" => Self::from_sec1(&der, None),
            other => Err(KeyError::Pem(format!("unsupported block {other:?}"))),
        }
    }

    /// Read DER: SubjectPublicKeyInfo, else PKCS#8, else SEC1 `ECPrivateKey`.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_spki(der)
            .or_else(|e| Self::from_pkcs8(der).map_err(|_| e.clone()))
            .or_else(|e| Self::from_sec1(der, None).map_err(|_| e))
    }

    /// Read a DER SubjectPublicKeyInfo.
    pub fn from_spki(der: &[u8]) -> Result<Self, KeyError> {
        let (outer, _) = element(der, 0, 0x30, "SubjectPublicKeyInfo")?;
        let (alg, next) = element(der, outer.start, 0x30, "AlgorithmIdentifier")?;
        let (oid, after_oid) = element(der, alg.start, 0x06, "algorithm OID")?;
        let (bits, _) = element(der, next, 0x03, "subjectPublicKey BIT STRING")?;
        let key = der
            .get(bits.start + 1..bits.end)
            .filter(|_| der.get(bits.start) == Some(&0))
            .ok_or(KeyError::Der {
                what: "BIT STRING padding",
                offset: bits.start,
            })?;
        match &der[oid.clone()] {
            OID_ED25519 => Self::ed25519(key),
            OID_EC_PUBLIC_KEY => {
                let (curve, _) = element(der, after_oid, 0x06, "curve OID")?;
                if &der[curve.clone()] != OID_P256 {
                    return Err(KeyError::Unsupported(oid_text(&der[curve])));
                }
                p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map(Self::EcdsaP256)
                    .map_err(|_| KeyError::Invalid("P-256"))
            }
            other => Err(KeyError::Unsupported(oid_text(other))),
        }
    }

    /// Read a DER PKCS#8 private key and keep its public key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let (outer, _) = element(der, 0, 0x30, "PrivateKeyInfo")?;
        let (_, next) = element(der, outer.start, 0x02, "version")?;
        let (alg, next) = element(der, next, 0x30, "AlgorithmIdentifier")?;
        let (oid, after_oid) = element(der, alg.start, 0x06, "algorithm OID")?;
        let (private, _) = element(der, next, 0x04, "privateKey")?;
        match &der[oid.clone()] {
            OID_ED25519 => {
                let (seed, _) = element(der, private.start, 0x04, "ed25519 seed")?;
                let seed: [u8; 32] = der[seed]
                    .try_into()
                    .map_err(|_| KeyError::Invalid("ed25519"))?;
                let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
                Ok(Self::Ed25519(signing.verifying_key()))
            }
            OID_EC_PUBLIC_KEY => {
                let (curve, _) = element(der, after_oid, 0x06, "curve OID")?;
                if &der[curve.clone()] != OID_P256 {
                    return Err(KeyError::Unsupported(oid_text(&der[curve])));
                }
                Self::from_sec1(&der[..private.end], Some(private.start))
            }
            other => Err(KeyError::Unsupported(oid_text(other))),
        }
    }

    /// Read a SEC1 `ECPrivateKey` (P-256) starting at `at` (0 when `None`).
    fn from_sec1(der: &[u8], at: Option<usize>) -> Result<Self, KeyError> {
        let (outer, _) = element(der, at.unwrap_or(0), 0x30, "ECPrivateKey")?;
        let (_, next) = element(der, outer.start, 0x02, "version")?;
        let (scalar, _) = element(der, next, 0x04, "privateKey")?;
        let secret =
            p256::SecretKey::from_slice(&der[scalar]).map_err(|_| KeyError::Invalid("P-256"))?;
        Ok(Self::EcdsaP256(p256::ecdsa::VerifyingKey::from(
            secret.public_key(),
        )))
    }

    fn ed25519(key: &[u8]) -> Result<Self, KeyError> {
        let key: [u8; 32] = key.try_into().map_err(|_| KeyError::Invalid("ed25519"))?;
        ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map(Self::Ed25519)
            .map_err(|_| KeyError::Invalid("ed25519"))
    }

    /// "ed25519" or "ecdsa-p256".
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "ed25519",
            Self::EcdsaP256(_) => "ecdsa-p256",
        }
    }

    /// The DER SubjectPublicKeyInfo, as imgtool embeds it (PUBKEY TLV) and hashes it (KEYHASH).
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(k) => [SPKI_ED25519_PREFIX, k.as_bytes()].concat(),
            Self::EcdsaP256(k) => [SPKI_P256_PREFIX, k.to_encoded_point(false).as_bytes()].concat(),
        }
    }
}

/// The element with `tag` at `pos`: its content range and the offset after it.
fn element(
    der: &[u8],
    pos: usize,
    tag: u8,
    what: &'static str,
) -> Result<(std::ops::Range<usize>, usize), KeyError> {
    let bad = |offset| KeyError::Der { what, offset };
    if der.get(pos) != Some(&tag) {
        return Err(bad(pos));
    }
    let first = *der.get(pos + 1).ok_or(bad(pos + 1))?;
    let (len, header) = match first {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(*der.get(pos + 2).ok_or(bad(pos + 2))?), 3),
        0x82 => {
            let b = der.get(pos + 2..pos + 4).ok_or(bad(pos + 2))?;
            (usize::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        _ => return Err(bad(pos + 1)),
    };
    let start = pos + header;
    let end = start
        .checked_add(len)
        .filter(|e| *e <= der.len())
        .ok_or(bad(pos + 1))?;
    Ok((start..end, end))
}

fn oid_text(oid: &[u8]) -> String {
    super::util::hex(oid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_der_is_an_error() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x82, 0xFF],
            &[0x30, 0x05, 0x30, 0x03, 0x06, 0x09],
        ] {
            assert!(PublicKey::parse(bad).is_err());
        }
        assert!(
            PublicKey::parse(b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----").is_err()
        );
    }
}
