//! ESP-IDF app images made by `esptool elf2image`, checked field by field against what
//! `esptool image-info` printed for them (fixtures/images/*.image-info.txt).

use otadeck_core::image::esp::{self, EspImageError};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `esptool image-info` output: "Key: value" lines, and the segment table rows.
struct Info {
    fields: Vec<(String, String)>,
    segments: Vec<Vec<String>>,
}

impl Info {
    fn read(name: &str) -> Self {
        let text = String::from_utf8(fixture(name)).unwrap();
        let mut fields = Vec::new();
        let mut segments = Vec::new();
        for line in text.lines() {
            let cols: Vec<String> = line.split_whitespace().map(String::from).collect();
            if cols.len() >= 5 && cols[0].parse::<usize>().is_ok() && cols[1].starts_with("0x") {
                segments.push(cols);
            } else if let Some((k, v)) = line.split_once(": ") {
                fields.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Info { fields, segments }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn field(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("esptool printed no {key:?}"))
    }
}

fn num(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn fields_match_esptool_image_info() {
    for name in ["esp32c3_app", "esp32_app", "esp32s3_app"] {
        let data = fixture(&format!("{name}.bin"));
        let img = esp::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = Info::read(&format!("{name}.image-info.txt"));
        assert_eq!(info.field("Image size"), format!("{} bytes", data.len()));
        assert_eq!(info.field("Detected image type"), img.chip.to_uppercase());
        assert_eq!(
            num(info.field("Entry point")),
            u64::from(img.entry_addr),
            "{name}"
        );
        assert_eq!(info.field("Segments"), img.segments.len().to_string());
        assert_eq!(info.field("Flash size"), img.flash_size, "{name}");
        assert_eq!(info.field("Flash freq"), img.flash_freq, "{name}");
        assert_eq!(info.field("Flash mode"), img.flash_mode, "{name}");
        assert_eq!(
            info.field("WP pin"),
            format!("{:#x} (disabled)", img.wp_pin)
        );
        let drv = img.spi_pin_drv;
        assert_eq!(
            info.field("Flash pins drive settings"),
            format!(
                "clk_drv: {:#x}, q_drv: {:#x}, d_drv: {:#x}, cs0_drv: {:#x}, hd_drv: {:#x}, wp_drv: {:#x}",
                drv[0] & 15, drv[0] >> 4, drv[1] & 15, drv[1] >> 4, drv[2] & 15, drv[2] >> 4
            )
        );
        assert_eq!(
            info.field("Chip ID"),
            format!("{} ({})", img.chip_id, img.chip),
            "{name}"
        );
        assert_eq!(
            info.field("Minimal chip revision"),
            format!(
                "{}, (legacy min_rev = {})",
                esp::rev_text(img.min_chip_rev_full),
                img.min_chip_rev
            )
        );
        assert_eq!(
            info.field("Maximal chip revision"),
            esp::rev_text(img.max_chip_rev_full)
        );
        assert_eq!(info.segments.len(), img.segments.len());
        for (row, seg) in info.segments.iter().zip(&img.segments) {
            assert_eq!(num(&row[1]), u64::from(seg.len), "{name} length");
            assert_eq!(num(&row[2]), u64::from(seg.load_addr), "{name} load addr");
            assert_eq!(num(&row[3]), seg.header_offset as u64, "{name} file offs");
            assert_eq!(
                row[4..].join(" "),
                seg.memory_types.join(", "),
                "{name} memory types"
            );
        }
        assert_eq!(
            info.field("Checksum"),
            format!("{:#04x} (valid)", img.checksum.stored)
        );
        assert!(img.checksum.ok());
        match &img.sha256 {
            Some(h) => {
                assert!(h.ok());
                let hex: String = h.stored.0.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(info.field("Validation hash"), format!("{hex} (valid)"));
            }
            None => assert_eq!(info.get("Validation hash"), None, "{name}"),
        }
        let app = img.app.as_ref().unwrap();
        assert_eq!(info.field("Project name"), app.project_name);
        assert_eq!(info.field("App version"), app.version);
        assert_eq!(
            info.field("Compile time"),
            format!("{} {}", app.date, app.time)
        );
        let elf: String = app
            .app_elf_sha256
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(info.field("ELF file SHA256"), elf);
        assert_eq!(info.field("ESP-IDF"), app.idf_version);
        assert_eq!(info.field("Secure version"), app.secure_version.to_string());
        let blk = |v: u16| format!("{}.{}", v / 100, v % 100);
        assert_eq!(
            info.field("Minimal eFuse block revision"),
            blk(app.min_efuse_blk_rev_full)
        );
        assert_eq!(
            info.field("Maximal eFuse block revision"),
            blk(app.max_efuse_blk_rev_full)
        );
        match app.mmu_page_size_log2 {
            0 => assert_eq!(info.get("MMU page size"), None),
            n => assert_eq!(
                info.field("MMU page size"),
                format!("{} KB", (1u64 << n) / 1024)
            ),
        }
        assert_eq!(img.image_len, data.len());
    }
}

#[test]
fn what_elf2image_was_told() {
    let c3 = esp::parse(&fixture("esp32c3_app.bin")).unwrap();
    assert_eq!((c3.chip, c3.chip_id), ("ESP32-C3", 5));
    assert_eq!((c3.min_chip_rev_full, c3.max_chip_rev_full), (3, 199));
    let e32 = esp::parse(&fixture("esp32_app.bin")).unwrap();
    assert_eq!(
        (e32.flash_mode, e32.flash_freq, e32.flash_size),
        ("QIO", "80m", "16MB")
    );
    assert_eq!(esp::rev_text(e32.min_chip_rev_full), "v3.0");
    let s3 = esp::parse(&fixture("esp32s3_app.bin")).unwrap();
    assert!(!s3.hash_appended && s3.sha256.is_none());
    assert_eq!(
        (s3.flash_mode, s3.flash_freq, s3.flash_size),
        ("DOUT", "20m", "2MB")
    );
    let app = s3.app.unwrap();
    assert_eq!(app.version, "1.4.2-rc1");
    assert_eq!(app.project_name, "otadeck-esp32s3");
    assert_eq!(app.secure_version, 3);
    // --elf-sha256-offset 0xb0 put the ELF's SHA-256 in the descriptor.
    let elf = fixture("esp32s3_app.elf");
    use sha2::Digest;
    assert_eq!(
        app.app_elf_sha256.to_vec(),
        sha2::Sha256::digest(&elf).to_vec()
    );
}

#[test]
fn tampering_is_caught_with_offsets() {
    let good = fixture("esp32c3_app.bin");
    let img = esp::parse(&good).unwrap();
    let mut d = good.clone();
    d[100] ^= 0x08; // inside segment 0's data
    assert_eq!(
        esp::parse(&d).unwrap_err(),
        EspImageError::Checksum {
            offset: img.checksum.offset,
            found: img.checksum.stored,
            computed: img.checksum.stored ^ 0x08
        }
    );
    let unchecked = esp::parse_unchecked(&d).unwrap();
    assert!(!unchecked.checksum.ok());
    assert_eq!(unchecked.app.unwrap().project_name, "otadeck-esp32c3");
    let mut d = good.clone();
    let last = d.len() - 1;
    d[last] ^= 1;
    assert_eq!(
        esp::parse(&d).unwrap_err(),
        EspImageError::Sha256Mismatch {
            offset: good.len() - 32
        }
    );
    let mut d = good.clone();
    d[1] = 17;
    assert_eq!(
        esp::parse(&d).unwrap_err(),
        EspImageError::TooManySegments(17)
    );
    let mut d = good.clone();
    d[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        esp::parse(&d),
        Err(EspImageError::Truncated {
            field: "segment data",
            offset: 32,
            ..
        })
    ));
}

/// A caller that streams its own SHA-256 learns where the appended hash ends and hands the
/// digest over: the result is the one `parse` computes itself, and a wrong digest is caught.
#[test]
fn a_known_prefix_digest_replaces_the_hashing() {
    use otadeck_core::digest::sha256;
    for name in ["esp32_app.bin", "esp32c3_app.bin"] {
        let mut data = fixture(name);
        let own = esp::parse(&data).unwrap();
        let covers = esp::appended_hash_covers(&data).expect("a hash is appended");
        assert_eq!(covers, own.sha256.as_ref().unwrap().offset, "{name}");
        let given = esp::parse_unchecked_with(&data, Some((covers, sha256(&data[..covers]))));
        assert_eq!(given.as_ref(), Ok(&own), "{name}");
        let wrong = esp::parse_unchecked_with(&data, Some((covers, [0; 32]))).unwrap();
        assert_eq!(
            wrong.check(),
            Err(EspImageError::Sha256Mismatch { offset: covers })
        );
        // A digest of another span is not taken for the image's.
        let other = esp::parse_unchecked_with(&data, Some((covers - 1, [0; 32]))).unwrap();
        assert_eq!(other, own);
        // Flash-dump padding after the image changes nothing; a cut inside the hash does.
        data.extend_from_slice(&[0xFF; 100]);
        assert_eq!(esp::appended_hash_covers(&data), Some(covers));
        assert_eq!(esp::appended_hash_covers(&data[..covers + 31]), None);
    }
}

#[test]
fn built_images_keep_working() {
    let img = esp::build_app_image(
        5,
        &esp::AppDescriptorFields {
            version: "9.9.9",
            project_name: "sim",
            time: "00:00:00",
            date: "Jan  1 2026",
            idf_version: "v5.3",
            secure_version: 0,
        },
        &[(0x3c00_0020, &[1, 2, 3][..])],
    );
    let parsed = esp::parse(&img).unwrap();
    assert_eq!(parsed.chip, "ESP32-C3");
    assert_eq!(esp::app_descriptor(&img).unwrap().version, "9.9.9");
    assert_eq!(img[0], esp::IMAGE_MAGIC);
}
