//! Whether a source may be trusted: its ed25519 signature checked against the keys the
//! technician imported, and its expiry against the clock.
//!
//! A source is signed in one of two ways:
//! - a **detached signature** at `<url>.sig`: the 64 signature bytes, raw, or as base64 or hex
//!   text, over the exact bytes of the document as served;
//! - a top-level **`signature` field** (base64 of the 64 bytes) over the document's canonical
//!   form: the same JSON without that field, object keys sorted by their UTF-8 bytes, no white
//!   space, strings and numbers as `serde_json` writes them.
//!
//! A top-level `expires` field (RFC 3339, `2027-01-31T00:00:00Z`) ends the source's validity; the
//! caller gives the clock as Unix seconds.

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use crate::digest::{sha256, to_hex};
use crate::image::pubkey::{KeyError, PublicKey};
use crate::manifest::plan::time::Date;

/// A key the technician trusts to sign sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    key: ed25519_dalek::VerifyingKey,
}

impl TrustedKey {
    /// Read an ed25519 public key: PEM or DER SubjectPublicKeyInfo (what `openssl pkey -pubout`
    /// writes), or the 32 raw bytes as base64 or hex text.
    pub fn parse(input: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(input).map(str::trim).unwrap_or("");
        if let Some(raw) = decode_text(text, 32) {
            return Self::from_raw(&raw);
        }
        match PublicKey::parse(input) {
            Ok(PublicKey::Ed25519(key)) => Ok(TrustedKey { key }),
            Ok(other) => Err(format!(
                "this is an {} key: sources are signed with ed25519",
                other.algorithm()
            )),
            Err(e) => Err(key_error(e)),
        }
    }

    fn from_raw(raw: &[u8]) -> Result<Self, String> {
        let bytes: [u8; 32] = raw.try_into().map_err(|_| "not 32 bytes".to_string())?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(|key| TrustedKey { key })
            .map_err(|_| "these 32 bytes are not an ed25519 public key".into())
    }

    /// The key's fingerprint as shown to a technician: `SHA256:` and the first 16 bytes of the
    /// SHA-256 of the 32 key bytes, in hex groups of four.
    pub fn fingerprint(&self) -> String {
        let hex = to_hex(&sha256(self.key.as_bytes())[..16]);
        let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..i + 4]).collect();
        format!("SHA256:{}", groups.join(":"))
    }

    /// The 32 key bytes as base64 (how the browser keeps it).
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.as_bytes())
    }

    fn verifies(&self, message: &[u8], signature: &ed25519_dalek::Signature) -> bool {
        self.key.verify_strict(message, signature).is_ok()
    }
}

fn key_error(e: KeyError) -> String {
    format!("not a key otadeck reads ({e}): give an ed25519 public key as PEM, or its 32 bytes as base64 or hex")
}

/// `text` as base64 or hex of exactly `len` bytes.
fn decode_text(text: &str, len: usize) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() == len * 2 && compact.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..compact.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&compact[i..i + 2], 16).ok())
            .collect();
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(compact.as_bytes()).ok())
        .filter(|b| b.len() == len)
}

/// Where the detached signature of a document fetched from `url` would be: `<url>.sig`, for a
/// file (its last path segment has an extension). An API endpoint (a hawkBit resource) is not
/// asked: it would take `.sig` as part of a name.
pub fn signature_url(url: &str) -> Option<String> {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let last = base.rsplit('/').next().unwrap_or("");
    last.contains('.').then(|| format!("{base}.sig"))
}

/// What the signature check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SignatureState {
    /// Signed by one of the technician's keys.
    Verified {
        /// The fingerprint of the key that verified it.
        key: String,
        /// `detached` (`<url>.sig`) or `field` (the `signature` field).
        how: &'static str,
    },
    /// No signature came with the source.
    Unsigned,
    /// Signed, but the technician imported no key to check it with.
    NoKeys,
    /// Signed, and no imported key verifies it: changed after signing, or signed by a key not
    /// trusted here. Always refused.
    Invalid {
        /// In words.
        why: String,
    },
}

