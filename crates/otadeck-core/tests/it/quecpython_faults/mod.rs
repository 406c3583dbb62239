//! The QuecPython `fota` driver against the simulated module, through the simulated line, with
//! every REPL flavour and with faults: a pulled cable, a hung module, a garbled byte, a raising
//! `write`, an image that does not fit, and the technician pressing Cancel. Whatever happens, the
//! module must keep booting its previous firmware unless the new one was verified.

mod cancel;
mod line;

use std::time::Duration;

use otadeck_core::driver::quecpython::{
    FotaOptions, QuecPythonSession, PLAIN_CHUNK, RAW_PASTE_CHUNK,
};
use otadeck_core::session::{
    group_digits, FlashError, FlashErrorKind, Machine, SessionEvent, Step,
};
use otadeck_sim::firmware::{
    quecpython_running_package, quecpython_sample_package, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{Device, LineFault, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};

type Link = SimLink<ReplDevice<QuecPython>>;

const LIMIT: Duration = Duration::from_secs(300);
const KEEP_OLD: &str = "still runs its previous firmware";

/// The session under test, with a record of every byte it sent and the progress it reported.
type Recorder = crate::support::Recorder<QuecPythonSession>;

fn module(config: QuecPythonConfig, paste: RawPasteSupport) -> Link {
    SimLink::new(device(config, quecpython_running_package(), paste), 115_200)
}

fn flash_session(image: Vec<u8>, options: FotaOptions) -> Recorder {
    Recorder::new(QuecPythonSession::flash(Duration::ZERO, image, options))
}

/// Flash `image` with default options over a fresh module, faults injected up front.
fn flash_with(
    config: QuecPythonConfig,
    paste: RawPasteSupport,
    image: &[u8],
    faults: &[LineFault],
    hook: Option<Hook<'_, Recorder, ReplDevice<QuecPython>>>,
) -> (Run, Recorder, Link) {
    let mut link = module(config, paste);
    for f in faults {
        link.inject(*f);
    }
    let mut s = flash_session(image.to_vec(), FotaOptions::default());
    let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, hook);
    (r, s, link)
}

/// A clean flash of the sample image: how many bytes the host puts on the wire.
fn clean_wire_bytes() -> (u64, Vec<u8>) {
    clean_wire_bytes_of(&quecpython_sample_package())
}

fn clean_wire_bytes_of(image: &[u8]) -> (u64, Vec<u8>) {
    let (r, s, link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        image,
        &[],
        None,
    );
    r.outcome();
    (link.delivered(), s.sent)
}

/// The sample image with its 8th write call's chunk made of Ctrl-A bytes: shorter in base64
/// than escaped in a bytes literal, so that chunk goes base64.
fn image_with_a_base64_chunk() -> Vec<u8> {
    otadeck_sim::firmware::package_with_region(
        &quecpython_sample_package(),
        7 * RAW_PASTE_CHUNK..8 * RAW_PASTE_CHUNK,
        &[0x01],
    )
}

/// Power-cycle the module (what a technician does after a failed flash) and say what it runs.
fn version_after_power_cycle(link: &mut Link) -> String {
    link.device.interpreter.flash.boot();
    link.device.interpreter.running_version()
}

/// The module answers at its friendly prompt: a typed line is echoed and run.
fn at_friendly_prompt(link: &mut Link, now: Duration) -> bool {
    let dev = &mut link.device;
    dev.tick(now);
    dev.transmit(now);
    dev.receive(now, b"print(41)\r");
    let out = dev.transmit(now);
    out == b"print(41)\r\n41\r\n>>> "
}

use crate::support::check_report;

/// The host's last words: stop what runs (Ctrl-C), then leave the raw REPL (Ctrl-B).
fn ends_with_release(sent: &[u8]) -> bool {
    sent.ends_with(&[0x03, 0x03, 0x02])
}

