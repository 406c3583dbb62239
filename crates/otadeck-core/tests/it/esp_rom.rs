//! The ESP ROM loader session against the simulated ESP32 ROM, through the simulated line:
//! compressed and plain writes verified by MD5, the slots read from flash, switching the boot
//! slot, and faults (a garbled byte, a hung module, a pulled cable, a power cut, a flash write
//! error, a region that reads back different). Whatever happens, the chip still boots a valid app.

use std::time::Duration;

use otadeck_core::driver::esp_rom::packet::op;
use otadeck_core::driver::esp_rom::reset::ResetKind;
use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::image::otadata;
use otadeck_core::partition_state::SlotState;
use otadeck_core::session::{FlashErrorKind, Machine, SessionEvent, Step};
use otadeck_sim::esp_rom::{EspRomSim, OTA0_VERSION, OTA1_VERSION};
use otadeck_sim::firmware::demo_image;
use otadeck_sim::harness::{run, Run};
use otadeck_sim::line::{LineFault, SimLink};

const LIMIT: Duration = Duration::from_secs(600);
const OTA1: u32 = 0x190000;

fn link() -> SimLink<EspRomSim> {
    SimLink::new(EspRomSim::new(), 115_200)
}

fn flash_job(image: &[u8], compress: bool) -> EspRomSession {
    let job = Job::Flash {
        regions: vec![Region {
            offset: OTA1,
            data: image.to_vec(),
        }],
        compress,
    };
    EspRomSession::start(Duration::ZERO, EspRomConfig::new(job))
}

fn go(s: &mut EspRomSession, l: &mut SimLink<EspRomSim>) -> Run {
    run(s, l, Duration::ZERO, LIMIT, None)
}

fn count(l: &SimLink<EspRomSim>, opc: u8) -> usize {
    l.device.ops.iter().filter(|o| **o == opc).count()
}

/// How many blocks of `block` bytes `img` takes once deflated as the session sends it.
fn deflated_blocks(img: &[u8], block: usize) -> usize {
    miniz_oxide::deflate::compress_to_vec_zlib(img, 9)
        .len()
        .div_ceil(block)
}

/// `img` stands byte for byte at the start of `ota_1`.
/// A hook that cuts the chip's power once `n` blocks of `opc` have arrived (and, when `back_on`,
/// powers it straight back on in its loader, the boot pin held).
fn cut_power_after(
    opc: u8,
    n: usize,
    back_on: bool,
) -> impl FnMut(Duration, &mut EspRomSession, &mut SimLink<EspRomSim>) {
    let mut cut = false;
    move |now, _m, l| {
        if !cut && count(l, opc) == n {
            cut = true;
            l.device.power_cut();
            l.replug(now);
            if back_on {
                l.device.power_on();
            }
        }
    }
}

fn assert_in_ota1(l: &SimLink<EspRomSim>, img: &[u8]) {
    let at = OTA1 as usize;
    assert_eq!(&l.device.flash[at..at + img.len()], img);
}

fn image() -> Vec<u8> {
    demo_image("2.1.0", 96 * 1024)
}

#[test]
fn a_compressed_write_lands_byte_for_byte_and_is_md5_checked() {
    let img = image();
    let mut l = link();
    let r = go(&mut flash_job(&img, true), &mut l);
    assert_eq!(r.outcome().bytes, img.len() as u64);
    assert_in_ota1(&l, &img);
    let blocks = deflated_blocks(&img, 0x400);
    assert_eq!(count(&l, op::FLASH_DEFL_DATA), blocks);
    assert!(blocks < img.len() / 0x400, "the image compressed");
    assert_eq!(count(&l, op::SPI_FLASH_MD5), 1);
    assert_eq!(count(&l, op::FLASH_DATA), 0);
    let last = r.events.iter().rev().find_map(|e| match e {
        SessionEvent::Progress { done, total } => Some((*done, *total)),
        _ => None,
    });
    assert_eq!(last, Some((img.len() as u64, img.len() as u64)));
    assert_eq!(l.device.slot_version("ota_1").as_deref(), Some("2.1.0"));
}

#[test]
fn a_plain_write_sends_padded_1k_blocks() {
    let img = image();
    let mut l = link();
    go(&mut flash_job(&img, false), &mut l).outcome();
    assert_eq!(count(&l, op::FLASH_DATA), img.len().div_ceil(0x400));
    assert_in_ota1(&l, &img);
    // The padding of the last block is erased flash.
    let at = OTA1 as usize;
    assert!(
        l.device.flash[at + img.len()..at + img.len().div_ceil(0x400) * 0x400]
            .iter()
            .all(|b| *b == 0xFF)
    );
}

