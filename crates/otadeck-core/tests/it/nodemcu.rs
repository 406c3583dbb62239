//! The NodeMCU driver against the simulated board: flash, accept, rollback, refusals and faults.
//! Whatever happens, the board must keep booting a valid image.

use crate::support;

use std::time::Duration;

use otadeck_core::driver::nodemcu::lines::chunk_line;
use otadeck_core::driver::nodemcu::{Job, NodeMcuConfig, NodeMcuSession, CHUNK};
use otadeck_core::partition_state::SlotState;
use otadeck_core::session::{FlashErrorKind, Machine, Step};
use otadeck_sim::firmware::{demo_image, sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION};
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{Device, LineFault, SimLink};
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig as BoardConfig};
use support::{check_report, Recorder};

type Link = SimLink<NodeMcu>;
type Session = Recorder<NodeMcuSession>;

const LIMIT: Duration = Duration::from_secs(900);
const KEEP_OLD: &str = "still runs its previous firmware";

fn board(config: BoardConfig) -> Link {
    let fw = otadeck_sim::firmware::demo_running_image();
    SimLink::new(NodeMcu::new(config, fw), 115_200)
}

fn flash_job(image: &[u8], accept: bool) -> Job {
    Job::Flash {
        image: image.to_vec(),
        accept,
    }
}

fn go(link: &mut Link, job: Job, hook: Option<Hook<'_, Session, NodeMcu>>) -> (Run, Session) {
    go_with(link, job, NodeMcuConfig::default(), hook)
}

fn go_with(
    link: &mut Link,
    job: Job,
    config: NodeMcuConfig,
    hook: Option<Hook<'_, Session, NodeMcu>>,
) -> (Run, Session) {
    let start = link.now() + Duration::from_secs(1);
    let mut s = Recorder::new(NodeMcuSession::start(start, job, config));
    let r = run(&mut s, link, start, LIMIT, hook);
    (r, s)
}

/// After a failure the board is power-cycled (what a technician does): it must run a valid image.
fn boots_old_after_power_cycle(link: &mut Link) {
    let now = link.now();
    link.device.power_cycle(now);
    assert_eq!(link.device.flash.running_version(), DEMO_RUNNING_VERSION);
    assert!(otadeck_sim::esp_ota::validates(
        link.device.flash.running_image()
    ));
}

#[test]
fn flashes_in_base64_lines_and_accepts() {
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    let (r, s) = go(&mut link, flash_job(&image, true), None);
    r.restarted_into(&image, SAMPLE_VERSION);
    let flash = &link.device.flash;
    assert_eq!(flash.running(), 1);
    assert_eq!(flash.running_image(), image.as_slice());
    assert_eq!(link.device.writes, image.len().div_ceil(CHUNK));
    assert_eq!(link.device.discarded_lines, 0);
    assert_eq!(link.device.rx_overflow, 0);
    // Every line sent fits the console.
    for line in s.sent.split(|&b| b == b'\n') {
        assert!(line.len() <= 250, "{} bytes", line.len());
    }
    let state = r.partitions().cloned().unwrap();
    assert_eq!(state.running, "ota_1");
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Valid));
    let old = state.slot("ota_0").unwrap();
    assert_eq!(old.build.as_ref().unwrap().version, DEMO_RUNNING_VERSION);
    assert_eq!(
        s.steps,
        [
            Step::Connect,
            Step::Identify,
            Step::Prepare,
            Step::Write,
            Step::Verify,
            Step::Restart,
            Step::Confirm
        ]
    );
    assert!(r.logged("The running firmware is accepted"));
    // It stays after another power cycle.
    let now = link.now();
    link.device.power_cycle(now);
    assert_eq!(link.device.flash.running_version(), SAMPLE_VERSION);
}

#[test]
fn without_accept_the_next_reset_reverts() {
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    let (r, _) = go(&mut link, flash_job(&image, false), None);
    r.outcome();
    assert!(r.logged("runs on trial"));
    assert!(r.partitions().cloned().unwrap().awaits_decision());
    // A second flash is refused while the first is on trial, before anything is written.
    let writes = link.device.writes;
    let (r2, _) = go(&mut link, flash_job(&image, true), None);
    let e = r2.error();
    assert!(matches!(e.kind, FlashErrorKind::ModuleState { .. }), "{e}");
    assert_eq!(link.device.writes, writes);
    let now = link.now();
    link.device.power_cycle(now);
    assert_eq!(link.device.flash.running_version(), DEMO_RUNNING_VERSION);
    let (r3, _) = go(&mut link, Job::Inspect, None);
    let state = r3.partitions().cloned().unwrap();
    assert_eq!(state.running, "ota_0");
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Aborted));
}

