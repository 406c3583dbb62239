//! The admission check before any driver starts: damaged, foreign, text and misplaced images are
//! refused with words a technician can act on, through `family::open` as every caller uses it.

use std::time::Duration;

use otadeck_core::admission::{admit, Policy, Refusal, MAX_IMAGE_BYTES};
use otadeck_core::family::{open, Family, FlashOptions, Job, OpenError, OpenOptions};
use otadeck_core::image::esp_partition::build_table;
use otadeck_core::image::PublicKey;
use otadeck_core::session::SessionEvent;
use otadeck_sim::firmware::{sample_image, with_region};
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn esp_rom_at(image: &[u8], offset: u32, policy: &Policy) -> Result<(), Refusal> {
    admit(Family::EspRom, image, Some(offset), policy).map(|_| ())
}

fn refusal(family: Family, image: &[u8]) -> String {
    admit(family, image, None, &Policy::default())
        .expect_err("refused")
        .to_string()
}

/// The sample app with its body changed and its checksum, hash or length left as they were.
fn damaged_apps() -> [(&'static str, Vec<u8>, &'static str); 3] {
    let good = sample_image();
    let mut sha = good.clone();
    let last = sha.len() - 1;
    sha[last] ^= 0x01;
    let mut body = good.clone();
    body[good.len() / 2] ^= 0x40;
    [
        ("appended SHA-256 flipped", sha, "SHA-256"),
        ("body byte flipped", body, "damaged"),
        ("cut to 100 bytes", good[..100].to_vec(), "damaged"),
    ]
}

#[test]
fn the_rom_loader_writes_a_good_app_at_an_app_partition() {
    let app = sample_image();
    for offset in [0x10000, 0x110000, 0x210000] {
        esp_rom_at(&app, offset, &Policy::default()).unwrap();
    }
    let table = build_table(&[(0, 0x10, 0x10000, 0x100000, "ota_0")]);
    esp_rom_at(&table, 0x8000, &Policy::default()).unwrap();
}

#[test]
fn damaged_images_are_refused_for_every_family() {
    for (what, image, says) in damaged_apps() {
        for family in [Family::EspRom, Family::Esp32MicroPython, Family::NodeMcu] {
            let text = refusal(family, &image);
            assert!(text.contains(says), "{what} to {family:?}: {text}");
            assert!(text.contains("download it again"), "{what}: {text}");
        }
    }
}

#[test]
fn apps_at_the_wrong_place_are_refused_with_where_they_go() {
    let app = sample_image();
    let cases = [
        (0x0, "app partitions start on a 64 KiB boundary"),
        (0x1234, "is not on a 4 KiB sector boundary"),
        (0x8000, "app partitions start on a 64 KiB boundary"),
        (0x11000, "app partitions start on a 64 KiB boundary"),
    ];
    for (offset, says) in cases {
        let text = esp_rom_at(&app, offset, &Policy::default())
            .unwrap_err()
            .to_string();
        assert!(text.contains(says), "{offset:#x}: {text}");
    }
    let table = build_table(&[(0, 0x10, 0x10000, 0x100000, "ota_0")]);
    let text = esp_rom_at(&table, 0x10000, &Policy::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("ESP-IDF reads it at 0x8000"), "{text}");
}

#[test]
fn a_bootloader_goes_only_where_the_chip_reads_it_and_never_into_an_update_slot() {
    // The esptool-built ESP32-S3 fixture with its descriptor magic cleared: an ESP image that
    // is no app, so a bootloader.
    let s3 = with_region(&fixture("esp32s3_app.bin"), 32..36, &[0, 0, 0, 0]);
    esp_rom_at(&s3, 0x0, &Policy::default()).unwrap();
    for offset in [0x1000, 0x10000] {
        let text = esp_rom_at(&s3, offset, &Policy::default())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("ESP32-S3 boots its bootloader from 0x0"),
            "{text}"
        );
    }
    // An ESP32 one goes at 0x1000.
    let bootloader = with_region(&sample_image(), 32..36, &[0, 0, 0, 0]);
    esp_rom_at(&bootloader, 0x1000, &Policy::default()).unwrap();
    let text = refusal(Family::Esp32MicroPython, &bootloader);
    assert!(text.contains("it is a bootloader"), "{text}");
}

#[test]
fn foreign_formats_name_what_the_family_takes() {
    let mcuboot = fixture("mcuboot_ed25519.bin");
    let table = fixture("partitions.bin");
    let text = refusal(Family::EspRom, &mcuboot);
    assert!(
        text.contains("ESP32 chips in their ROM loader do not take this MCUboot image (they take: ESP-IDF app image"),
        "{text}"
    );
    // A QuecPython module takes only Quectel's own package: an ESP-IDF app, whatever chip it
    // is for, is no more one than an MCUboot image or a partition table.
    let s3_app = fixture("esp32s3_app.bin");
    for (image, format) in [
        (&mcuboot, "MCUboot image"),
        (&table, "ESP-IDF partition table"),
        (&sample_image(), "ESP-IDF app image"),
        (&s3_app, "ESP-IDF app image"),
    ] {
        let text = refusal(Family::QuecPython, image);
        let says = format!(
            "QuecPython modules do not take this {format} (they take: the module vendor's own update package)"
        );
        assert!(text.contains(&says), "{text}");
    }
    let text = refusal(Family::McuBoot, &sample_image());
    assert!(
        text.contains("do not take this ESP-IDF app image (they take: MCUboot image)"),
        "{text}"
    );
}