#[test]
fn writes_only_clear_bits_so_the_erase_before_matters() {
    // Flash 0x00 over the slot, then the image: only the erase on FLASH_BEGIN makes it land.
    let img = image();
    let mut l = link();
    let at = OTA1 as usize;
    l.device.flash[at..at + 8192].fill(0x00);
    go(&mut flash_job(&img, false), &mut l).outcome();
    assert_eq!(&l.device.flash[at..at + img.len()], &img[..]);
}

#[test]
fn info_reads_the_slots_from_flash() {
    let mut l = link();
    let mut s = EspRomSession::start(Duration::ZERO, EspRomConfig::new(Job::Info));
    let r = go(&mut s, &mut l);
    r.outcome();
    assert_eq!(s.chip(), "ESP32");
    let st = r.partitions().cloned().expect("partition state");
    assert_eq!(
        (st.running.as_str(), st.next_boot.as_str()),
        ("ota_0", "ota_0")
    );
    let a = st.slot("ota_0").unwrap();
    assert_eq!(a.state, Some(SlotState::Valid));
    assert_eq!(a.build.as_ref().unwrap().version, OTA0_VERSION);
    let b = st.slot("ota_1").unwrap();
    assert_eq!(b.state, Some(SlotState::Undefined));
    assert_eq!(b.build.as_ref().unwrap().version, OTA1_VERSION);
    assert_eq!(count(&l, op::GET_SECURITY_INFO), 1);
    assert!(count(&l, op::READ_FLASH_SLOW) > 5);
}

#[test]
fn switching_the_boot_slot_rewrites_the_other_otadata_entry() {
    let mut l = link();
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_0"));
    let cfg = EspRomConfig::new(Job::SetBootSlot { slot: 1 });
    let r = go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l);
    r.outcome();
    let od = otadata::parse(&l.device.flash[0xd000..0xf000]).unwrap();
    assert_eq!(od.entries[1].seq, 2);
    assert!(od.entries[1].crc_ok());
    assert_eq!(od.entries[1].crc, 0x55f6_3774);
    assert_eq!(od.entries[0].seq, 1, "the old entry is left as it was");
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_1"));
    let st = r.partitions().cloned().expect("partition state");
    assert_eq!(st.next_boot, "ota_1");
    // And back again: entry 0 now gets seq 3.
    let cfg = EspRomConfig::new(Job::SetBootSlot { slot: 0 });
    go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l).outcome();
    let od = otadata::parse(&l.device.flash[0xd000..0xf000]).unwrap();
    assert_eq!((od.entries[0].seq, od.entries[1].seq), (3, 2));
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_0"));
}

#[test]
fn a_slot_without_an_app_cannot_be_made_to_boot() {
    let mut l = link();
    l.device.flash[OTA1 as usize..OTA1 as usize + 4096].fill(0xFF);
    let cfg = EspRomConfig::new(Job::SetBootSlot { slot: 1 });
    let r = go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l);
    assert!(matches!(r.error().kind, FlashErrorKind::Unsuitable(_)));
    assert_eq!(count(&l, op::FLASH_BEGIN), 0);
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_0"));
}

#[test]
fn a_garbled_block_is_sent_again() {
    let img = image();
    let mut l = link();
    // Well inside the third data block (each frame is about 1 KiB).
    l.inject(LineFault::Corrupt {
        index: 3000,
        xor: 0x01,
    });
    let r = go(&mut flash_job(&img, true), &mut l);
    r.outcome();
    let blocks = deflated_blocks(&img, 0x400);
    assert_eq!(count(&l, op::FLASH_DEFL_DATA), blocks + 1);
    assert_in_ota1(&l, &img);
}

#[test]
fn a_module_that_stops_answering_fails_after_three_tries_and_still_boots() {
    let img = image();
    let mut l = link();
    l.inject(LineFault::StallAfter(20_000));
    let r = go(&mut flash_job(&img, false), &mut l);
    let e = r.error();
    assert_eq!(e.step, Step::Write);
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }));
    let off = e.offset.unwrap();
    assert!(off > 10_000 && off < 20_000, "{off}");
    assert!(e.to_string().contains("incomplete region"), "{e}");
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_0"));
}

#[test]
fn a_pulled_cable_mid_write_leaves_the_old_app_booting() {
    let img = image();
    let mut l = link();
    l.inject(LineFault::DropAfter(30_000));
    let r = go(&mut flash_job(&img, true), &mut l);
    assert_eq!(r.error().kind, FlashErrorKind::LinkLost);
    assert_eq!(l.device.boot(), Some("ota_0".into()));
}

