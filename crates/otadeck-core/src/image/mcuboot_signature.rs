//! An MCUboot image's signature: the key it names (KEYHASH or PUBKEY) against the technician's
//! key, then the ed25519 or ECDSA P-256 signature over the image digest (or, with SIG_PURE, over
//! the hashed region itself).

use p256::ecdsa::signature::hazmat::PrehashVerifier;

use super::*;

impl McuBootImage {
    /// Check the hash, the key the image names (KEYHASH or PUBKEY) and the signature against
    /// `key`. `data` must be the bytes this image was parsed from.
    pub fn verify(&self, data: &[u8], key: &PublicKey) -> Result<Verified, McuBootError> {
        self.check()?;
        let (sig_kind, algorithm) = match key {
            PublicKey::Ed25519(_) => (tlv::ED25519, "ed25519"),
            PublicKey::EcdsaP256(_) => (tlv::ECDSA_SIG, "ecdsa-p256"),
        };
        let signature_tlv = tlv_name(sig_kind);
        let spki = key.spki_der();
        let mut key_named_by = None;
        if let Some(t) = self.find(tlv::KEYHASH).next() {
            let ours = match t.value.len() {
                48 => Sha384::digest(&spki).to_vec(),
                64 => Sha512::digest(&spki).to_vec(),
                _ => Sha256::digest(&spki).to_vec(),
            };
            if ours != t.value {
                return Err(McuBootError::KeyHashMismatch { offset: t.offset });
            }
            key_named_by = Some("KEYHASH");
        } else if let Some(t) = self.find(tlv::PUBKEY).next() {
            if t.value != spki {
                return Err(McuBootError::PubKeyMismatch { offset: t.offset });
            }
            key_named_by = Some("PUBKEY");
        }
        if self.find(sig_kind).next().is_none() {
            return Err(McuBootError::NoSignature {
                algorithm,
                tlv: signature_tlv,
            });
        }
        let key_named_by = key_named_by.ok_or(McuBootError::KeyNotNamed)?;
        // Every signature TLV must verify: a garbage one beside a good one is a tampered image.
        for t in self.find(sig_kind) {
            if !self.signature_ok(data, key, &t.value) {
                return Err(McuBootError::SignatureInvalid {
                    tlv: signature_tlv,
                    offset: t.offset,
                });
            }
        }
        Ok(Verified {
            algorithm,
            signature_tlv,
            key_named_by,
        })
    }

    fn signature_ok(&self, data: &[u8], key: &PublicKey, sig: &[u8]) -> bool {
        let message = match (&self.hash, self.pure) {
            (_, true) => match data.get(..self.hashed_len) {
                Some(m) => m,
                None => return false,
            },
            (Some(h), false) => &h.computed[..],
            (None, false) => return false,
        };
        match key {
            PublicKey::Ed25519(k) => {
                let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
                    return false;
                };
                let sig = ed25519_dalek::Signature::from_bytes(&bytes);
                k.verify_strict(message, &sig).is_ok()
            }
            PublicKey::EcdsaP256(k) => {
                if self.pure {
                    return false;
                }
                // imgtool may pad a DER signature with zeros (--pad-sig): keep the DER length.
                let der_len = match sig {
                    [0x30, n, ..] if *n < 0x80 => usize::from(*n) + 2,
                    _ => sig.len(),
                };
                let Some(der) = sig.get(..der_len) else {
                    return false;
                };
                p256::ecdsa::Signature::from_der(der)
                    .is_ok_and(|s| k.verify_prehash(message, &s).is_ok())
            }
        }
    }
}