fn write_sizes(link: &Link) -> Vec<usize> {
    link.device
        .interpreter
        .calls
        .iter()
        .filter_map(|c| c.strip_prefix("write("))
        .map(|c| c.split(',').next().unwrap().parse().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Success with each REPL flavour
// ---------------------------------------------------------------------------------------------

fn flash_succeeds(paste: RawPasteSupport, slow_reader: bool) {
    let image = quecpython_sample_package();
    let mut link = module(QuecPythonConfig::default(), paste);
    if slow_reader {
        // Reads slower than the line brings bytes: only the window keeps the buffer from
        // overflowing.
        link.device.paste_byte_time = Duration::from_micros(150);
    }
    let mut s = flash_session(image.clone(), FotaOptions::default());
    let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, None);
    r.restarted_into(&image, SAMPLE_VERSION);

    let module = &link.device.interpreter;
    assert_eq!(module.flash.running_image(), &image[..], "{paste:?}");
    assert_eq!(module.running_version(), SAMPLE_VERSION);
    assert_eq!(module.flash.boots, 1, "one restart");
    assert_eq!(
        link.device.overflowed, 0,
        "{paste:?}: bytes beyond the window"
    );

    let expected_chunk = match paste {
        RawPasteSupport::Window(_) => RAW_PASTE_CHUNK,
        _ => PLAIN_CHUNK,
    };
    let sizes = write_sizes(&link);
    assert_eq!(sizes.iter().sum::<usize>(), image.len());
    assert!(sizes[..sizes.len() - 1]
        .iter()
        .all(|&n| n == expected_chunk));
    let calls = &link.device.interpreter.calls;
    assert_eq!(
        calls.first().map(String::as_str),
        Some("fota(reset_disable=0)")
    );
    assert_eq!(
        &calls[calls.len() - 3..],
        ["flush()", "verify()", "powerRestart()"]
    );

    // Progress climbs to the total, never backwards.
    let progress = r.progress();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(progress.last(), Some(&(image.len() as u64)));

    // The REPL mode matches the firmware.
    let paste_requests = s.sent.windows(3).filter(|w| w == b"\x05A\x01").count();
    match paste {
        RawPasteSupport::Window(_) => assert!(paste_requests > sizes.len()),
        _ => assert_eq!(
            paste_requests, 1,
            "the request is not repeated after a refusal"
        ),
    }
    assert_eq!(
        s.steps,
        [
            Step::Connect,
            Step::Identify,
            Step::Prepare,
            Step::Write,
            Step::Flush,
            Step::Verify,
            Step::Restart,
            Step::Confirm
        ]
    );
}

#[test]
fn flash_with_raw_paste_window_128() {
    flash_succeeds(RawPasteSupport::Window(128), false);
}

#[test]
fn flash_with_raw_paste_window_32() {
    flash_succeeds(RawPasteSupport::Window(32), false);
}

#[test]
fn flash_with_raw_paste_window_32_and_a_slow_reader() {
    flash_succeeds(RawPasteSupport::Window(32), true);
}

#[test]
fn flash_with_raw_paste_window_128_and_a_slow_reader() {
    flash_succeeds(RawPasteSupport::Window(128), true);
}

#[test]
fn flash_when_the_module_refuses_raw_paste() {
    flash_succeeds(RawPasteSupport::Refuses, false);
}

#[test]
fn flash_when_the_firmware_predates_raw_paste() {
    flash_succeeds(RawPasteSupport::Absent, false);
}

#[test]
fn without_restart_the_new_firmware_waits_for_the_next_boot() {
    let image = quecpython_sample_package();
    let mut link = module(QuecPythonConfig::default(), RawPasteSupport::Window(128));
    let mut s = flash_session(
        image.clone(),
        FotaOptions {
            restart: false,
            ..FotaOptions::default()
        },
    );
    let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, None);
    let outcome = r.outcome();
    assert!(!outcome.restarted);
    assert_eq!(outcome.bytes, image.len() as u64);
    assert_eq!(
        outcome.module.as_ref().unwrap().firmware_version,
        DEMO_RUNNING_VERSION,
        "the module identified before the flash"
    );
    let calls = &link.device.interpreter.calls;
    assert_eq!(calls[0], "fota(reset_disable=1)");
    assert!(!calls.iter().any(|c| c == "powerRestart()"));
    assert!(!s.steps.contains(&Step::Restart));
    assert_eq!(link.device.reboots, 0);
    assert_eq!(
        link.device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    let staged = link.device.interpreter.flash.staging.as_ref().unwrap();
    assert!(staged.verified);
    assert_eq!(staged.data, image);
    // Back at the friendly prompt for whoever uses the port next.
    assert_eq!(s.sent.last(), Some(&0x02));
    assert!(at_friendly_prompt(
        &mut link,
        r.elapsed + Duration::from_secs(1)
    ));

    assert_eq!(version_after_power_cycle(&mut link), SAMPLE_VERSION);
    assert_eq!(link.device.interpreter.flash.running_image(), &image[..]);
}

// ---------------------------------------------------------------------------------------------
// Images the module cannot take
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_image_fails_before_touching_the_module() {
    let (r, s, mut link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        &[],
        &[],
        None,
    );
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::EmptyImage);
    assert_eq!(e.step, Step::Prepare);
    assert_eq!((e.offset, e.total), (None, None));
    check_report(&r, e, KEEP_OLD);
    assert!(s.sent.is_empty(), "sent {:?}", s.sent);
    assert_eq!(link.delivered(), 0);
    assert_eq!(link.device.execs, 0);
    assert!(link.device.interpreter.calls.is_empty());
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn an_image_larger_than_the_slot_is_rejected_at_the_first_write() {
    let image = quecpython_sample_package();
    let config = QuecPythonConfig {
        slot_size: 32 * 1024,
        ..QuecPythonConfig::default()
    };
    assert!(image.len() > config.slot_size);
    let (r, s, mut link) = flash_with(config, RawPasteSupport::Window(128), &image, &[], None);
    let e = r.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::Rejected {
            call: "fota.write",
            returned: "-1".into()
        }
    );
    assert_eq!(e.step, Step::Write);
    assert_eq!(e.offset, Some(0));
    assert_eq!(e.total, Some(image.len() as u64));
    check_report(&r, e, KEEP_OLD);
    assert!(e
        .to_string()
        .contains("the module refused a block of the image (fota.write returned -1)"));
    assert_eq!(write_sizes(&link).len(), 1, "no write after the refusal");
    assert!(ends_with_release(&s.sent));
    assert!(at_friendly_prompt(
        &mut link,
        r.elapsed + Duration::from_secs(1)
    ));
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}
