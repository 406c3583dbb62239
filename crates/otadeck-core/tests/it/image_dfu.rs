//! DFU files made by dfu-util's `dfuse-pack` and `dfu-suffix`, against what those tools print.

use otadeck_core::image::dfuse::{self, DfuError};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// `dfu-suffix -c` output: "Key:\tvalue" lines.
fn suffix_field(report: &str, key: &str) -> u32 {
    let line = report
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}"));
    let v = line.split(':').nth(1).unwrap().trim();
    match v.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).unwrap(),
        None => v.parse().unwrap(),
    }
}

fn check_suffix(s: &dfuse::Suffix, report: &str) {
    assert_eq!(suffix_field(report, "BCD device"), u32::from(s.bcd_device));
    assert_eq!(suffix_field(report, "Product ID"), u32::from(s.product_id));
    assert_eq!(suffix_field(report, "Vendor ID"), u32::from(s.vendor_id));
    assert_eq!(suffix_field(report, "BCD DFU"), u32::from(s.bcd_dfu));
    assert_eq!(suffix_field(report, "Length"), u32::from(s.len));
    assert_eq!(suffix_field(report, "CRC"), s.crc);
    assert!(s.crc_ok());
}

#[test]
fn dfuse_file_matches_dfuse_pack_dump() {
    let data = fixture("dfuse_two_targets.dfu");
    let f = dfuse::parse_dfuse(&data).unwrap();
    f.check().unwrap();
    check_suffix(&f.suffix, &text("dfuse_two_targets.dfu-suffix.txt"));
    let dump = text("dfuse_two_targets.dump.txt");
    assert!(dump.contains(&format!(
        "b'DfuSe' v{}, image size: {}, targets: {}",
        f.version,
        f.image_size,
        f.targets.len()
    )));
    for (i, t) in f.targets.iter().enumerate() {
        assert!(
            dump.contains(&format!(
                "b'Target' {i}, alt setting: {}, name: \"b'{}'\", size: {}, elements: {}",
                t.alt,
                t.name,
                t.size,
                t.elements.len()
            )),
            "target {i}: {t:?}"
        );
        for (j, e) in t.elements.iter().enumerate() {
            assert!(dump.contains(&format!(
                "  {j}, address: {:#010x}, size: {}",
                e.address, e.size
            )));
        }
    }
    // What dfuse-pack was told.
    let addrs: Vec<Vec<(u32, u32)>> = f
        .targets
        .iter()
        .map(|t| t.elements.iter().map(|e| (e.address, e.size)).collect())
        .collect();
    assert_eq!(
        addrs,
        [
            vec![(0x0800_0000, 1024), (0x0800_4000, 200)],
            vec![(0x1FFF_7800, 16)]
        ]
    );
    assert_eq!(f.targets[1].alt, 1);
    let e = &f.targets[0].elements[0];
    let expected: Vec<u8> = (0..1024u32).map(|i| ((i * 5 + 1) & 0xFF) as u8).collect();
    assert_eq!(&data[e.data_offset..e.data_offset + 1024], &expected[..]);
}

#[test]
fn plain_suffix_matches_dfu_suffix() {
    let data = fixture("plain.dfu");
    let f = dfuse::parse_dfu(&data).unwrap();
    f.check().unwrap();
    check_suffix(&f.suffix, &text("plain.dfu-suffix.txt"));
    assert_eq!(f.payload_len, 1024);
    assert_eq!(
        (f.suffix.vendor_id, f.suffix.product_id, f.suffix.bcd_device),
        (0x1209, 1, 0x0200)
    );
}

#[test]
fn crc_catches_every_flipped_byte() {
    for name in ["plain.dfu", "dfuse_two_targets.dfu"] {
        let good = fixture(name);
        for at in (0..good.len() - 4).step_by(7) {
            let mut d = good.clone();
            d[at] ^= 0x20;
            let crc_ok = match dfuse::parse_suffix(&d) {
                Ok(s) => s.crc_ok(),
                Err(_) => continue, // the flip broke the suffix itself
            };
            assert!(!crc_ok, "{name}: flip at {at} not caught");
        }
        let mut d = good.clone();
        let n = d.len();
        d[n - 1] ^= 1;
        let f = dfuse::parse_dfu(&d).unwrap();
        assert!(matches!(f.check(), Err(DfuError::Crc { offset, .. }) if offset == n - 4));
    }
}

#[test]
fn hostile_dfuse_is_typed() {
    let good = fixture("dfuse_two_targets.dfu");
    let mut d = good.clone();
    d[10] = 3; // one target more than there is
    assert!(matches!(
        dfuse::parse_dfuse(&d),
        Err(DfuError::Truncated(_))
    ));
    let mut d = good.clone();
    d[11] = b'X';
    assert_eq!(
        dfuse::parse_dfuse(&d).unwrap_err(),
        DfuError::BadTarget {
            index: 0,
            offset: 11
        }
    );
    let mut d = good.clone();
    d[6..10].copy_from_slice(&5u32.to_le_bytes());
    assert!(matches!(
        dfuse::parse_dfuse(&d),
        Err(DfuError::SizeMismatch {
            field: "DFUImageSize",
            offset: 6,
            ..
        })
    ));
    let mut d = good.clone();
    d[11 + 270..11 + 274].copy_from_slice(&u32::MAX.to_le_bytes()); // elements count
    assert!(dfuse::parse_dfuse(&d).is_err());
    let n = good.len();
    let mut d = good.clone();
    d[n - 5] = 4;
    assert!(matches!(
        dfuse::parse_dfuse(&d),
        Err(DfuError::SuffixLength { len: 4, .. })
    ));
    for len in 0..good.len() {
        assert!(
            dfuse::parse_dfuse(&good[..len]).is_err(),
            "accepted {len} bytes"
        );
    }
}
