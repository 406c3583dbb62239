//! MCUboot images made by `imgtool sign` (fixtures/images/regenerate.sh): fields against
//! `imgtool dumpinfo -f json`, signatures against the keys, tampered copies against the errors.

use otadeck_core::image::mcuboot::{self, tlv, McuBootError};
use otadeck_core::image::PublicKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(name: &str) -> PublicKey {
    PublicKey::parse(&fixture(name)).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const SIGNED: [(&str, &str); 5] = [
    ("mcuboot_ed25519.bin", "ed25519.pub.pem"),
    ("mcuboot_ed25519_pubkey.bin", "ed25519.pub.pem"),
    ("mcuboot_ed25519_sha512.bin", "ed25519.pub.pem"),
    ("mcuboot_ed25519_pure.bin", "ed25519.pub.pem"),
    ("mcuboot_ecdsa_p256.bin", "ecdsa-p256.pub.pem"),
];

#[test]
fn fields_match_imgtool_dumpinfo() {
    for name in [
        "mcuboot_ed25519.bin",
        "mcuboot_ed25519_pubkey.bin",
        "mcuboot_ed25519_sha512.bin",
        "mcuboot_ed25519_pure.bin",
        "mcuboot_ecdsa_p256.bin",
        "mcuboot_unsigned.bin",
    ] {
        let data = fixture(name);
        let img = mcuboot::parse(&data).unwrap();
        let dump: Value =
            serde_json::from_slice(&fixture(&name.replace(".bin", ".dumpinfo.json"))).unwrap();
        let h = &dump["header"];
        assert_eq!(h["load_addr"], img.header.load_addr, "{name}");
        assert_eq!(h["hdr_size"], img.header.hdr_size, "{name}");
        assert_eq!(
            h["protected_tlv_size"], img.header.protect_tlv_size,
            "{name}"
        );
        assert_eq!(h["img_size"], img.header.img_size, "{name}");
        assert_eq!(h["flags"], img.header.flags, "{name}");
        assert_eq!(h["version"], img.header.version.to_string(), "{name}");
        // What imgtool was told.
        assert_eq!(img.header.version.to_string(), "1.2.3+4");
        assert_eq!((img.header.hdr_size, img.header.img_size), (0x200, 3000));
        let area = &dump["tlv_area"];
        assert_eq!(area["tlv_hdr"]["tlv_tot"], img.tlv_area.total, "{name}");
        match &img.protected_area {
            Some(p) => assert_eq!(area["tlv_hdr_prot"]["tlv_tot"], p.total),
            None => assert_eq!(area["tlv_hdr_prot"], serde_json::json!({})),
        }
        let theirs: Vec<&Value> = area["tlvs_prot"]
            .as_array()
            .unwrap()
            .iter()
            .chain(area["tlvs"].as_array().unwrap())
            .collect();
        assert_eq!(theirs.len(), img.tlvs.len(), "{name}");
        for (t, ours) in theirs.iter().zip(&img.tlvs) {
            assert_eq!(t["type"], ours.kind, "{name}");
            assert_eq!(t["len"], ours.value.len(), "{name}");
            assert_eq!(t["data"], hex(&ours.value), "{name}");
            // imgtool names 0x22 "ECDSASIG"; we use MCUboot's IMAGE_TLV_ECDSA_SIG.
            let their_name = t["type_name"]
                .as_str()
                .unwrap()
                .replace("ECDSASIG", "ECDSA_SIG");
            assert_eq!(their_name, ours.name, "{name}");
        }
        img.check().unwrap();
        assert_eq!(img.image_len, data.len());
    }
}

#[test]
fn flags_protected_tlvs_and_names() {
    let img = mcuboot::parse(&fixture("mcuboot_ecdsa_p256.bin")).unwrap();
    assert_eq!(img.header.load_addr, 0x2000_8000);
    assert_eq!(img.flag_names, ["RAM_LOAD"]);
    let prot: Vec<_> = img
        .tlvs
        .iter()
        .filter(|t| t.protected)
        .map(|t| t.name)
        .collect();
    assert_eq!(prot, ["SEC_CNT", "DEPENDENCY"]);
    let sec = img.find(0x50).next().unwrap();
    assert_eq!(sec.value, 7u32.to_le_bytes());
    assert_eq!(mcuboot::tlv_name(0x24), "ED25519");
    assert_eq!(mcuboot::tlv_name(0x25), "SIG_PURE");
    assert_eq!(mcuboot::tlv_name(0x60), "BOOT_RECORD");
    assert_eq!(
        mcuboot::flag_names(0x211),
        ["PIC", "NON_BOOTABLE", "COMPRESSED_LZMA1"]
    );
    let pure = mcuboot::parse(&fixture("mcuboot_ed25519_pure.bin")).unwrap();
    assert!(pure.pure);
    assert_eq!(pure.hash.as_ref().unwrap().tlv, "SHA512");
}

#[test]
fn right_key_verifies_and_agrees_with_imgtool_verify() {
    for (name, keyfile) in SIGNED {
        let data = fixture(name);
        let img = mcuboot::parse(&data).unwrap();
        let v = img
            .verify(&data, &key(keyfile))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let recorded = String::from_utf8(fixture(&name.replace(".bin", ".verify.txt"))).unwrap();
        assert!(
            recorded.starts_with("Image was correctly validated"),
            "{name}: {recorded}"
        );
        assert!(recorded.contains("Image version: 1.2.3+4"));
        if let Some(h) = &img.hash {
            if !img.pure {
                assert!(recorded.contains(&format!("Image digest: {}", hex(&h.stored))));
            }
        }
        let expected_by = if name.contains("pubkey") {
            "PUBKEY"
        } else {
            "KEYHASH"
        };
        assert_eq!(v.key_named_by, expected_by, "{name}");
    }
}

#[test]
fn keyhash_is_sha256_of_the_der_spki_imgtool_embeds() {
    for (name, keyfile) in [
        ("mcuboot_ed25519.bin", "ed25519.pub.pem"),
        ("mcuboot_ecdsa_p256.bin", "ecdsa-p256.pub.pem"),
    ] {
        let img = mcuboot::parse(&fixture(name)).unwrap();
        let k = key(keyfile);
        let keyhash = img.find(tlv::KEYHASH).next().unwrap();
        assert_eq!(
            keyhash.value,
            Sha256::digest(k.spki_der()).to_vec(),
            "{name}"
        );
    }
    // The full-key image embeds exactly that DER.
    let img = mcuboot::parse(&fixture("mcuboot_ed25519_pubkey.bin")).unwrap();
    let pubkey = img.find(tlv::PUBKEY).next().unwrap();
    assert_eq!(pubkey.value, key("ed25519.pub.pem").spki_der());
    assert_eq!(pubkey.value.len(), 44);
    assert_eq!(key("ecdsa-p256.pub.pem").spki_der().len(), 91);
}

#[test]
fn der_and_pem_keys_are_the_same_key() {
    use base64::Engine;
    for keyfile in ["ed25519.pub.pem", "ecdsa-p256.pub.pem"] {
        let pem = String::from_utf8(fixture(keyfile)).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(PublicKey::parse(&der).unwrap(), key(keyfile));
        assert_eq!(
            key(keyfile).spki_der(),
            der,
            "{keyfile} re-encodes to the same DER"
        );
    }
    assert_eq!(key("ed25519.pub.pem").algorithm(), "ed25519");
    assert_eq!(key("ecdsa-p256.pub.pem").algorithm(), "ecdsa-p256");
}

#[test]
fn wrong_key_is_refused() {
    let data = fixture("mcuboot_ed25519.bin");
    let img = mcuboot::parse(&data).unwrap();
    let recorded = String::from_utf8(fixture("mcuboot_ed25519.wrong-key.verify.txt")).unwrap();
    assert!(!recorded.starts_with("Image was correctly validated"));
    assert!(matches!(
        img.verify(&data, &key("other-ed25519.pub.pem")),
        Err(McuBootError::KeyHashMismatch { .. })
    ));
    // A key of the other algorithm: the KEYHASH differs too.
    assert!(matches!(
        img.verify(&data, &key("ecdsa-p256.pub.pem")),
        Err(McuBootError::KeyHashMismatch { .. })
    ));
    let data = fixture("mcuboot_ecdsa_p256.bin");
    let img = mcuboot::parse(&data).unwrap();
    assert!(matches!(
        img.verify(&data, &key("other-ecdsa-p256.pub.pem")),
        Err(McuBootError::KeyHashMismatch { .. })
    ));
    let data = fixture("mcuboot_ed25519_pubkey.bin");
    let img = mcuboot::parse(&data).unwrap();
    assert!(matches!(
        img.verify(&data, &key("other-ed25519.pub.pem")),
        Err(McuBootError::PubKeyMismatch { .. })
    ));
}

/// An attacker who swaps the (unprotected) KEYHASH for their key's still needs a signature.
#[test]
fn swapped_keyhash_still_fails_on_the_signature() {
    for (name, other) in [
        ("mcuboot_ed25519.bin", "other-ed25519.pub.pem"),
        ("mcuboot_ecdsa_p256.bin", "other-ecdsa-p256.pub.pem"),
    ] {
        let mut data = fixture(name);
        let img = mcuboot::parse(&data).unwrap();
        let kh = img.find(tlv::KEYHASH).next().unwrap();
        let other = key(other);
        data[kh.offset + 4..kh.offset + 36].copy_from_slice(&Sha256::digest(other.spki_der()));
        let img = mcuboot::parse(&data).unwrap();
        assert!(
            matches!(
                img.verify(&data, &other),
                Err(McuBootError::SignatureInvalid { .. })
            ),
            "{name}"
        );
    }
}

type Expect = fn(&McuBootError) -> bool;

#[test]
fn tampered_copies_fail_with_the_specific_error() {
    let cases: [(&str, &str, Expect); 4] = [
        ("mcuboot_ed25519_body_flipped.bin", "ed25519.pub.pem", |e| {
            matches!(e, McuBootError::HashMismatch { tlv: "SHA256", .. })
        }),
        (
            "mcuboot_ecdsa_p256_prot_flipped.bin",
            "ecdsa-p256.pub.pem",
            |e| matches!(e, McuBootError::HashMismatch { .. }),
        ),
        ("mcuboot_ed25519_sig_flipped.bin", "ed25519.pub.pem", |e| {
            matches!(e, McuBootError::SignatureInvalid { tlv: "ED25519", .. })
        }),
        (
            "mcuboot_ecdsa_p256_sig_flipped.bin",
            "ecdsa-p256.pub.pem",
            |e| {
                matches!(
                    e,
                    McuBootError::SignatureInvalid {
                        tlv: "ECDSA_SIG",
                        ..
                    }
                )
            },
        ),
    ];
    for (name, keyfile, expected) in cases {
        let data = fixture(name);
        let img = mcuboot::parse(&data).unwrap();
        let err = img.verify(&data, &key(keyfile)).unwrap_err();
        assert!(expected(&err), "{name}: {err:?}");
        let recorded = String::from_utf8(fixture(&name.replace(".bin", ".verify.txt"))).unwrap();
        assert!(
            !recorded.starts_with("Image was correctly validated"),
            "{name}"
        );
        if name.contains("flipped") && err.to_string().contains("does not match") {
            assert!(
                recorded.contains("invalid hash"),
                "imgtool agrees: {recorded}"
            );
            assert!(img.check().is_err());
            assert!(!img.hash.as_ref().unwrap().ok());
        }
    }
}

#[test]
fn unsigned_image_has_a_hash_but_no_signature() {
    let data = fixture("mcuboot_unsigned.bin");
    let img = mcuboot::parse(&data).unwrap();
    img.check().unwrap();
    assert_eq!(
        img.verify(&data, &key("ed25519.pub.pem")),
        Err(McuBootError::NoSignature {
            algorithm: "ed25519",
            tlv: "ED25519"
        })
    );
    let rows = img.summary();
    assert!(rows
        .iter()
        .any(|(l, v)| l == "Signature" && v == "unsigned"));
}

#[test]
fn hostile_headers_are_typed_errors() {
    let good = fixture("mcuboot_ed25519.bin");
    let mut d = good.clone();
    d[8..10].copy_from_slice(&16u16.to_le_bytes());
    assert_eq!(
        mcuboot::parse(&d).unwrap_err(),
        McuBootError::HeaderSize { hdr_size: 16 }
    );
    let mut d = good.clone();
    d[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        matches!(mcuboot::parse(&d), Err(McuBootError::Truncated(t)) if t.field == "image body")
    );
    let mut d = good.clone();
    d[10..12].copy_from_slice(&8u16.to_le_bytes());
    assert!(matches!(
        mcuboot::parse(&d),
        Err(McuBootError::ProtectedSize { header: 8, .. })
    ));
    let mut d = good.clone();
    d[0x200 + 3000] = 0;
    assert!(matches!(
        mcuboot::parse(&d),
        Err(McuBootError::BadTlvMagic { offset: 3512, .. })
    ));
    // A TLV whose length runs past its area.
    let img = mcuboot::parse(&good).unwrap();
    let mut d = good.clone();
    let t = img.tlvs.last().unwrap().offset;
    d[t + 2..t + 4].copy_from_slice(&0x4000u16.to_le_bytes());
    assert!(matches!(
        mcuboot::parse(&d),
        Err(McuBootError::TlvOverrun { .. })
    ));
    // Every truncation is an error.
    for len in 0..good.len() {
        assert!(
            mcuboot::parse(&good[..len]).is_err(),
            "accepted {len} bytes"
        );
    }
}

/// `data` with its unprotected TLV area rebuilt by `edit` (a list of `(kind, value)`).
fn with_tlvs(data: &[u8], edit: impl FnOnce(&mut Vec<(u16, Vec<u8>)>)) -> Vec<u8> {
    let img = mcuboot::parse(data).unwrap();
    let (at, total) = (img.tlv_area.offset, usize::from(img.tlv_area.total));
    let mut tlvs = Vec::new();
    let mut i = at + 4;
    while i < at + total {
        let kind = u16::from_le_bytes([data[i], data[i + 1]]);
        let len = usize::from(u16::from_le_bytes([data[i + 2], data[i + 3]]));
        tlvs.push((kind, data[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    edit(&mut tlvs);
    let mut area = Vec::new();
    for (kind, value) in &tlvs {
        area.extend_from_slice(&kind.to_le_bytes());
        area.extend_from_slice(&(value.len() as u16).to_le_bytes());
        area.extend_from_slice(value);
    }
    let mut out = data[..at].to_vec();
    out.extend_from_slice(&0x6907u16.to_le_bytes());
    out.extend_from_slice(&((area.len() + 4) as u16).to_le_bytes());
    out.extend_from_slice(&area);
    out.extend_from_slice(&data[at + total..]);
    out
}

#[test]
fn a_second_hash_a_garbage_signature_or_an_unnamed_key_are_refused() {
    let good = fixture("mcuboot_ed25519.bin");
    let k = key("ed25519.pub.pem");
    // A second, all-zero SHA256 TLV: MCUboot checks every hash TLV.
    let extra_hash = with_tlvs(&good, |t| t.push((tlv::SHA256, vec![0; 32])));
    let img = mcuboot::parse(&extra_hash).unwrap();
    assert!(
        matches!(
            img.check(),
            Err(McuBootError::ExtraHash { tlv: "SHA256", .. })
        ),
        "{:?}",
        img.check()
    );
    // A garbage signature before the good one.
    let garbage_sig = with_tlvs(&good, |t| t.insert(0, (tlv::ED25519, vec![0x42; 64])));
    let img = mcuboot::parse(&garbage_sig).unwrap();
    img.check().unwrap();
    assert!(matches!(
        img.verify(&garbage_sig, &k),
        Err(McuBootError::SignatureInvalid { tlv: "ED25519", .. })
    ));
    // No KEYHASH: the hash and signature still hold, but MCUboot would find no key.
    let unnamed = with_tlvs(&good, |t| t.retain(|(kind, _)| *kind != tlv::KEYHASH));
    let img = mcuboot::parse(&unnamed).unwrap();
    img.check().unwrap();
    assert_eq!(img.verify(&unnamed, &k), Err(McuBootError::KeyNotNamed));
    // The rebuilt original still verifies: the edits, not the rebuilding, are refused.
    let same = with_tlvs(&good, |_| {});
    assert_eq!(same, good);
    mcuboot::parse(&same).unwrap().verify(&same, &k).unwrap();
}
