//! The ROM loader reads the flash layout before it writes: an app goes into the slot that does not
//! boot now and boots next only once checked; the running slot, a region that overflows its
//! partition and an image for another chip are refused before any erase; an interrupted update
//! leaves otadata selecting the old app, and the report says so.

use std::time::Duration;

use otadeck_core::driver::esp_rom::packet::op;
use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::family::{backup_regions, Family};
use otadeck_core::session::{FlashErrorKind, Step};
use otadeck_sim::esp_rom::{EspRomSim, OTA0_VERSION};
use otadeck_sim::firmware::demo_image;
use otadeck_sim::harness::{run, Run};
use otadeck_sim::line::{LineFault, SimLink};

const LIMIT: Duration = Duration::from_secs(600);
const OTA0: u32 = 0x10000;
const OTA1: u32 = 0x190000;

fn session(offset: u32, data: Vec<u8>, update_slot: bool) -> EspRomSession {
    let job = Job::Flash {
        regions: vec![Region { offset, data }],
        compress: true,
    };
    let mut cfg = EspRomConfig::new(job);
    cfg.update_slot = update_slot;
    EspRomSession::start(Duration::ZERO, cfg)
}

fn erases(l: &SimLink<EspRomSim>) -> usize {
    let begins = [op::FLASH_BEGIN, op::FLASH_DEFL_BEGIN];
    l.device.ops.iter().filter(|o| begins.contains(o)).count()
}

fn refused(offset: u32, data: Vec<u8>) -> (Run, SimLink<EspRomSim>) {
    let mut l = SimLink::new(EspRomSim::new(), 115_200);
    let r = run(
        &mut session(offset, data, false),
        &mut l,
        Duration::ZERO,
        LIMIT,
        None,
    );
    (r, l)
}

/// A 200 KB update into the update slot, with `cut` applied to the line once, after five
/// compressed blocks went out.
fn interrupted_update(
    mut cut: impl FnMut(Duration, &mut SimLink<EspRomSim>),
) -> (Run, SimLink<EspRomSim>) {
    let img = demo_image("2.1.0", 200 * 1024);
    let mut l = SimLink::new(EspRomSim::new(), 115_200);
    let mut done = false;
    let mut hook = |now: Duration, _s: &mut EspRomSession, l: &mut SimLink<EspRomSim>| {
        let blocks = l
            .device
            .ops
            .iter()
            .filter(|o| **o == op::FLASH_DEFL_DATA)
            .count();
        if !done && blocks == 5 {
            done = true;
            cut(now, l);
        }
    };
    let r = run(
        &mut session(0, img, true),
        &mut l,
        Duration::ZERO,
        LIMIT,
        Some(&mut hook),
    );
    (r, l)
}

#[test]
fn an_update_goes_into_the_other_slot_and_boots_next_once_checked() {
    let img = demo_image("2.1.0", 96 * 1024);
    let mut l = SimLink::new(EspRomSim::new(), 115_200);
    let r = run(
        &mut session(0, img.clone(), true),
        &mut l,
        Duration::ZERO,
        LIMIT,
        None,
    );
    assert_eq!(r.outcome().bytes, img.len() as u64);
    let at = OTA1 as usize;
    assert_eq!(&l.device.flash[at..at + img.len()], &img[..]);
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_1"));
    let state = r.partitions().expect("the slots after the switch");
    assert_eq!(state.next_boot, "ota_1");
    assert!(r.logged("writing ota_1 at 0x190000, the slot that does not boot now"));
    let progress = r.progress();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&(img.len() as u64)));
    assert_eq!(l.device.power_on(), Some("ota_1".into()));
    assert_eq!(l.device.slot_version("ota_1").as_deref(), Some("2.1.0"));
}

