//! The ESP32 MicroPython driver against the simulated board: every encoding and REPL flavour,
//! accept and rollback, and faults. Whatever happens, the board must keep booting a valid image.

use crate::support;

use std::time::Duration;

use otadeck_core::driver::esp32_micropython::{Esp32MicroPython, Esp32Session, Job, BLOCK};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::partition_state::SlotState;
use otadeck_core::session::{FlashErrorKind, Machine, Step};
use otadeck_sim::esp32_mp::{device, Esp32Config, Esp32MicroPython as Board};
use otadeck_sim::firmware::{
    demo_image, demo_running_image, sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{LineFault, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use support::{check_report, Recorder};

type Link = SimLink<ReplDevice<Board>>;
type Session = Recorder<Esp32Session>;

const LIMIT: Duration = Duration::from_secs(600);
const KEEP_OLD: &str = "still runs its previous firmware";

fn board(config: Esp32Config, paste: RawPasteSupport) -> Link {
    SimLink::new(device(config, demo_running_image(), paste), 115_200)
}

fn session(start: Duration, job: Job) -> Session {
    Recorder::new(Esp32MicroPython::start(start, job, FlowConfig::default()))
}

fn flash_job(image: &[u8], accept: bool) -> Job {
    Job::Flash {
        image: image.to_vec(),
        accept,
    }
}

/// Run a session from the link's present time (sessions follow one another on one board).
fn go(
    link: &mut Link,
    job: Job,
    hook: Option<Hook<'_, Session, ReplDevice<Board>>>,
) -> (Run, Session) {
    let start = link.now() + Duration::from_secs(1);
    let mut s = session(start, job);
    let r = run(&mut s, link, start, LIMIT, hook);
    (r, s)
}

fn flash_ok(config: Esp32Config, paste: RawPasteSupport) -> (Run, Link) {
    let image = sample_image();
    let mut link = board(config, paste);
    let (r, _) = go(&mut link, flash_job(&image, true), None);
    r.restarted_into(&image, SAMPLE_VERSION);
    let flash = &link.device.interpreter.flash;
    assert_eq!(flash.running(), 1);
    assert_eq!(&flash.running_image()[..image.len()], image.as_slice());
    // Padding up to the block boundary is erased flash.
    assert!(flash.running_image()[image.len()..]
        .iter()
        .all(|&b| b == 0xFF));
    assert_eq!(
        flash.running_image().len(),
        image.len().div_ceil(BLOCK) * BLOCK
    );
    let state = r.partitions().cloned().unwrap();
    assert_eq!(state.running, "ota_1");
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Valid));
    assert_eq!(
        state.slot("ota_0").unwrap().build.as_ref().unwrap().version,
        DEMO_RUNNING_VERSION
    );
    (r, link)
}

#[test]
fn flashes_with_deflate_over_raw_paste_and_accepts() {
    let (r, _) = flash_ok(Esp32Config::default(), RawPasteSupport::Window(128));
    // Compressible blocks go deflated, the code-like ones as bytes literals.
    assert!(r.logged(
                "in the shortest of: deflate-compressed and base64-encoded; base64-encoded; as bytes literals"
    ));
    assert!(r.logged(" deflate-compressed and base64-encoded, "));
    assert!(r.logged(" as bytes literals); reading them back"));
    assert!(r.logged("Read-back SHA-256 matches"));
}

#[test]
fn falls_back_to_base64_then_hex_when_modules_are_missing() {
    let no_deflate = Esp32Config {
        has_deflate: false,
        ..Esp32Config::default()
    };
    let (r, _) = flash_ok(no_deflate, RawPasteSupport::Window(128));
    assert!(r.logged("in the shortest of: base64-encoded; as bytes literals"));
    // No block of this image is shorter in base64 than as a literal.
    assert!(r.logged("(chunks sent: 25 as bytes literals)"));
    // Every ESP32 port has binascii; a firmware without it cannot even be read, and says so.
    let bare = Esp32Config {
        has_deflate: false,
        has_binascii: false,
        ..Esp32Config::default()
    };
    let image = demo_image("2.1.0", 12_000);
    let mut link = board(bare, RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(&image, true), None);
    let e = r.error();
    assert_eq!(e.step, Step::Identify);
    assert!(e.to_string().contains("ImportError"), "{e}");
    check_report(&r, e, KEEP_OLD);
}

#[test]
fn flashes_through_paced_raw_mode_on_old_firmware() {
    flash_ok(Esp32Config::default(), RawPasteSupport::Refuses);
    flash_ok(Esp32Config::default(), RawPasteSupport::Absent);
}

