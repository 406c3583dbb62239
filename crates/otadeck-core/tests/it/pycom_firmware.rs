//! The Pycom firmware driver against the simulated board: success over each REPL flavour, the
//! verify-before-select order, and faults. The board must keep booting a valid image throughout.

use crate::support;

use std::time::Duration;

use otadeck_core::driver::pycom::{PycomFirmware, PycomSession};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::session::{FlashErrorKind, Machine, Step};
use otadeck_sim::firmware::{
    demo_running_image, sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{LineFault, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::pycom::{device, Pycom, PycomConfig};
use support::{check_report, Recorder};

type Link = SimLink<ReplDevice<Pycom>>;
type Session = Recorder<PycomSession>;

const LIMIT: Duration = Duration::from_secs(600);
const KEEP_OLD: &str = "still runs its previous firmware";

fn board(config: PycomConfig, paste: RawPasteSupport) -> Link {
    SimLink::new(device(config, demo_running_image(), paste), 115_200)
}

fn go(
    link: &mut Link,
    image: Option<Vec<u8>>,
    hook: Option<Hook<'_, Session, ReplDevice<Pycom>>>,
) -> (Run, Session) {
    let start = link.now() + Duration::from_secs(1);
    let mut s = Recorder::new(PycomFirmware::start(start, image, FlowConfig::default()));
    let r = run(&mut s, link, start, LIMIT, hook);
    (r, s)
}

fn boots_old_after_power_cycle(link: &mut Link) {
    link.device.interpreter.flash.reset();
    assert_eq!(
        link.device.interpreter.flash.running_version(),
        DEMO_RUNNING_VERSION
    );
}

#[test]
fn flashes_over_every_repl_flavour_verifying_before_selecting() {
    for paste in [
        RawPasteSupport::Window(128),
        RawPasteSupport::Refuses,
        RawPasteSupport::Absent,
    ] {
        let image = sample_image();
        let mut link = board(PycomConfig::default(), paste);
        let (r, _) = go(&mut link, Some(image.clone()), None);
        r.restarted_into(&image, SAMPLE_VERSION);
        let board = &link.device.interpreter;
        assert_eq!(board.flash.running_image(), image.as_slice());
        let calls: Vec<&str> = board
            .calls
            .iter()
            .map(String::as_str)
            .filter(|c| !c.starts_with("ota_write"))
            .collect();
        assert_eq!(
            calls,
            ["ota_start()", "ota_verify()", "ota_finish()"],
            "{paste:?}"
        );
        // Without deflate on this firmware, the image travels in 4 KiB writes.
        assert!(board.calls.contains(&"ota_write(4096)".to_string()));
        // The slot's address, which `pycom.ota_slot()` gives in decimal, is logged in hex.
        let at = format!("into the slot at {:#x};", 0x10000 + board.flash.slot_size);
        assert!(r.logged(&at), "{:?}", r.logs());
    }
}

#[test]
fn identify_only_changes_nothing() {
    let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, None, None);
    let info = r.outcome().module.clone().unwrap();
    assert_eq!(info.model, "FiPy");
    assert_eq!(info.firmware_version, DEMO_RUNNING_VERSION);
    assert!(link.device.interpreter.calls.is_empty());
}

#[test]
fn a_damaged_image_fails_verify_and_is_never_selected() {
    let mut image = sample_image();
    let n = image.len();
    image[n / 3] ^= 0x10;
    let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, Some(image), None);
    let e = r.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::Rejected {
            call: "pycom.ota_verify",
            returned: "False".into()
        }
    );
    check_report(&r, e, KEEP_OLD);
    assert!(!link
        .device
        .interpreter
        .calls
        .contains(&"ota_finish()".to_string()));
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_raising_write_names_the_step_and_offset() {
    let config = PycomConfig {
        fail_write_at: Some(5),
        ..PycomConfig::default()
    };
    let mut link = board(config, RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, Some(sample_image()), None);
    let e = r.error();
    assert_eq!(e.step, Step::Write);
    // Writes 0 to 4 went through; the sixth starts at byte 5 × 4096.
    assert_eq!(e.offset, Some(5 * 4096), "{e}");
    assert!(e.to_string().contains("OSError: operation failed"), "{e}");
    check_report(&r, e, KEEP_OLD);
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn a_pulled_cable_a_stall_a_garbled_byte_and_cancel_leave_the_old_firmware() {
    let mut clean = board(PycomConfig::default(), RawPasteSupport::Window(128));
    go(&mut clean, Some(sample_image()), None).0.outcome();
    let total = clean.delivered();
    for percent in [10, 50, 99] {
        let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
        link.inject(LineFault::DropAfter(total * percent / 100));
        let mut hook = |now: Duration, s: &mut Session, l: &mut Link| {
            if l.is_dead() && !s.is_finished() {
                s.link_lost(now);
            }
        };
        let (r, _) = go(&mut link, Some(sample_image()), Some(&mut hook));
        let e = r.error();
        assert_eq!(e.kind, FlashErrorKind::LinkLost, "{percent}%: {e}");
        link.device.interpreter.flash.reset();
        let v = link.device.interpreter.flash.running_version();
        if percent < 99 {
            check_report(&r, e, KEEP_OLD);
            assert_eq!(v, DEMO_RUNNING_VERSION);
        } else {
            assert!(v == DEMO_RUNNING_VERSION || v == SAMPLE_VERSION, "{v}");
        }
    }
    let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
    link.inject(LineFault::StallAfter(total / 2));
    let (r, _) = go(&mut link, Some(sample_image()), None);
    assert!(matches!(r.error().kind, FlashErrorKind::NoResponse { .. }));
    check_report(&r, r.error(), KEEP_OLD);
    boots_old_after_power_cycle(&mut link);

    let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
    link.inject(LineFault::Corrupt {
        index: total / 2,
        xor: 0x04,
    });
    let (r, _) = go(&mut link, Some(sample_image()), None);
    check_report(&r, r.error(), KEEP_OLD);
    boots_old_after_power_cycle(&mut link);

    let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
    let mut hook = |now: Duration, s: &mut Session, _: &mut Link| {
        if s.done > 30_000 && !s.is_finished() {
            s.cancel(now);
        }
    };
    let (r, s) = go(&mut link, Some(sample_image()), Some(&mut hook));
    assert_eq!(r.error().kind, FlashErrorKind::Cancelled);
    check_report(&r, r.error(), KEEP_OLD);
    assert!(s.sent.ends_with(&[0x03, 0x03, 0x02]));
    boots_old_after_power_cycle(&mut link);
}

#[test]
fn refuses_a_file_that_is_not_firmware() {
    let mut link = board(PycomConfig::default(), RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, Some(b"print('hello')\n".to_vec()), None);
    let e = r.error();
    assert_eq!(e.step, Step::Prepare);
    assert!(e.to_string().contains("not a Pycom firmware image"), "{e}");
    assert!(link.device.interpreter.calls.is_empty());
}

/// Execs the board ran for a clean flash of the sample image with `heap_free` bytes of heap,
/// and the `ota_write` calls among them.
fn execs_with_heap(heap_free: usize) -> (u64, usize) {
    let config = PycomConfig {
        heap_free,
        ..PycomConfig::default()
    };
    let mut link = board(config, RawPasteSupport::Window(128));
    let (r, _) = go(&mut link, Some(sample_image()), None);
    assert_eq!(r.outcome().bytes, sample_image().len() as u64);
    let calls = &link.device.interpreter.calls;
    let writes = calls.iter().filter(|c| c.starts_with("ota_write")).count();
    (link.device.execs, writes)
}

#[test]
fn write_execs_grow_with_the_heap_the_board_reports() {
    let chunks = sample_image().len().div_ceil(4096);
    // A board without PSRAM and little free heap: about one chunk per exec.
    let (small, small_writes) = execs_with_heap(14_000);
    // A board whose heap is in PSRAM: several chunks per exec.
    let (usual, usual_writes) = execs_with_heap(PycomConfig::default().heap_free);
    assert_eq!((small_writes, usual_writes), (chunks, chunks));
    assert!(
        small >= chunks as u64 * 3 / 4,
        "{small} execs for {chunks} chunks"
    );
    assert!(
        small - usual >= chunks as u64 / 2,
        "{usual} vs {small} execs"
    );
}