#[test]
fn the_running_slot_an_overflowing_image_and_a_foreign_chip_are_refused_before_any_erase() {
    let fixture = |name: &str| {
        let path = format!(
            "{}/tests/fixtures/images/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap()
    };
    let cases = [
        (
            OTA0,
            demo_image("2.1.0", 4096),
            "ota_0 holds the firmware the chip boots now",
        ),
        (
            OTA1,
            demo_image("2.1.0", 0x180000),
            "run into the next partition",
        ),
        (
            OTA1 + 0x170000,
            vec![0x5a; 0x20000],
            "run into the next partition",
        ),
        (0x380000, vec![0x5a; 0x1000], "no partition holds 0x380000"),
        (OTA1, fixture("esp32s3_app.bin"), "built for the ESP32-S3"),
    ];
    for (offset, data, says) in cases {
        let (r, l) = refused(offset, data);
        let e = r.error();
        assert_eq!(e.step, Step::Prepare, "{says}");
        let text = e.to_string();
        assert!(text.contains(says), "{says}: {text}");
        assert!(text.contains("is unchanged"), "{text}");
        assert_eq!(erases(&l), 0, "{says}: nothing was erased");
        let running_slot = says.starts_with("ota_0 holds");
        assert_eq!(
            matches!(e.kind, FlashErrorKind::ModuleState { .. }),
            running_slot,
            "{says}: {e:?}"
        );
        assert!(running_slot || matches!(e.kind, FlashErrorKind::Unsuitable(_)));
    }
}

#[test]
fn an_interrupted_update_leaves_the_old_app_selected_and_says_so() {
    let (r, mut l) = interrupted_update(|_now, l| l.inject(LineFault::DropAfter(l.delivered())));
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::LinkLost);
    let text = e.to_string();
    assert!(
        text.contains("still boots its previous firmware: otadata was not switched"),
        "{text}"
    );
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_0"));
    assert_eq!(l.device.power_on(), Some("ota_0".into()));
    assert_eq!(
        l.device.slot_version("ota_0").as_deref(),
        Some(OTA0_VERSION)
    );
}

#[test]
fn a_slot_left_cut_short_is_shown_not_bootable_and_is_never_switched_to() {
    let (r, mut l) = interrupted_update(|now, l| {
        l.device.power_cut();
        l.replug(now);
    });
    assert!(r.result.as_ref().is_some_and(Result::is_err));
    // Power back: the old app boots; then the chip, held in download mode, is read.
    assert_eq!(l.device.power_on(), Some("ota_0".into()));
    let start = l.now();
    let mut info = EspRomSession::start(start, EspRomConfig::new(Job::Info));
    let r = run(&mut info, &mut l, start, LIMIT, None);
    let state = r
        .partitions()
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", r.result));
    let cut = state.slot("ota_1").unwrap();
    let problem = cut.problem.as_deref().unwrap_or_default();
    assert!(problem.contains("cut short"), "{state:?}");
    assert!(state.slot("ota_0").unwrap().problem.is_none(), "{state:?}");
    assert!(
        state
            .lines()
            .iter()
            .any(|l| l.starts_with("ota_1") && l.contains("NOT BOOTABLE")),
        "{:?}",
        state.lines()
    );
    let start = l.now();
    let mut switch = EspRomSession::start(start, EspRomConfig::new(Job::SetBootSlot { slot: 1 }));
    let r = run(&mut switch, &mut l, start, LIMIT, None);
    let text = r.error().to_string();
    assert!(
        text.contains("ota_1 cannot be made to boot: the image is cut short"),
        "{text}"
    );
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_0"));
}

#[test]
fn whole_images_pass_the_walk() {
    let mut l = SimLink::new(EspRomSim::new(), 115_200);
    let r = run(
        &mut EspRomSession::start(Duration::ZERO, EspRomConfig::new(Job::Info)),
        &mut l,
        Duration::ZERO,
        LIMIT,
        None,
    );
    let state = r.partitions().cloned().expect("the slots");
    assert!(state.slots.iter().all(|s| s.problem.is_none()), "{state:?}");
    // The walk reads a few headers per slot, not the images.
    let reads = l
        .device
        .ops
        .iter()
        .filter(|o| **o == op::READ_FLASH_SLOW)
        .count();
    assert!(reads < 60, "{reads} reads");
}

#[test]
fn the_layout_places_each_slot_and_a_backup_reads_exactly_its_image() {
    let mut l = SimLink::new(EspRomSim::new(), 921_600);
    let info = run(
        &mut EspRomSession::start(Duration::ZERO, EspRomConfig::new(Job::Info)),
        &mut l,
        Duration::ZERO,
        LIMIT,
        None,
    );
    let state = info.partitions().cloned().expect("the slots");
    let ota0 = state.slot("ota_0").and_then(|s| s.extent).expect("placed");
    let image = demo_image(OTA0_VERSION, 64 * 1024);
    assert_eq!((ota0.offset, ota0.size), (OTA0, 0x180000));
    assert_eq!(ota0.image_len, Some(image.len() as u32));

    let regions = backup_regions(Family::EspRom, &[], Some(&state));
    let names: Vec<_> = regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [state.running.as_str(), "ota_1"]);
    let region = regions.iter().find(|r| r.name == "ota_0").unwrap();
    let job = Job::ReadFlash {
        offset: region.offset,
        len: region.len,
    };
    let mut s = EspRomSession::start(Duration::ZERO, EspRomConfig::new(job));
    run(&mut s, &mut l, Duration::ZERO, LIMIT, None).outcome();
    assert_eq!(s.take_read(), image);
}