#[test]
fn without_accept_the_new_firmware_is_on_trial_and_a_reset_reverts_it() {
    let image = sample_image();
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(&image, false), None);
    r.outcome();
    assert!(r.logged("runs on trial"));
    let state = r.partitions().cloned().unwrap();
    assert!(state.awaits_decision());
    // A second flash is refused while the first one is on trial.
    let (r2, _) = go(&mut link, flash_job(&image, true), None);
    assert!(matches!(
        r2.error().kind,
        FlashErrorKind::ModuleState { .. }
    ));
    assert!(r2.error().advice().starts_with("Accept or roll back"));
    // Rolling back (a reset without accepting) returns to the old firmware.
    let (r3, _) = go(&mut link, Job::Rollback, None);
    r3.outcome();
    let flash = &link.device.interpreter.flash;
    assert_eq!(flash.running_version(), DEMO_RUNNING_VERSION);
    let state = r3.partitions().cloned().unwrap();
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Aborted));
}

#[test]
fn accept_then_rollback_by_hand() {
    let image = sample_image();
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    go(&mut link, flash_job(&image, false), None).0.outcome();
    let (r, _) = go(&mut link, Job::Accept, None);
    r.outcome();
    assert_eq!(
        r.partitions()
            .cloned()
            .unwrap()
            .slot("ota_1")
            .unwrap()
            .state,
        Some(SlotState::Valid)
    );
    let (r, _) = go(&mut link, Job::Rollback, None);
    r.outcome();
    let state = r.partitions().cloned().unwrap();
    assert_eq!(state.running, "ota_0");
    assert_eq!(
        link.device.interpreter.flash.running_version(),
        DEMO_RUNNING_VERSION
    );
}

#[test]
fn inspect_reads_slots_without_changing_anything() {
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    let (r, s) = go(&mut link, Job::Inspect, None);
    r.outcome();
    let state = r.partitions().cloned().unwrap();
    assert_eq!(
        state.lines(),
        [
            "ota_0 (running, next boot): valid, otadeck-demo 2.0.3",
            "ota_1: state unknown, empty"
        ]
    );
    assert_eq!(link.device.interpreter.blocks_written, 0);
    assert!(!s.steps.contains(&Step::Write));
    // Without an otadata partition the states are unknown, not guessed.
    let mut link = board(
        Esp32Config {
            has_otadata: false,
            ..Esp32Config::default()
        },
        RawPasteSupport::Window(128),
    );
    let (r, _) = go(&mut link, Job::Inspect, None);
    r.outcome();
    assert_eq!(
        r.partitions()
            .cloned()
            .unwrap()
            .running_slot()
            .unwrap()
            .state,
        None
    );
}

#[test]
fn refuses_images_that_are_not_esp_apps_or_too_large() {
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(b"hello, not firmware", true), None);
    let e = r.error();
    assert!(
        e.to_string().contains("not an ESP32 application image"),
        "{e}"
    );
    check_report(&r, e, KEEP_OLD);
    let small = Esp32Config {
        slot_size: 64 * 1024,
        ..Esp32Config::default()
    };
    let mut link = board(small, RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    assert!(r
        .error()
        .to_string()
        .contains("larger than the update slot ota_1"));
    assert_eq!(link.device.interpreter.blocks_written, 0);
}

/// After a failure the board is power-cycled (what a technician does): it must run a valid image.
fn boots_old_after_power_cycle(link: &mut Link) {
    link.device.interpreter.flash.reset();
    assert_eq!(
        link.device.interpreter.flash.running_version(),
        DEMO_RUNNING_VERSION
    );
}

fn clean_wire_bytes() -> u64 {
    let image = sample_image();
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    go(&mut link, flash_job(&image, true), None).0.outcome();
    link.delivered()
}

#[test]
fn a_pulled_cable_at_10_50_and_99_percent_leaves_the_old_firmware() {
    let total = clean_wire_bytes();
    for percent in [10, 50, 99] {
        let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
        link.inject(LineFault::DropAfter(total * percent / 100));
        let mut hook = |now: Duration, s: &mut Session, l: &mut Link| {
            if l.is_dead() && !s.is_finished() {
                s.link_lost(now);
            }
        };
        let (r, _) = go(&mut link, flash_job(&sample_image(), true), Some(&mut hook));
        let e = r.error();
        assert_eq!(e.kind, FlashErrorKind::LinkLost, "{percent}%: {e}");
        eprintln!("{percent}%: {e}");
        if percent < 99 {
            check_report(&r, e, KEEP_OLD);
            boots_old_after_power_cycle(&mut link);
        } else {
            // At 99 % the image may already be selected: whatever it runs after a power cycle
            // is a valid image, and the report says which case applies.
            link.device.interpreter.flash.reset();
            let v = link.device.interpreter.flash.running_version();
            assert!(v == DEMO_RUNNING_VERSION || v == SAMPLE_VERSION, "{v}");
        }
    }
}