#[test]
fn a_power_cut_mid_write_then_a_fresh_flash_works() {
    let img = image();
    let mut l = link();
    let mut hook = cut_power_after(op::FLASH_DATA, 20, false);
    let r = run(
        &mut flash_job(&img, false),
        &mut l,
        Duration::ZERO,
        LIMIT,
        Some(&mut hook),
    );
    assert!(matches!(r.error().kind, FlashErrorKind::NoResponse { .. }));
    // Power back: the old app boots; then the chip (held in download mode) takes a new flash,
    // through the boot banner it prints first.
    assert_eq!(l.device.power_on(), Some("ota_0".into()));
    let start = l.now();
    let r = run(&mut flash_job(&img, true), &mut l, start, LIMIT, None);
    r.outcome();
    assert_eq!(l.device.slot_version("ota_1").as_deref(), Some("2.1.0"));
}

/// The chip loses power and comes straight back in its loader (the boot pin held): the next
/// block is refused because the write in progress is gone, and the message says it restarted.
#[test]
fn a_chip_that_restarts_mid_write_is_said_to_have_restarted() {
    let img = image();
    let mut l = link();
    let mut hook = cut_power_after(op::FLASH_DEFL_DATA, 10, true);
    let r = run(
        &mut flash_job(&img, true),
        &mut l,
        Duration::ZERO,
        LIMIT,
        Some(&mut hook),
    );
    let e = r.error();
    assert_eq!(e.step, Step::Write);
    match &e.kind {
        FlashErrorKind::ModuleState { why, .. } => {
            assert!(why.contains("most likely restarted"), "{why}")
        }
        other => panic!("expected the restart to be named, got {other:?}"),
    }
    assert_eq!(l.device.slot_version("ota_0").as_deref(), Some("2.0.3"));
}

#[test]
fn a_power_cut_while_otadata_is_rewritten_keeps_a_bootable_choice() {
    let mut l = link();
    let mut hook = cut_power_after(op::FLASH_BEGIN, 1, false);
    let cfg = EspRomConfig::new(Job::SetBootSlot { slot: 1 });
    let r = run(
        &mut EspRomSession::start(Duration::ZERO, cfg),
        &mut l,
        Duration::ZERO,
        LIMIT,
        Some(&mut hook),
    );
    assert!(r.result.as_ref().unwrap().is_err());
    // The erased sector is entry 1; entry 0 still selects ota_0.
    assert_eq!(l.device.power_on(), Some("ota_0".into()));
}

#[test]
fn a_flash_write_error_names_the_rom_code_and_block() {
    let img = image();
    let mut l = link();
    l.device.fail_write_at = Some(OTA1 as usize + 5 * 0x400 + 10);
    let r = go(&mut flash_job(&img, false), &mut l);
    let text = r.error().to_string();
    assert!(
        text.contains("error 0x08 (flash write error) for block 5"),
        "{text}"
    );
    assert!(text.contains("0x190000"), "{text}");
}

#[test]
fn a_region_that_reads_back_different_fails_verification() {
    let img = image();
    let mut l = link();
    let blocks = img.len().div_ceil(0x400);
    let mut flipped = false;
    let mut hook = |_now: Duration, _m: &mut EspRomSession, l: &mut SimLink<EspRomSim>| {
        let sent = l
            .device
            .ops
            .iter()
            .filter(|o| **o == op::FLASH_DATA)
            .count();
        if !flipped && sent == blocks {
            flipped = true;
            l.device.flash[OTA1 as usize + 1000] ^= 0x10;
        }
    };
    let r = run(
        &mut flash_job(&img, false),
        &mut l,
        Duration::ZERO,
        LIMIT,
        Some(&mut hook),
    );
    let e = r.error();
    assert_eq!(e.step, Step::Verify);
    assert!(matches!(e.kind, FlashErrorKind::Mismatch(_)), "{e}");
}

#[test]
fn a_classic_reset_is_asked_for_before_sync() {
    let mut cfg = EspRomConfig::new(Job::Info);
    cfg.reset = Some(ResetKind::Classic);
    let mut s = EspRomSession::start(Duration::ZERO, cfg);
    let first = s.poll_signals().unwrap();
    assert_eq!((first.dtr, first.rts), (Some(false), Some(true)));
    assert!(
        s.poll_transmit().is_none(),
        "no SYNC while the chip is held in reset"
    );
    assert_eq!(s.poll_timeout(), Some(Duration::from_millis(100)));
    s.handle_timeout(Duration::from_millis(100));
    assert_eq!(s.poll_signals().unwrap().dtr, Some(true));
    let mut l = link();
    let r = run(&mut s, &mut l, Duration::from_millis(100), LIMIT, None);
    r.outcome();
    assert_eq!(l.device.ops[0], op::SYNC);
}

