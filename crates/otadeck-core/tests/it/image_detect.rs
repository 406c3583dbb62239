//! Detection by content, and a truncation / bit-flip / garbage sweep over every fixture: no
//! panic, and a typed error (or a parsed image) every time.

use otadeck_core::image::{
    self, dfuse, esp, esp_partition, mcuboot, otadata, Format, Image, PublicKey,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FIXTURES: [(&str, Format); 20] = [
    ("esp32c3_app.bin", Format::EspApp),
    ("esp32_app.bin", Format::EspApp),
    ("esp32s3_app.bin", Format::EspApp),
    ("partitions.bin", Format::EspPartitionTable),
    ("partitions_no_md5.bin", Format::EspPartitionTable),
    ("otadata_blank.bin", Format::EspOtadata),
    ("otadata_ota1_new.bin", Format::EspOtadata),
    ("otadata_rolled_back.bin", Format::EspOtadata),
    ("mcuboot_ed25519.bin", Format::McuBoot),
    ("mcuboot_ed25519_pubkey.bin", Format::McuBoot),
    ("mcuboot_ed25519_sha512.bin", Format::McuBoot),
    ("mcuboot_ed25519_pure.bin", Format::McuBoot),
    ("mcuboot_ecdsa_p256.bin", Format::McuBoot),
    ("mcuboot_unsigned.bin", Format::McuBoot),
    ("mcuboot_ed25519_body_flipped.bin", Format::McuBoot),
    ("mcuboot_ed25519_sig_flipped.bin", Format::McuBoot),
    ("mcuboot_ecdsa_p256_sig_flipped.bin", Format::McuBoot),
    ("mcuboot_ecdsa_p256_prot_flipped.bin", Format::McuBoot),
    ("dfuse_two_targets.dfu", Format::DfuSe),
    ("plain.dfu", Format::Dfu),
];

#[test]
fn every_fixture_is_recognised_by_content() {
    for (name, format) in FIXTURES {
        let data = fixture(name);
        let img = image::detect(&data);
        assert_eq!(img.format(), format, "{name}");
        assert!(!matches!(img, Image::Invalid { .. }), "{name}: {img}");
        // A flipped signature is only seen with a key (see image_mcuboot.rs).
        let intact = !name.contains("body_flipped") && !name.contains("prot_flipped");
        assert_eq!(img.check().is_ok(), intact, "{name}: {:?}", img.check());
        assert!(img.to_string().lines().count() >= 3);
        let json = serde_json::to_value(&img).unwrap();
        assert!(json["format"].is_string(), "{name}");
    }
    // Not by file name: an ELF, a CSV and a PEM are raw data.
    for name in ["esp32c3_app.elf", "partitions.csv", "ed25519.pub.pem"] {
        assert_eq!(
            image::detect(&fixture(name)).format(),
            Format::Raw,
            "{name}"
        );
    }
    let raw = image::detect(b"hello");
    assert_eq!(raw.format(), Format::Raw);
    assert!(raw
        .to_string()
        .contains("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
}

#[test]
fn broken_structure_is_reported_as_invalid_with_the_format() {
    let mut d = fixture("mcuboot_ed25519.bin");
    d.truncate(1000);
    match image::detect(&d) {
        Image::Invalid {
            recognised_as,
            message,
            ..
        } => {
            assert_eq!(recognised_as, Format::McuBoot);
            assert!(
                message.contains("image body") && message.contains("512"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_value(image::detect(&d)).unwrap();
    assert_eq!(json["format"], "invalid");
    assert_eq!(json["recognised_as"], "mcu_boot");
    assert_eq!(
        json["error"]["mcu_boot"]["truncated"]["field"],
        "image body"
    );
}

/// Every offset near the ends of `len` bytes, and about 150 spread between.
fn positions(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 150).max(1);
    (0..len).filter(move |&i| i < 40 || i + 40 >= len || i % step == 0)
}

fn exercise(data: &[u8]) -> Image {
    let img = image::detect(data);
    let _ = img.check();
    let _ = img.summary();
    let _ = img.to_string();
    serde_json::to_string(&img).expect("serializable");
    let _ = esp::parse(data);
    let _ = esp_partition::parse(data);
    let _ = otadata::parse(data).map(|o| o.boot_target(3));
    let _ = otadata::set_boot(data, 1, 2, true);
    let _ = dfuse::parse_dfuse(data);
    let _ = dfuse::parse_dfu(data);
    let _ = PublicKey::parse(data);
    if let Ok(m) = mcuboot::parse(data) {
        for k in ["ed25519.pub.pem", "ecdsa-p256.pub.pem"] {
            let _ = m.verify(data, &PublicKey::parse(&fixture(k)).unwrap());
        }
    }
    img
}

#[test]
fn truncation_sweep_never_panics() {
    for (name, format) in FIXTURES {
        let data = fixture(name);
        let full = image::detect(&data);
        for len in positions(data.len()) {
            let img = exercise(&data[..len]);
            // A truncated structured file is never taken for an intact one.
            let table_complete = match &full {
                Image::EspPartitionTable(t) => len >= t.end_offset + 32,
                _ => false,
            };
            if !matches!(format, Format::EspOtadata | Format::Dfu) && !table_complete {
                assert!(
                    img.check().is_err() || img.format() == Format::Raw,
                    "{name} at {len}"
                );
            }
        }
    }
    for name in ["ed25519.pub.pem", "ecdsa-p256.pub.pem"] {
        let data = fixture(name);
        for len in 0..data.len() - 1 {
            let _ = PublicKey::parse(&data[..len]);
        }
    }
}

#[test]
fn bit_flip_sweep_never_panics() {
    for (name, _) in FIXTURES {
        let data = fixture(name);
        for at in positions(data.len()) {
            let mut d = data.clone();
            d[at] ^= 1 << (at % 8);
            exercise(&d);
        }
    }
}

#[test]
fn garbage_behind_every_magic_never_panics() {
    let magics: [&[u8]; 6] = [
        &0x96f3_b83du32.to_le_bytes(),
        &[0xE9, 0x03, 0x02, 0x20],
        &[0xAA, 0x50],
        b"DfuSe",
        &[],
        &[0xEB, 0xEB],
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let magic = magics[round % magics.len()];
        let len = (next() % 700) as usize;
        let mut d = magic.to_vec();
        d.extend((0..len).map(|_| next() as u8));
        if round % 3 == 0 && d.len() >= 16 {
            // Plausible DFU suffix on the garbage.
            let n = d.len();
            d[n - 8..n - 5].copy_from_slice(b"UFD");
            d[n - 5] = 16;
        }
        exercise(&d);
    }
}