#[test]
fn a_stalled_board_and_a_garbled_byte_give_clear_errors() {
    let total = clean_wire_bytes();
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    link.inject(LineFault::StallAfter(total / 3));
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }), "{e}");
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);

    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    link.inject(LineFault::Corrupt {
        index: total / 2,
        xor: 0x01,
    });
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    let e = r.error();
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_board_that_restarts_mid_write_is_said_to_have_restarted_not_garbled() {
    let total = clean_wire_bytes();
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    let mut cut = false;
    let mut hook = |now: Duration, _: &mut Session, l: &mut Link| {
        if !cut && l.delivered() >= total / 2 {
            cut = true;
            l.device.power_cycle(now);
            l.replug(now);
        }
    };
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), Some(&mut hook));
    let e = r.error();
    let text = e.to_string();
    assert!(text.contains("the module restarted by itself"), "{text}");
    assert!(!text.contains("garbled"), "{text}");
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_flash_that_stores_a_wrong_byte_is_caught_by_the_read_back() {
    let config = Esp32Config {
        corrupt_block: Some(7),
        ..Esp32Config::default()
    };
    let mut link = board(config, RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::Mismatch(_)), "{e}");
    assert_eq!(e.step, Step::Verify);
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_damaged_image_is_refused_by_the_board_and_never_selected() {
    let mut image = sample_image();
    let n = image.len();
    image[n / 2] ^= 0xFF;
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(&image, true), None);
    let e = r.error();
    assert!(e.to_string().contains("ESP_ERR_OTA_VALIDATE_FAILED"), "{e}");
    assert_eq!(e.step, Step::Verify);
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn cancel_mid_write_stops_and_releases_the_board() {
    let mut link = board(Esp32Config::default(), RawPasteSupport::Window(128));
    let mut hook = |now: Duration, s: &mut Session, _: &mut Link| {
        if s.done > 40_000 && !s.is_finished() {
            s.cancel(now);
        }
    };
    let (r, s) = go(&mut link, flash_job(&sample_image(), true), Some(&mut hook));
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::Cancelled);
    assert_eq!(e.step, Step::Write);
    check_report(&r, e, KEEP_OLD);
    assert!(s.sent.ends_with(&[0x03, 0x03, 0x02]));
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_traceback_mid_exec_reports_the_blocks_the_board_confirmed() {
    let blocks = sample_image().len().div_ceil(BLOCK);
    for fail in [1, 5, blocks / 2, blocks - 1] {
        let config = Esp32Config {
            fail_block: Some(fail),
            ..Esp32Config::default()
        };
        let mut link = board(config, RawPasteSupport::Window(128));
        let (r, s) = go(&mut link, flash_job(&sample_image(), true), None);
        let e = r.error();
        assert_eq!(e.step, Step::Write, "{e}");
        assert!(e.to_string().contains("OSError: [Errno 5] EIO"), "{e}");
        // Several blocks go in one exec; the offset is what the board printed before it raised.
        assert_eq!(link.device.interpreter.blocks_written, fail);
        assert_eq!(e.offset, Some((fail * BLOCK) as u64), "block {fail}: {e}");
        assert_eq!(s.done, (fail * BLOCK) as u64);
        check_report(&r, e, KEEP_OLD);
        boots_old_after_power_cycle(&mut link);
    }
}

/// Execs the board ran for a clean flash of the sample image with `heap_free` bytes of heap.
fn execs_with_heap(heap_free: usize) -> u64 {
    let config = Esp32Config {
        heap_free,
        ..Esp32Config::default()
    };
    let mut link = board(config, RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    assert_eq!(r.outcome().bytes, sample_image().len() as u64);
    link.device.execs
}

#[test]
fn write_execs_grow_with_the_heap_the_board_reports() {
    let blocks = sample_image().len().div_ceil(BLOCK) as u64;
    // 14 kB of heap: about one block per exec (twice the longest block's source fits, 6.5 kB).
    let small = execs_with_heap(14_000);
    // A generic ESP32's heap: several blocks per exec, never more source than a quarter of it.
    let usual = execs_with_heap(Esp32Config::default().heap_free);
    assert!(small >= blocks * 3 / 4, "{small} execs for {blocks} blocks");
    assert!(small - usual >= blocks / 2, "{usual} vs {small} execs");
}

#[test]
fn the_board_refuses_an_exec_larger_than_half_its_heap() {
    let mut b = Board::new(
        Esp32Config {
            heap_free: 10_000,
            ..Esp32Config::default()
        },
        demo_running_image(),
    );
    use otadeck_sim::mp_repl::Interpreter;
    let big = format!("x=b'{}'\nprint(1)", "a".repeat(5_000));
    assert!(b.exec(&big).stderr.contains("MemoryError"));
    assert_eq!(b.exec("print(1)").stdout.trim(), "1");
}
