//! The registry's tables against what opening a session does.

use super::*;

#[test]
fn keys_round_trip_and_unknown_keys_are_refused() {
    for f in Family::ALL {
        assert_eq!(Family::from_key(f.key()), Some(f));
    }
    assert_eq!(Family::from_key("micropython"), None);
    assert_eq!(Family::from_key("z80"), None);
}

#[test]
fn a_job_the_family_lacks_is_refused_with_words() {
    let e = open(
        Family::Pycom,
        Job::Accept,
        OpenOptions::default(),
        Duration::ZERO,
    )
    .err()
    .unwrap();
    assert_eq!(e, OpenError::Unsupported(Family::Pycom, JobKind::Accept));
    assert_eq!(
        e.to_string(),
        "Pycom modules cannot accept firmware: their bootloader decides at boot"
    );
    let e = open(
        Family::NodeMcu,
        Job::Download {
            url1: "https://x/y.bin".into(),
            url2: None,
            restart: true,
        },
        OpenOptions::default(),
        Duration::ZERO,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("give them an image file"), "{e}");
}

/// An image the family's admission check takes.
fn image_for(family: Family) -> Vec<u8> {
    match family {
        Family::McuBoot => {
            return include_bytes!("../../tests/fixtures/images/mcuboot_ed25519.bin").to_vec()
        }
        // The vendor's package is opaque: bytes no format claims.
        Family::QuecPython => return (0..=255u8).cycle().take(4096).collect(),
        _ => {}
    }
    let desc = crate::image::esp::AppDescriptorFields {
        version: "1.0.0",
        project_name: "test",
        time: "00:00:00",
        date: "Jan  1 2026",
        idf_version: "v5.2",
        secure_version: 0,
    };
    crate::image::esp::build_app_image(0, &desc, &[(0x3f40_0020, &[0u8; 64])])
}

#[test]
fn every_listed_job_opens_a_session() {
    let state = PartitionState {
        running: "ota_0".into(),
        next_boot: "ota_0".into(),
        slots: Vec::new(),
    };
    for f in Family::ALL {
        for &kind in f.capabilities().jobs {
            let job = match kind {
                JobKind::Identify => Job::Identify,
                JobKind::Flash => Job::Flash {
                    image: image_for(f),
                    options: FlashOptions::default(),
                },
                JobKind::Download => Job::Download {
                    url1: "https://x/y.bin".into(),
                    url2: None,
                    restart: true,
                },
                JobKind::Accept => Job::Accept,
                JobKind::Rollback if f == Family::EspRom => continue,
                JobKind::Rollback => Job::Rollback,
                JobKind::ReadBack => Job::ReadBack { offset: 0, len: 16 },
                JobKind::SetBootSlot => Job::SetBootSlot { slot: 1 },
                JobKind::Restart => Job::Restart,
                JobKind::Files => Job::Files {
                    files: Vec::new(),
                    delete: vec!["/flash/old.py".into()],
                },
                JobKind::EraseUpdateSlot => Job::EraseUpdateSlot,
            };
            let options = OpenOptions {
                partitions: Some(state.clone()),
                ..OpenOptions::default()
            };
            let m = open(f, job, options, Duration::ZERO);
            assert!(m.is_ok(), "{f:?} {kind:?}");
        }
    }
}

#[test]
fn a_rom_loader_rollback_needs_a_slot_holding_an_app() {
    let state = PartitionState {
        running: "ota_0".into(),
        next_boot: "ota_0".into(),
        slots: Vec::new(),
    };
    let options = OpenOptions {
        partitions: Some(state),
        ..OpenOptions::default()
    };
    let e = open(Family::EspRom, Job::Rollback, options, Duration::ZERO);
    assert_eq!(e.err(), Some(OpenError::NoOtherSlot));
}

#[test]
fn a_rollback_never_returns_to_a_slot_cut_short() {
    let slot = |label: &str, problem: Option<&str>| crate::partition_state::Slot {
        label: label.into(),
        build: Some(crate::partition_state::SlotBuild::default()),
        problem: problem.map(String::from),
        ..Default::default()
    };
    let mut state = PartitionState {
        running: "ota_0".into(),
        next_boot: "ota_0".into(),
        slots: vec![slot("ota_0", None), slot("ota_1", None)],
    };
    assert_eq!(other_ota_slot(&state), Some(1));
    state.slots[1].problem = Some("the image is cut short".into());
    assert_eq!(other_ota_slot(&state), None);
}
