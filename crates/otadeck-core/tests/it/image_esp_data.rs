//! ESP partition tables (made by gen_esp32part's PartitionTable from partitions.csv) and otadata
//! (entries made with esp-idf-defs, CRC as ESP-IDF's otatool.py computes it).

use otadeck_core::image::esp_partition::{self, PartitionTableError};
use otadeck_core::image::otadata::{self, BootTarget, OtaState};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/images/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn csv_rows() -> Vec<Vec<String>> {
    String::from_utf8(fixture("partitions.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect()
}

fn num(s: &str) -> u32 {
    u32::from_str_radix(s.trim_start_matches("0x").trim_start_matches("0X"), 16).unwrap()
}

#[test]
fn table_matches_the_csv_it_was_made_from() {
    for (name, with_md5) in [("partitions.bin", true), ("partitions_no_md5.bin", false)] {
        let t = esp_partition::parse(&fixture(name)).unwrap();
        t.check().unwrap();
        let rows = csv_rows();
        assert_eq!(t.partitions.len(), rows.len());
        for (p, r) in t.partitions.iter().zip(&rows) {
            assert_eq!(p.label, r[0]);
            assert_eq!(p.type_name, r[1]);
            assert_eq!(p.subtype_name, r[2]);
            assert_eq!(p.offset, num(&r[3]), "{}", p.label);
            assert_eq!(p.size, num(&r[4]), "{}", p.label);
            let flags = r.get(5).map(String::as_str).unwrap_or("");
            assert_eq!(p.flag_names.join(":"), flags, "{}", p.label);
        }
        assert_eq!(t.md5.is_some(), with_md5);
        assert_eq!(t.end_offset, 32 * (rows.len() + usize::from(with_md5)));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        assert_eq!(t.ota_app_count(), 2);
        assert_eq!(t.otadata().unwrap().offset, 0xd000);
        assert_eq!(t.ota_slot(1).unwrap().label, "ota_1");
        assert!(t.ota_slot(2).is_none());
    }
}

#[test]
fn md5_entry_is_checked() {
    let good = fixture("partitions.bin");
    let t = esp_partition::parse(&good).unwrap();
    let md5_at = t.md5.as_ref().unwrap().offset;
    assert_eq!(md5_at, 320);
    for flip in [4, 12 + 32, md5_at - 1, md5_at + 20] {
        let mut d = good.clone();
        d[flip] ^= 0x01;
        assert_eq!(
            esp_partition::parse(&d).unwrap().check(),
            Err(PartitionTableError::Md5Mismatch { offset: md5_at }),
            "flip at {flip}"
        );
    }
    let mut d = good.clone();
    d[64] = 0x12;
    assert_eq!(
        esp_partition::parse(&d).unwrap_err(),
        PartitionTableError::BadMagic {
            index: 2,
            offset: 64,
            found: [0x12, 0x50]
        }
    );
    // A table with no end marker in its 0xC00 bytes.
    let mut d = good[..32].repeat(96);
    d.extend_from_slice(&[0xFF; 32]);
    assert_eq!(
        esp_partition::parse(&d).unwrap_err(),
        PartitionTableError::NoEndMarker
    );
    for len in 0..=t.end_offset + 3 {
        assert!(
            esp_partition::parse(&good[..len]).is_err(),
            "accepted {len} bytes"
        );
    }
}

#[test]
fn otadata_crc_vectors() {
    assert_eq!(otadata::select_crc(1), 0x4743_989a);
    assert_eq!(otadata::select_crc(2), 0x55f6_3774);
}

#[test]
fn otadata_fixtures() {
    let blank = otadata::parse(&fixture("otadata_blank.bin")).unwrap();
    assert!(blank.entries.iter().all(|e| e.is_blank() && !e.is_valid()));
    assert_eq!(blank.active(), None);
    assert_eq!(blank.boot_target(2), BootTarget::Default);

    let o = otadata::parse(&fixture("otadata_ota1_new.bin")).unwrap();
    assert_eq!((o.entries[0].seq, o.entries[0].state), (1, OtaState::Valid));
    assert_eq!((o.entries[1].seq, o.entries[1].state), (2, OtaState::New));
    assert_eq!(o.entries[0].crc, 0x4743_989a);
    assert_eq!(o.entries[1].crc, 0x55f6_3774);
    assert!(o.entries.iter().all(|e| e.crc_ok()));
    assert_eq!(o.active(), Some(1));
    assert_eq!(o.boot_target(2), BootTarget::Ota(1));
    assert_eq!(o.boot_target(1), BootTarget::Ota(0));
    assert_eq!(o.boot_target(0), BootTarget::Default);

    let r = otadata::parse(&fixture("otadata_rolled_back.bin")).unwrap();
    assert_eq!(r.entries[0].state, OtaState::Aborted);
    assert!(!r.entries[0].is_valid() && r.entries[0].crc_ok());
    assert_eq!(r.active(), Some(1));
    assert_eq!(r.boot_target(2), BootTarget::Ota(1));

    // A broken CRC makes the entry invalid: the other one is active.
    let mut d = fixture("otadata_ota1_new.bin");
    d[0x1000 + 28] ^= 1;
    let o = otadata::parse(&d).unwrap();
    assert!(!o.entries[1].crc_ok());
    assert_eq!(o.active(), Some(0));
    assert_eq!(o.boot_target(2), BootTarget::Ota(0));
    assert_eq!(OtaState::PendingVerify.name(), "pending verify");
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["active"], 0);
    assert_eq!(json["entries"][1]["crc_ok"], false);
    assert_eq!(json["entries"][0]["state"], "valid");
    assert_eq!(OtaState::from_raw(0xFFFF_FFFF).name(), "undefined");
}

#[test]
fn set_boot_behaves_like_esp_rewrite_ota_data() {
    // Erased otadata: entry 0 gets seq = slot + 1.
    let blank = fixture("otadata_blank.bin");
    let out = otadata::set_boot(&blank, 1, 2, true).unwrap();
    assert_eq!(out.len(), otadata::OTADATA_LEN);
    let o = otadata::parse(&out).unwrap();
    assert_eq!((o.entries[0].seq, o.entries[0].state), (2, OtaState::New));
    assert!(o.entries[1].is_blank());
    assert_eq!(o.boot_target(2), BootTarget::Ota(1));

    // Active seq 2 (ota_1) → ota_0: the other entry (0) gets seq 3, state UNDEFINED without rollback.
    let cur = fixture("otadata_ota1_new.bin");
    let out = otadata::set_boot(&cur, 0, 2, false).unwrap();
    let o = otadata::parse(&out).unwrap();
    assert_eq!(
        (o.entries[0].seq, o.entries[0].state),
        (3, OtaState::Undefined)
    );
    assert_eq!(o.entries[1], otadata::parse(&cur).unwrap().entries[1]);
    assert_eq!(o.boot_target(2), BootTarget::Ota(0));
    assert_eq!(
        &out[0x1000..],
        &cur[0x1000..],
        "the active sector is untouched"
    );

    // Already selecting the slot: the active entry is rewritten with the new state.
    let out = otadata::set_boot(&cur, 1, 2, false).unwrap();
    let o = otadata::parse(&out).unwrap();
    assert_eq!(
        (o.entries[1].seq, o.entries[1].state),
        (2, OtaState::Undefined)
    );

    // Eight slots, active seq 5 (ota_4) → ota_7 needs seq 8; → ota_2 needs seq 11.
    let mut cur = blank.clone();
    let e = otadata::parse(&otadata::set_boot(&blank, 4, 8, false).unwrap()).unwrap();
    assert_eq!(e.entries[0].seq, 5);
    cur[..32].copy_from_slice(&e.entries[0].to_bytes());
    let to7 = otadata::parse(&otadata::set_boot(&cur, 7, 8, false).unwrap()).unwrap();
    assert_eq!((to7.active(), to7.entries[1].seq), (Some(1), 8));
    let to2 = otadata::parse(&otadata::set_boot(&cur, 2, 8, false).unwrap()).unwrap();
    assert_eq!(to2.entries[1].seq, 11);
    assert_eq!(to2.boot_target(8), BootTarget::Ota(2));

    assert!(otadata::set_boot(&blank, 2, 2, true).is_err());
    assert!(
        otadata::set_boot(&[], 0, 1, true).is_ok(),
        "missing bytes read as erased flash"
    );
}

#[test]
fn otadata_truncations_are_typed() {
    let d = fixture("otadata_ota1_new.bin");
    for len in [0, 3, 31, 0x1000, 0x1000 + 31] {
        let e = otadata::parse(&d[..len]).unwrap_err();
        assert!(
            matches!(e, otadata::OtadataError::Truncated(_)),
            "{len}: {e}"
        );
    }
    assert!(otadata::parse(&d[..0x1000 + 32]).is_ok());
}