#[test]
fn text_files_are_refused_as_text() {
    let cases: [(&[u8], &str); 4] = [
        (b"{\"name\": \"x\", \"builds\": []}", "JSON"),
        (b"\xEF\xBB\xBF[1, 2]", "JSON"),
        (b"<!DOCTYPE html><title>404</title>", "a web page"),
        (b"version=2.1.0\n", "plain text"),
    ];
    for (bytes, says) in cases {
        for family in Family::ALL {
            let text = refusal(family, bytes);
            assert!(text.contains("this is a text file"), "{family:?}: {text}");
            assert!(text.contains(says), "{family:?}: {text}");
        }
    }
}

#[test]
fn raw_data_needs_consent_only_where_nothing_on_the_module_checks_it() {
    let raw: Vec<u8> = (0..4096u32).map(|i| (i * 13 % 256) as u8).collect();
    let text = refusal(Family::EspRom, &raw);
    assert!(text.contains("writes whatever it is sent"), "{text}");
    let consent = Policy {
        allow_raw: true,
        ..Policy::default()
    };
    let admitted = admit(Family::EspRom, &raw, Some(0), &consent).unwrap();
    assert!(admitted.notes[0].contains("raw data on the technician's word"));
    // QuecPython's fota verifies the package on the module: no consent needed.
    admit(Family::QuecPython, &raw, None, &Policy::default()).unwrap();
}

#[test]
fn empty_and_oversized_files_are_refused() {
    assert!(refusal(Family::Pycom, &[]).contains("the file is empty"));
    let huge = vec![0u8; MAX_IMAGE_BYTES + 1];
    assert!(refusal(Family::EspRom, &huge).contains("more than the 64 MiB"));
}

#[test]
fn a_re_hashed_image_with_a_changed_body_fails_its_signature_when_a_key_is_given() {
    let good = fixture("mcuboot_ed25519.bin");
    let parsed = otadeck_core::image::mcuboot::parse(&good).unwrap();
    let old_hash = Sha256::digest(&good[..parsed.hashed_len]);
    let mut forged = good.clone();
    forged[parsed.header.hdr_size as usize + 10] ^= 0x01;
    let new_hash = Sha256::digest(&forged[..parsed.hashed_len]);
    let at = forged
        .windows(32)
        .position(|w| w == old_hash.as_slice())
        .expect("the SHA256 TLV");
    forged[at..at + 32].copy_from_slice(&new_hash);
    // Without a key the forgery is intact by its own hash, as `inspect` says.
    admit(Family::McuBoot, &forged, None, &Policy::default()).unwrap();
    let key = PublicKey::parse(&fixture("ed25519.pub.pem")).unwrap();
    let policy = Policy {
        keys: vec![key],
        ..Policy::default()
    };
    let text = admit(Family::McuBoot, &forged, None, &policy)
        .unwrap_err()
        .to_string();
    assert!(text.contains("signature does not verify"), "{text}");
    let admitted = admit(Family::McuBoot, &good, None, &policy).unwrap();
    assert!(
        admitted.notes[0].contains("Signature verified"),
        "{admitted:?}"
    );
    let required = Policy {
        require_signature: true,
        ..Policy::default()
    };
    let text = admit(Family::McuBoot, &good, None, &required)
        .unwrap_err()
        .to_string();
    assert!(text.contains("no key was given"), "{text}");
}

#[test]
fn open_refuses_before_any_driver_starts_and_logs_a_consented_raw_write() {
    let job = |image: Vec<u8>, offset| Job::Flash {
        image,
        options: FlashOptions {
            offset: Some(offset),
            ..FlashOptions::default()
        },
    };
    let err = open(
        Family::EspRom,
        job(fixture("mcuboot_ed25519.bin"), 0x10000),
        OpenOptions::default(),
        Duration::ZERO,
    )
    .err()
    .expect("refused");
    assert!(matches!(
        err,
        OpenError::Refused(Refusal::WrongFormat { .. })
    ));
    assert!(err.to_string().ends_with("nothing was sent to the module"));
    let options = OpenOptions {
        policy: Policy {
            allow_raw: true,
            ..Policy::default()
        },
        ..OpenOptions::default()
    };
    let mut machine = open(
        Family::EspRom,
        job(vec![0x00, 0xff, 0x42], 0),
        options,
        Duration::ZERO,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let first = machine.poll_event();
    assert!(
        matches!(&first, Some(SessionEvent::Log { message, .. }) if message.contains("technician's word")),
        "{first:?}"
    );
}