impl SignatureState {
    /// The state in a few words, for a badge.
    pub fn badge(&self) -> &'static str {
        match self {
            SignatureState::Verified { .. } => "signed",
            SignatureState::Unsigned => "unsigned",
            SignatureState::NoKeys => "signature not checked",
            SignatureState::Invalid { .. } => "bad signature",
        }
    }

    /// True when the source may run only after the technician's explicit choice.
    pub fn needs_consent(&self) -> bool {
        matches!(self, SignatureState::Unsigned | SignatureState::NoKeys)
    }

    /// A sentence for the summary and the record.
    pub fn describe(&self) -> String {
        match self {
            SignatureState::Verified { key, how } => {
                let how = if *how == "detached" {
                    "a detached signature"
                } else {
                    "its signature field"
                };
                format!("signed: {how} verified with the key {key}")
            }
            SignatureState::Unsigned => {
                "unsigned: nothing proves who published this source; run it only if you trust where it came from".into()
            }
            SignatureState::NoKeys => {
                "signed, but no key is imported to check it: import the publisher's key, or run it as unsigned".into()
            }
            SignatureState::Invalid { why } => format!("refused: {why}"),
        }
    }
}

/// Check `document` (the bytes as served) with its detached signature, if one was fetched,
/// else with its `signature` field, against `keys`.
pub fn check_signature(
    document: &[u8],
    detached: Option<&[u8]>,
    keys: &[TrustedKey],
) -> SignatureState {
    // A server that answers any path (a web page, a JSON error) sent no signature file.
    let detached = detached.filter(|d| {
        let first = d.iter().find(|b| !b.is_ascii_whitespace());
        d.len() == 64 || !matches!(first, Some(b'<' | b'{' | b'['))
    });
    let (signature, message, how) = match detached {
        Some(sig) => match parse_signature(sig) {
            Ok(s) => (s, document.to_vec(), "detached"),
            Err(why) => return SignatureState::Invalid { why },
        },
        None => match signature_field(document) {
            None => return SignatureState::Unsigned,
            Some(Err(why)) => return SignatureState::Invalid { why },
            Some(Ok((sig, canonical))) => (sig, canonical, "field"),
        },
    };
    if keys.is_empty() {
        return SignatureState::NoKeys;
    }
    match keys.iter().find(|k| k.verifies(&message, &signature)) {
        Some(k) => SignatureState::Verified {
            key: k.fingerprint(),
            how,
        },
        None => SignatureState::Invalid {
            why: format!(
                "the signature verifies with none of the {} imported key{}: the source was changed after it was signed, or signed by a key you do not trust",
                keys.len(),
                if keys.len() == 1 { "" } else { "s" }
            ),
        },
    }
}

fn parse_signature(bytes: &[u8]) -> Result<ed25519_dalek::Signature, String> {
    let raw = if bytes.len() == 64 {
        bytes.to_vec()
    } else {
        let text = std::str::from_utf8(bytes).unwrap_or("").trim();
        decode_text(text, 64).ok_or_else(|| {
            format!(
                "the signature file holds {} bytes that are not an ed25519 signature (64 bytes, raw, base64 or hex)",
                bytes.len()
            )
        })?
    };
    let arr: [u8; 64] = raw.try_into().expect("64 bytes");
    Ok(ed25519_dalek::Signature::from_bytes(&arr))
}

/// The `signature` field and the canonical bytes it signs, when the document has one.
fn signature_field(document: &[u8]) -> Option<Result<(ed25519_dalek::Signature, Vec<u8>), String>> {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(document) else {
        return None;
    };
    let field = map.remove("signature")?;
    let Some(text) = field.as_str() else {
        return Some(Err("the signature field is not a string".into()));
    };
    let signature = match parse_signature(text.as_bytes()) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let mut canonical = String::new();
    write_canonical(&Value::Object(map), &mut canonical);
    Some(Ok((signature, canonical.into_bytes())))
}