#[test]
fn info_only_changes_nothing() {
    let mut link = board(BoardConfig::default());
    let before = link.device.flash.otadata();
    let (r, s) = go(&mut link, Job::Inspect, None);
    let outcome = r.outcome();
    assert!(!outcome.restarted);
    assert_eq!(
        outcome.module.as_ref().unwrap().runtime,
        "NodeMCU (Lua 5.3)"
    );
    assert_eq!(
        r.partitions().cloned().unwrap().lines(),
        [
            "ota_0 (running, next boot): valid, otadeck-demo 2.0.3",
            "ota_1: state unknown, empty"
        ]
    );
    assert_eq!(link.device.flash.otadata(), before);
    assert_eq!(link.device.writes, 0);
    assert_eq!(link.device.flash.boots, 0);
    assert!(!s.steps.contains(&Step::Write));
    // A slot whose state cannot be read is unknown, not guessed.
    let mut link = board(BoardConfig {
        unreadable_slot: Some(0),
        ..BoardConfig::default()
    });
    let (r, _) = go(&mut link, Job::Inspect, None);
    let slot = r
        .partitions()
        .cloned()
        .unwrap()
        .slot("ota_0")
        .cloned()
        .unwrap();
    assert_eq!((slot.state, slot.build), (None, None));
}

#[test]
fn accept_and_rollback_by_hand() {
    let mut link = board(BoardConfig::default());
    go(&mut link, flash_job(&sample_image(), false), None)
        .0
        .outcome();
    let (r, _) = go(&mut link, Job::Accept, None);
    r.outcome();
    let state = r.partitions().cloned().unwrap();
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Valid));
    let (r, _) = go(&mut link, Job::Rollback, None);
    assert!(r.outcome().restarted);
    let state = r.partitions().cloned().unwrap();
    assert_eq!(state.running, "ota_0");
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Invalid));
    assert_eq!(link.device.flash.running_version(), DEMO_RUNNING_VERSION);
    // Nothing left to roll back to: refused before the module is asked.
    let (r, _) = go(&mut link, Job::Rollback, None);
    let e = r.error();
    assert!(e.to_string().contains("no bootable firmware"), "{e}");
    check_report(&r, e, "was not changed");
}

#[test]
fn refuses_images_that_are_not_esp_apps_or_too_large() {
    let mut link = board(BoardConfig::default());
    let (r, _) = go(&mut link, flash_job(b"hello, not firmware", true), None);
    let e = r.error();
    assert_eq!(e.step, Step::Prepare);
    assert!(
        e.to_string().contains("not a valid ESP32 application"),
        "{e}"
    );
    check_report(&r, e, KEEP_OLD);
    let small = NodeMcuConfig {
        slot_size: 64 * 1024,
        ..NodeMcuConfig::default()
    };
    let (r, _) = go_with(&mut link, flash_job(&sample_image(), true), small, None);
    let e = r.error();
    assert!(
        e.to_string().contains("larger than the update slot ota_1"),
        "{e}"
    );
    check_report(&r, e, KEEP_OLD);
    assert_eq!(link.device.writes, 0);
    assert_eq!(link.device.flash.update_data(), None, "commence never ran");
}

fn clean_wire_bytes() -> u64 {
    let mut link = board(BoardConfig::default());
    go(&mut link, flash_job(&sample_image(), true), None)
        .0
        .outcome();
    link.delivered()
}

/// Host bytes up to the end of the write lines (the `complete` line comes after).
fn write_wire_bytes() -> u64 {
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    let (_, s) = go(&mut link, flash_job(&image, true), None);
    let end = s
        .sent
        .windows(22)
        .position(|w| w == b"otaupgrade.complete(0)")
        .unwrap();
    end as u64
}