#[test]
fn a_baud_change_is_handed_to_the_pump() {
    let mut cfg = EspRomConfig::new(Job::Info);
    cfg.baud = Some(921_600);
    let mut s = EspRomSession::start(Duration::ZERO, cfg);
    let mut l = link();
    let at_115200 = l.byte_time();
    let r = run(&mut s, &mut l, Duration::ZERO, LIMIT, None);
    r.outcome();
    assert_eq!(l.device.baud_change, Some(921_600));
    // The pump switched the line itself when the session asked for it.
    assert_eq!(at_115200, Duration::from_nanos(86_805));
    assert_eq!(l.byte_time(), Duration::from_nanos(10_850));
}

/// A made-up stub in esptool's JSON format (7 KiB of text, so two RAM blocks, and some data).
fn stub() -> otadeck_core::driver::esp_rom::stub::Stub {
    use base64::Engine as _;
    let b64 = |v: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(v);
    let json = format!(
        r#"{{"entry": 1074521580, "text": "{}", "text_start": 1074520064,
            "data": "{}", "data_start": 1073658408}}"#,
        b64((0..7000u32).map(|i| (i * 7) as u8).collect()),
        b64(vec![0xC0, 0xDB, 1, 2])
    );
    otadeck_core::driver::esp_rom::stub::Stub::from_json(&json).unwrap()
}

#[test]
fn with_a_user_supplied_stub_the_write_uses_16k_blocks_and_raw_md5() {
    let img = image();
    let mut l = link();
    l.inject(LineFault::Corrupt {
        index: 30_000,
        xor: 0x40,
    });
    let job = Job::Flash {
        regions: vec![Region {
            offset: OTA1,
            data: img.clone(),
        }],
        compress: true,
    };
    let mut cfg = EspRomConfig::new(job);
    cfg.stub = Some(stub());
    let r = go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l);
    r.outcome();
    assert!(l.device.stub_mode);
    assert_eq!(count(&l, op::MEM_DATA), 3);
    assert_eq!(count(&l, op::MEM_END), 1);
    let blocks = deflated_blocks(&img, 0x4000);
    // One block arrived garbled (the stub's error 0xC1) and went again.
    assert_eq!(count(&l, op::FLASH_DEFL_DATA), blocks + 1);
    assert_in_ota1(&l, &img);
}

#[test]
fn with_a_stub_the_rom_reads_the_layout_and_the_update_goes_to_the_other_slot() {
    let img = image();
    let mut l = link();
    let job = Job::Flash {
        regions: vec![Region {
            offset: 0,
            data: img.clone(),
        }],
        compress: true,
    };
    let mut cfg = EspRomConfig::new(job);
    cfg.stub = Some(stub());
    cfg.update_slot = true;
    cfg.baud = Some(921_600);
    let r = go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l);
    r.outcome();
    // Every read came before the stub was loaded: the stub answers no READ_FLASH_SLOW.
    let first_mem = l.device.ops.iter().position(|o| *o == op::MEM_BEGIN);
    let last_read = l.device.ops.iter().rposition(|o| *o == op::READ_FLASH_SLOW);
    assert!(
        last_read.unwrap() < first_mem.unwrap(),
        "{:?}",
        l.device.ops
    );
    // The ROM switched the line once; the stub kept that rate.
    assert_eq!(count(&l, op::CHANGE_BAUDRATE), 1);
    assert!(l.device.stub_mode);
    assert_in_ota1(&l, &img);
    assert_eq!(l.device.boot_choice().as_deref(), Some("ota_1"));
    let st = r.partitions().cloned().expect("the state after the switch");
    assert_eq!(st.next_boot, "ota_1");
    assert_eq!(
        st.slot("ota_1").unwrap().build.as_ref().unwrap().version,
        "2.1.0"
    );
}

#[test]
fn a_restart_ends_with_flash_end_and_the_chip_boots_what_otadata_selects() {
    let img = image();
    let mut l = link();
    let job = Job::Flash {
        regions: vec![Region {
            offset: 0x10000,
            data: img.clone(),
        }],
        compress: true,
    };
    let mut cfg = EspRomConfig::new(job);
    cfg.restart = true;
    cfg.overwrite_running = true;
    let r = go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l);
    assert!(r.outcome().restarted);
    assert_eq!(l.device.ops.last(), Some(&op::FLASH_DEFL_END));
    assert_eq!(l.device.boots, vec![Some("ota_0".to_string())]);
    assert_eq!(l.device.slot_version("ota_0").as_deref(), Some("2.1.0"));
}