/// The canonical form a `signature` field signs (see the module's doc).
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            crate::order::sort(&mut keys);
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The document's `expires` field, as Unix seconds, when it has one.
pub fn expires(document: &[u8]) -> Option<Result<(String, i64), String>> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(document) else {
        return None;
    };
    let field = map.get("expires")?;
    let Some(text) = field.as_str() else {
        return Some(Err("expires: expected an RFC 3339 time as a string".into()));
    };
    Some(parse_rfc3339(text).map(|t| (text.to_string(), t)))
}

/// Whether the document has expired at `now_unix`: the reason in words when it has (or when its
/// `expires` cannot be read).
pub fn check_expiry(document: &[u8], now_unix: i64) -> Result<(), String> {
    match expires(document) {
        None => Ok(()),
        Some(Err(e)) => Err(e),
        Some(Ok((text, t))) if now_unix >= t => Err(format!(
            "this source expired at {text}: ask its publisher for a current one (an expired source may describe firmware that was withdrawn)"
        )),
        Some(Ok(_)) => Ok(()),
    }
}

/// `YYYY-MM-DDTHH:MM[:SS[.frac]](Z|±HH:MM)` as Unix seconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("expected an RFC 3339 time such as 2027-01-31T00:00:00Z, found {s:?}");
    let date = Date::parse(s.get(..10).ok_or_else(bad)?).map_err(|_| bad())?;
    let rest = s.get(10..).ok_or_else(bad)?;
    let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
    let num = |t: &str| -> Option<i64> {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (h, m) = (
        num(rest.get(..2).ok_or_else(bad)?).ok_or_else(bad)?,
        num(rest.get(3..5).ok_or_else(bad)?).ok_or_else(bad)?,
    );
    if rest.as_bytes().get(2) != Some(&b':') || h > 23 || m > 59 {
        return Err(bad());
    }
    let mut tail = &rest[5..];
    let mut sec = 0;
    if let Some(t) = tail.strip_prefix(':') {
        sec = num(t.get(..2).ok_or_else(bad)?)
            .filter(|s| *s <= 60)
            .ok_or_else(bad)?;
        tail = &t[2..];
        if let Some(frac) = tail.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            tail = &frac[digits..];
        }
    }
    let offset = match tail {
        "Z" | "z" => 0,
        t if t.len() == 6 && matches!(&t[..1], "+" | "-") && &t[3..4] == ":" => {
            let (oh, om) = (
                num(&t[1..3]).ok_or_else(bad)?,
                num(&t[4..6]).ok_or_else(bad)?,
            );
            let minutes = oh * 60 + om;
            if &t[..1] == "-" {
                -minutes * 60
            } else {
                minutes * 60
            }
        }
        _ => return Err(bad()),
    };
    Ok(date.days() * 86_400 + h * 3600 + m * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signer(seed: u8) -> (SigningKey, TrustedKey) {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let pk = TrustedKey::parse(
            base64::engine::general_purpose::STANDARD
                .encode(sk.verifying_key().as_bytes())
                .as_bytes(),
        )
        .unwrap();
        (sk, pk)
    }

    #[test]
    fn a_detached_signature_verifies_the_exact_bytes() {
        let (sk, pk) = signer(1);
        let doc = br#"{"name":"x","builds":[]}"#;
        let sig = sk.sign(doc).to_bytes();
        let state = check_signature(doc, Some(&sig), std::slice::from_ref(&pk));
        assert!(
            matches!(
                state,
                SignatureState::Verified {
                    how: "detached",
                    ..
                }
            ),
            "{state:?}"
        );
        let hex = to_hex(&sig);
        let state = check_signature(doc, Some(hex.as_bytes()), std::slice::from_ref(&pk));
        assert!(matches!(state, SignatureState::Verified { .. }));
        // One byte changed after signing.
        let changed = br#"{"name":"y","builds":[]}"#;
        let state = check_signature(changed, Some(&sig), &[pk]);
        assert!(matches!(state, SignatureState::Invalid { .. }), "{state:?}");
    }

    #[test]
    fn a_signature_field_signs_the_canonical_form() {
        let (sk, pk) = signer(2);
        let body: Value =
            serde_json::from_str(r#"{"version":"1.2.0","a":[1,{"z":2,"b":"é"}]}"#).unwrap();
        assert_eq!(
            canonical(&body),
            r#"{"a":[1,{"b":"é","z":2}],"version":"1.2.0"}"#
        );
        let sig = base64::engine::general_purpose::STANDARD
            .encode(sk.sign(canonical(&body).as_bytes()).to_bytes());
        // Reformatted and reordered: still the same canonical form.
        let doc = format!("{{\n  \"signature\": \"{sig}\",\n  \"a\": [1, {{\"z\": 2, \"b\": \"é\"}}],\n  \"version\": \"1.2.0\"\n}}");
        let state = check_signature(doc.as_bytes(), None, std::slice::from_ref(&pk));
        assert!(
            matches!(state, SignatureState::Verified { how: "field", .. }),
            "{state:?}"
        );
        let tampered = doc.replace("1.2.0", "1.3.0");
        assert!(matches!(
            check_signature(tampered.as_bytes(), None, &[pk]),
            SignatureState::Invalid { .. }
        ));
    }

    #[test]
    fn unsigned_unknown_and_wrong_keys_are_told_apart() {
        let (sk, _) = signer(3);
        let (_, other) = signer(4);
        let doc = b"{}";
        assert_eq!(check_signature(doc, None, &[]), SignatureState::Unsigned);
        let sig = sk.sign(doc).to_bytes();
        assert_eq!(
            check_signature(doc, Some(&sig), &[]),
            SignatureState::NoKeys
        );
        assert!(SignatureState::NoKeys.needs_consent());
        let state = check_signature(doc, Some(&sig), &[other]);
        assert!(matches!(state, SignatureState::Invalid { .. }));
        assert!(!state.needs_consent());
        let state = check_signature(doc, Some(b"not a signature"), &[]);
        assert!(matches!(state, SignatureState::Invalid { .. }), "{state:?}");
        // A page or JSON error where the signature file should be: no signature was sent.
        let html = b"<!DOCTYPE html><html>not found</html>";
        assert_eq!(
            check_signature(doc, Some(html), &[]),
            SignatureState::Unsigned
        );
        assert_eq!(
            signature_url("https://x.example/fw/m.json?token=1").as_deref(),
            Some("https://x.example/fw/m.json.sig")
        );
        assert_eq!(signature_url("http://h/DEFAULT/controller/v1/dev-1"), None);
    }

    #[test]
    fn keys_read_from_pem_hex_and_base64_share_a_fingerprint() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let raw = sk.verifying_key().to_bytes();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(
                [
                    &[0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00][..],
                    &raw
                ]
                .concat()
            )
        );
        let a = TrustedKey::parse(pem.as_bytes()).unwrap();
        let b = TrustedKey::parse(to_hex(&raw).as_bytes()).unwrap();
        assert_eq!(a, b);
        assert!(a.fingerprint().starts_with("SHA256:"));
        assert_eq!(a.fingerprint().len(), "SHA256:".len() + 32 + 7);
        assert!(TrustedKey::parse(b"hello").is_err());
    }

    #[test]
    fn expiry_is_read_in_rfc_3339_and_refused_once_past() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339("2027-01-31T01:00:00+01:00"),
            parse_rfc3339("2027-01-31T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("2026-12-03T10:20:30.123Z"), Ok(1_796_293_230));
        assert!(parse_rfc3339("2026-13-03T10:20:30Z").is_err());
        assert!(parse_rfc3339("2026-12-03").is_err());
        let doc = br#"{"expires":"2026-12-03T00:00:00Z"}"#;
        let t = parse_rfc3339("2026-12-03T00:00:00Z").unwrap();
        assert!(check_expiry(doc, t - 1).is_ok());
        let e = check_expiry(doc, t).unwrap_err();
        assert!(e.contains("expired at 2026-12-03T00:00:00Z"), "{e}");
        assert!(check_expiry(br#"{"expires":12}"#, 0).is_err());
        assert!(check_expiry(b"{}", i64::MAX).is_ok());
    }
}