#[test]
fn a_pulled_cable_at_10_50_and_99_percent_leaves_the_old_firmware() {
    let total = write_wire_bytes();
    for percent in [10, 50, 99] {
        let mut link = board(BoardConfig::default());
        link.inject(LineFault::DropAfter(total * percent / 100));
        let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
        let e = r.error();
        assert_eq!(e.kind, FlashErrorKind::LinkLost, "{percent}%: {e}");
        assert_eq!(e.step, Step::Write, "{percent}%: {e}");
        let offset = e.offset.unwrap();
        let expected = (sample_image().len() as u64) * percent / 100;
        assert!(
            offset.abs_diff(expected) < 4 * CHUNK as u64,
            "{percent}%: {e}"
        );
        check_report(&r, e, KEEP_OLD);
        link.replug(link.now());
        boots_old_after_power_cycle(&mut link);
    }
}

#[test]
fn a_corrupted_byte_on_the_wire_is_caught_by_the_echo() {
    let total = clean_wire_bytes();
    let mut link = board(BoardConfig::default());
    link.inject(LineFault::Corrupt {
        index: total / 2,
        xor: 0x01,
    });
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::Protocol(_)), "{e}");
    assert!(e.to_string().contains("garbled on the wire"), "{e}");
    assert_eq!(e.step, Step::Write);
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_stalled_module_is_reported_and_keeps_its_firmware() {
    let total = write_wire_bytes();
    let mut link = board(BoardConfig::default());
    link.inject(LineFault::StallAfter(total / 3));
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }), "{e}");
    assert_eq!(e.step, Step::Write);
    check_report(&r, e, KEEP_OLD);
    link.replug(link.now());
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_lua_error_mid_write_names_the_call_and_offset() {
    let image = sample_image();
    let mut link = board(BoardConfig {
        fail_write: Some(200),
        ..BoardConfig::default()
    });
    let (r, s) = go(&mut link, flash_job(&image, true), None);
    let e = r.error();
    assert_eq!(e.step, Step::Write);
    // The offset names the last chunk acknowledged, not the line queued behind the failing one.
    assert_eq!(e.offset, Some(200 * CHUNK as u64));
    assert!(
        e.to_string()
            .contains("Lua error: ota error (in otaupgrade.write)"),
        "{e}"
    );
    // Line 201 was already in the module's buffer: it ran, and the error says so.
    check_report(
        &r,
        e,
        "ran after the failure and wrote one more chunk past the gap",
    );
    assert!(r.logged("The write line sent before the failure ran and wrote"));
    assert_eq!(link.device.writes, 202);
    // Nothing was sent after the line queued behind the failing one.
    let queued = format!("{}\n", chunk_line(&image, 201 * CHUNK).0);
    assert!(s.sent.ends_with(queued.as_bytes()));
    assert!(!contains(&s.sent, b"otaupgrade.complete"));
    boots_old_after_power_cycle(&mut link);
    // The module hangs while the queued line arrives: what that line did is unknown, and the
    // error says so, still naming the failing call and offset.
    let stall_at = s.sent.len() - queued.len() + 100;
    let mut link = board(BoardConfig {
        fail_write: Some(200),
        ..BoardConfig::default()
    });
    link.inject(LineFault::StallAfter(stall_at as u64));
    let (r, _) = go(&mut link, flash_job(&image, true), None);
    let e = r.error();
    assert_eq!(e.offset, Some(200 * CHUNK as u64));
    assert!(e.to_string().contains("(in otaupgrade.write)"), "{e}");
    check_report(&r, e, "may have written one more chunk after the failure");
    assert!(r.logged("got no clear result"));
    link.replug(link.now());
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_lua_error_on_the_last_line_has_nothing_queued_behind_it() {
    let image = sample_image();
    let last = image.len().div_ceil(CHUNK) - 1;
    let mut link = board(BoardConfig {
        fail_write: Some(last),
        ..BoardConfig::default()
    });
    let (r, s) = go(&mut link, flash_job(&image, true), None);
    let e = r.error();
    assert_eq!(e.offset, Some((last * CHUNK) as u64));
    check_report(&r, e, KEEP_OLD);
    assert!(!e.to_string().contains("next write line"), "{e}");
    assert_eq!(link.device.writes, last + 1);
    let line = format!("{}\n", chunk_line(&image, last * CHUNK).0);
    assert!(s.sent.ends_with(line.as_bytes()));
    boots_old_after_power_cycle(&mut link);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn write_lines_go_one_ahead_and_never_overflow_the_rx_buffer() {
    let image = sample_image();
    let line = chunk_line(&image, 0).0.len() + 1;
    for baud in [115_200, 921_600] {
        // 1 ms write calls, and calls slower than a line on the wire (a sector erase, a GC).
        for write_ms in [1, 30] {
            let config = BoardConfig {
                write_time: Duration::from_millis(write_ms),
                console_baud: baud,
                ..BoardConfig::default()
            };
            let fw = otadeck_sim::firmware::demo_running_image();
            let mut link = SimLink::new(NodeMcu::new(config, fw), baud);
            let at = format!("{baud} baud, {write_ms} ms writes");
            // The hook runs between sends: a line just sent ends `sent`. The first write line and
            // complete go to an idle board; write lines go while the one before runs.
            let (mut seen, mut first, mut ahead) = (0, true, 0);
            let mut hook = |_: Duration, s: &mut Session, link: &mut Link| {
                if s.sent.len() == seen {
                    return;
                }
                seen = s.sent.len();
                let busy = link.device.next_wakeup().is_some();
                if s.sent.ends_with(b"\")\n") {
                    assert!(
                        !(first && busy),
                        "{at}: the first write line went during commence"
                    );
                    first = false;
                    ahead += usize::from(busy);
                }
                if s.sent.ends_with(b"otaupgrade.complete(0)\n") {
                    assert!(!busy, "{at}: complete went while a write line ran");
                }
            };
            let (r, _) = go(&mut link, flash_job(&image, true), Some(&mut hook));
            assert_eq!(r.outcome().bytes, image.len() as u64);
            let board = &link.device;
            assert_eq!(board.rx_overflow, 0, "{at}");
            assert_eq!(board.discarded_lines, 0, "{at}");
            assert_eq!(board.flash.running_image(), image.as_slice(), "{at}");
            assert!(
                board.rx_peak <= line,
                "{at}: {} bytes waited",
                board.rx_peak
            );
            if write_ms == 30 {
                assert!(ahead > 100, "{at}: {ahead} lines sent ahead");
                // The next line waited whole in the buffer while one ran.
                assert_eq!(board.rx_peak, line, "{at}");
            }
        }
    }
}

#[test]
fn a_truncated_image_is_refused_before_anything_is_sent() {
    let mut link = board(BoardConfig::default());
    let image = demo_image("2.2.0", 20_000);
    let (r, _) = go(&mut link, flash_job(&image[..image.len() - 40], true), None);
    let e = r.error();
    assert_eq!(e.step, Step::Prepare, "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
    check_report(&r, e, KEEP_OLD);
    assert_eq!(link.device.writes, 0);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn cancel_mid_write_stops_at_a_line_boundary() {
    let mut link = board(BoardConfig::default());
    let mut at_cancel = None;
    let mut hook = |now: Duration, s: &mut Session, _: &mut Link| {
        if s.done > 40_000 && !s.is_finished() {
            at_cancel.get_or_insert(s.done);
            s.cancel(now);
        }
    };
    let (r, s) = go(&mut link, flash_job(&sample_image(), true), Some(&mut hook));
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::Cancelled);
    assert_eq!(e.step, Step::Write);
    let offset = e.offset.unwrap();
    assert_eq!(offset % CHUNK as u64, 0);
    // The line already sent when the cancel came ran, and counts.
    assert!(offset > at_cancel.unwrap(), "{e}");
    // The module holds exactly the lines acknowledged, and nothing more was sent.
    assert_eq!(link.device.writes as u64, offset / CHUNK as u64);
    assert!(s.sent.ends_with(b"\")\n"));
    check_report(&r, e, KEEP_OLD);
    assert!(link.device.flash.next_boot() == 0);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_pulled_cable_after_complete_says_the_new_slot_starts_next() {
    let mut link = board(BoardConfig::default());
    let (_, s) = go(&mut link, flash_job(&sample_image(), true), None);
    let at = s
        .sent
        .windows(14)
        .position(|w| w == b"node.restart()")
        .unwrap();
    let mut link = board(BoardConfig::default());
    link.inject(LineFault::DropAfter(at as u64 + 3));
    let (r, _) = go(&mut link, flash_job(&sample_image(), true), None);
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::LinkLost);
    assert_eq!(e.step, Step::Restart);
    check_report(&r, e, "starts the new firmware at its next restart");
    // It does: on trial, and a valid image.
    link.replug(link.now());
    let now = link.now();
    link.device.power_cycle(now);
    assert_eq!(link.device.flash.running_version(), SAMPLE_VERSION);
    assert!(link.device.flash.partition_state().awaits_decision());
}