#[test]
fn a_restart_leaves_the_loader_into_what_otadata_selects() {
    let mut l = link();
    let cfg = EspRomConfig::new(Job::Restart);
    let r = go(&mut EspRomSession::start(Duration::ZERO, cfg), &mut l);
    assert!(r.outcome().restarted);
    assert_eq!(r.outcome().bytes, 0);
    // An empty begin, then the end that reboots: nothing is erased or written.
    let tail: Vec<u8> = l.device.ops.iter().rev().take(2).rev().copied().collect();
    assert_eq!(tail, [op::FLASH_BEGIN, op::FLASH_END]);
    assert_eq!(count(&l, op::FLASH_DATA), 0);
    assert_eq!(l.device.boots, vec![Some("ota_0".to_string())]);
}

#[test]
fn reads_and_writes_past_the_flash_are_refused_before_anything_is_sent() {
    for (job, says) in [
        (
            Job::ReadFlash {
                offset: 0,
                len: u32::MAX,
            },
            "the read is 4.0 GB, and the chip's flash is 4 MB",
        ),
        (
            Job::ReadFlash {
                offset: 0x3F_FF00,
                len: 0x200,
            },
            "the read of 512 bytes at 0x3fff00 runs past the end of the 4 MB flash",
        ),
        (
            Job::ReadFlash {
                offset: 0x1000,
                len: 0,
            },
            "the read is empty",
        ),
        (
            Job::Flash {
                regions: vec![Region {
                    offset: 0x10000,
                    data: vec![0x5a; 10 << 20],
                }],
                compress: true,
            },
            "the image is 10 MB, and the chip's flash is 4 MB",
        ),
    ] {
        let mut l = link();
        let r = go(
            &mut EspRomSession::start(Duration::ZERO, EspRomConfig::new(job)),
            &mut l,
        );
        let text = r.error().to_string();
        assert!(text.contains(says), "{text}");
        let untouched = if says.starts_with("the read") {
            "was only read: nothing was written"
        } else {
            "is unchanged"
        };
        assert!(text.contains(untouched), "{text}");
        assert!(!text.contains("at byte"), "nothing was written yet: {text}");
        assert!(l.device.ops.is_empty(), "nothing reached the chip");
    }
}

#[test]
fn read_flash_returns_the_bytes_and_checks_them_by_md5() {
    let mut l = link();
    let len = 1000u32;
    let job = Job::ReadFlash {
        offset: 0x10000 + 3,
        len,
    };
    let mut s = EspRomSession::start(Duration::ZERO, EspRomConfig::new(job));
    go(&mut s, &mut l).outcome();
    let got = s.take_read();
    assert_eq!(got, l.device.flash[0x10003..0x10003 + len as usize]);
    assert_eq!(count(&l, op::READ_FLASH_SLOW), 16);
    assert_eq!(count(&l, op::SPI_FLASH_MD5), 1);
}

#[test]
fn a_power_cut_while_the_boot_slot_is_rewritten_falls_back_to_the_other_app() {
    let img = image();
    let mut l = link();
    let mut hook = cut_power_after(op::FLASH_DEFL_DATA, 10, false);
    let job = Job::Flash {
        regions: vec![Region {
            offset: 0x10000,
            data: img,
        }],
        compress: true,
    };
    let mut cfg = EspRomConfig::new(job);
    // Written over the running app on purpose: what the bootloader does then.
    cfg.overwrite_running = true;
    let r = run(
        &mut EspRomSession::start(Duration::ZERO, cfg),
        &mut l,
        Duration::ZERO,
        LIMIT,
        Some(&mut hook),
    );
    assert!(r.result.as_ref().unwrap().is_err());
    // ota_0 is half written and fails its checksum; the bootloader starts ota_1 instead.
    assert_eq!(l.device.power_on(), Some("ota_1".into()));
}

#[test]
fn a_chip_not_in_download_mode_is_named_as_such() {
    let mut l = link();
    l.inject(LineFault::StallAfter(0));
    let r = go(
        &mut EspRomSession::start(Duration::ZERO, EspRomConfig::new(Job::Info)),
        &mut l,
    );
    let e = r.error();
    assert_eq!(e.step, Step::Connect);
    assert!(e.to_string().contains("is it in download mode?"), "{e}");
    // Nothing answered: the report claims nothing about what the chip runs.
    assert!(
        e.to_string()
            .contains("it did not answer, so what it runs now is not known"),
        "{e}"
    );
    assert!(count(&l, op::SYNC) == 0);
    assert!(r.elapsed >= Duration::from_secs(3));
}
