//! The QuecPython `fota` driver against the simulated module, through the simulated line, with
//! every REPL flavour and with faults: a pulled cable, a hung module, a garbled byte, a raising
//! `write`, an image that does not fit, and the technician pressing Cancel. Whatever happens, the
//! module must keep booting its previous firmware unless the new one was verified.

use std::time::Duration;

use otadeck_core::driver::quecpython::{
    FotaOptions, QuecPythonSession, PLAIN_CHUNK, RAW_PASTE_CHUNK,
};
use otadeck_core::session::{
    group_digits, FlashError, FlashErrorKind, LogLevel, Machine, SessionEvent, Step,
};
use otadeck_sim::firmware::{
    demo_running_image, sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{Device, LineFault, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};

type Link = SimLink<ReplDevice<QuecPython>>;

const LIMIT: Duration = Duration::from_secs(300);
const KEEP_OLD: &str = "still runs its previous firmware";

/// The session under test, with a record of every byte it sent and the progress it reported.
struct Recorder {
    inner: QuecPythonSession,
    sent: Vec<u8>,
    done: u64,
    steps: Vec<Step>,
}

impl Recorder {
    fn new(inner: QuecPythonSession) -> Self {
        Recorder {
            inner,
            sent: Vec::new(),
            done: 0,
            steps: Vec::new(),
        }
    }
}

impl Machine for Recorder {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.inner.handle_input(now, data)
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.inner.handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let tx = self.inner.poll_transmit()?;
        self.sent.extend_from_slice(&tx);
        Some(tx)
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        let ev = self.inner.poll_event()?;
        match &ev {
            SessionEvent::Progress { done, .. } => self.done = *done,
            SessionEvent::Step(step) => self.steps.push(*step),
            _ => {}
        }
        Some(ev)
    }
    fn cancel(&mut self, now: Duration) {
        self.inner.cancel(now)
    }
    fn link_lost(&mut self, now: Duration) {
        self.inner.link_lost(now)
    }
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

fn module(config: QuecPythonConfig, paste: RawPasteSupport) -> Link {
    SimLink::new(device(config, demo_running_image(), paste), 115_200)
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
    clean_wire_bytes_of(&sample_image())
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
    otadeck_sim::firmware::with_region(
        &sample_image(),
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

/// What every failure must tell the technician, and the log must hold.
fn check_report(r: &Run, e: &FlashError, state: &str) {
    let text = e.to_string();
    eprintln!("{text}");
    let verb = if e.kind == FlashErrorKind::Cancelled {
        "stopped"
    } else {
        "failed"
    };
    assert!(
        text.starts_with(&format!("{} {verb}", e.step.label())),
        "{text}"
    );
    if let (Some(offset), Some(total)) = (e.offset, e.total) {
        assert!(
            text.contains(&format!(
                "at byte {} of {}",
                group_digits(offset),
                group_digits(total)
            )),
            "{text}"
        );
    }
    assert!(text.contains(state), "{text}");
    // A cancel is logged as a warning, every other failure as an error.
    let level = if e.kind == FlashErrorKind::Cancelled {
        LogLevel::Warn
    } else {
        LogLevel::Error
    };
    assert!(
        r.events.iter().any(|ev| matches!(
            ev,
            SessionEvent::Log { level: l, message } if *l == level && *message == text
        )),
        "the error is not in the log: {text}"
    );
    assert_eq!(
        r.events.last(),
        Some(&SessionEvent::Finished(Err(e.clone()))),
        "the session must end with the error"
    );
}

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
    let image = sample_image();
    let mut link = module(QuecPythonConfig::default(), paste);
    if slow_reader {
        // Reads slower than the line brings bytes: only the window keeps the buffer from
        // overflowing.
        link.device.paste_byte_time = Duration::from_micros(150);
    }
    let mut s = flash_session(image.clone(), FotaOptions::default());
    let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, None);
    let outcome = r.outcome();
    assert!(outcome.restarted);
    assert_eq!(outcome.bytes, image.len() as u64);
    assert_eq!(
        outcome.module.as_ref().unwrap().firmware_version,
        SAMPLE_VERSION
    );

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
    let progress: Vec<u64> = r
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Progress { done, .. } => Some(*done),
            _ => None,
        })
        .collect();
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
    let image = sample_image();
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
    let image = sample_image();
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
        .contains("the module refused it (fota.write returned -1)"));
    assert_eq!(write_sizes(&link).len(), 1, "no write after the refusal");
    assert!(ends_with_release(&s.sent));
    assert!(at_friendly_prompt(
        &mut link,
        r.elapsed + Duration::from_secs(1)
    ));
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

// ---------------------------------------------------------------------------------------------
// Line faults
// ---------------------------------------------------------------------------------------------

#[test]
fn a_pulled_cable_leaves_the_previous_firmware() {
    let (total_wire, _) = clean_wire_bytes();
    let image = sample_image();
    for percent in [10u64, 50, 99] {
        let cut = total_wire * percent / 100;
        let (r, s, mut link) = flash_with(
            QuecPythonConfig::default(),
            RawPasteSupport::Window(128),
            &image,
            &[LineFault::DropAfter(cut)],
            None,
        );
        assert!(link.is_dead());
        let e = r.error();
        assert_eq!(e.kind, FlashErrorKind::LinkLost, "{percent}%");
        assert_eq!(e.step, Step::Write, "{percent}%: {e}");
        let offset = e.offset.unwrap();
        assert_eq!(e.total, Some(image.len() as u64));
        assert!(offset < image.len() as u64, "{percent}%: {e}");
        assert_eq!(offset, s.done, "the offset is the last progress reported");
        if percent >= 50 {
            assert!(offset > 0, "{percent}%: {e}");
        }
        check_report(&r, e, KEEP_OLD);
        assert!(e
            .to_string()
            .contains("the connection to the module was lost"));
        // The module had received part of the image, and none of it boots.
        let staged = link.device.interpreter.flash.staging.as_ref().unwrap();
        assert!(staged.data.len() as u64 >= offset);
        assert!(!staged.verified);
        assert_eq!(
            version_after_power_cycle(&mut link),
            DEMO_RUNNING_VERSION,
            "{percent}%"
        );
        assert_eq!(
            link.device.interpreter.flash.running_image(),
            &demo_running_image()[..]
        );
    }
}

#[test]
fn a_hung_module_is_reported_and_keeps_its_firmware() {
    let (total_wire, _) = clean_wire_bytes();
    let image = sample_image();
    let (r, _, mut link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        &image,
        &[LineFault::StallAfter(total_wire / 2)],
        None,
    );
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }), "{e:?}");
    assert_eq!(e.step, Step::Write);
    assert!(e.offset.unwrap() > 0);
    check_report(&r, e, KEEP_OLD);
    assert!(e.to_string().contains("the module stopped answering while"));
    // It gives up within a few seconds of the stall, not at the run's limit.
    assert!(r.elapsed < Duration::from_secs(60), "{:?}", r.elapsed);
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn a_module_that_never_answers_fails_at_connect() {
    let (r, s, mut link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        &sample_image(),
        &[LineFault::StallAfter(0)],
        None,
    );
    let e = r.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::NoResponse {
            waiting_for: "entering the raw REPL"
        }
    );
    assert_eq!(e.step, Step::Connect);
    assert_eq!(e.offset, None);
    check_report(&r, e, KEEP_OLD);
    assert!(s.sent.starts_with(b"\r\x03\x03\r\x01"));
    assert_eq!(link.device.execs, 0);
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

/// How a write call's chunk went on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    Base64,
    Literal,
}

/// Index in the host's byte stream of a payload byte in the middle of the `n`th write call,
/// with the byte there, the byte before it and how that chunk was encoded.
fn payload_byte(sent: &[u8], n: usize, want: impl Fn(u8) -> bool) -> (u64, u8, u8, Payload) {
    const CALL: &[u8] = b"print(f.write(";
    let starts: Vec<usize> = sent
        .windows(CALL.len())
        .enumerate()
        .filter(|(_, w)| *w == CALL)
        .map(|(i, _)| i + CALL.len())
        .collect();
    let (start, quote, kind) = match &sent[starts[n]..starts[n] + 4] {
        [b'A', b'(', b'b', q] => (starts[n] + 4, *q, Payload::Base64),
        [b'b', q, ..] => (starts[n] + 2, *q, Payload::Literal),
        other => panic!("write {n} starts {other:?}"),
    };
    let mut i = start + 2000;
    while !want(sent[i]) || sent[i - 1] == b'\\' {
        i += 1;
    }
    assert!(
        !sent[start..i]
            .windows(2)
            .any(|w| w[1] == quote && w[0] != b'\\'),
        "still in the payload"
    );
    (i as u64, sent[i], sent[i - 1], kind)
}

#[test]
fn a_garbled_payload_byte_fails_the_module_verify() {
    let (_, clean) = clean_wire_bytes();
    let image = sample_image();
    // A letter with its case flipped is still a byte of the literal: the write takes it, the
    // verify does not.
    let (index, byte, _, kind) = payload_byte(&clean, 10, |b| b.is_ascii_alphabetic());
    assert_eq!(kind, Payload::Literal);
    let (r, s, mut link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        &image,
        &[LineFault::Corrupt { index, xor: 0x20 }],
        None,
    );
    assert_eq!(
        s.sent[index as usize], byte,
        "the host sends the same stream as before"
    );
    let e = r.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::Rejected {
            call: "fota.verify",
            returned: "-1".into()
        }
    );
    assert_eq!(e.step, Step::Verify);
    assert_eq!(e.offset, Some(image.len() as u64));
    check_report(&r, e, KEEP_OLD);
    assert!(ends_with_release(&s.sent));
    let staged = link.device.interpreter.flash.staging.as_ref().unwrap();
    assert_eq!(staged.data.len(), image.len());
    assert_ne!(
        staged.data, image,
        "the corruption reached the staged image"
    );
    assert!(!staged.verified);
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn a_payload_byte_garbled_out_of_base64_raises_at_its_write() {
    let image = image_with_a_base64_chunk();
    let (_, clean) = clean_wire_bytes_of(&image);
    let (index, byte, _, kind) = payload_byte(&clean, 7, |b| b.is_ascii_alphanumeric());
    assert_eq!(kind, Payload::Base64);
    let (r, s, mut link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        &image,
        &[LineFault::Corrupt {
            index,
            xor: byte ^ b'$',
        }],
        None,
    );
    let e = r.error();
    let FlashErrorKind::Traceback { last_line } = &e.kind else {
        panic!("expected a traceback, got {e:?}");
    };
    assert!(last_line.starts_with("ValueError"), "{last_line}");
    assert_eq!(e.step, Step::Write);
    assert_eq!(e.offset, Some(7 * RAW_PASTE_CHUNK as u64));
    check_report(&r, e, KEEP_OLD);
    assert!(ends_with_release(&s.sent));
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn a_payload_byte_garbled_into_a_line_end_raises_at_its_write() {
    let (_, clean) = clean_wire_bytes();
    let image = sample_image();
    // A line feed inside a bytes literal ends it unclosed: a syntax error, nothing written.
    let (index, byte, _, kind) = payload_byte(&clean, 5, |b| b.is_ascii_alphanumeric());
    assert_eq!(kind, Payload::Literal);
    let (r, s, mut link) = flash_with(
        QuecPythonConfig::default(),
        RawPasteSupport::Window(128),
        &image,
        &[LineFault::Corrupt {
            index,
            xor: byte ^ b'\n',
        }],
        None,
    );
    let e = r.error();
    let FlashErrorKind::Traceback { last_line } = &e.kind else {
        panic!("expected a traceback, got {e:?}");
    };
    assert!(last_line.starts_with("SyntaxError"), "{last_line}");
    assert_eq!(e.step, Step::Write);
    assert_eq!(e.offset, Some(5 * RAW_PASTE_CHUNK as u64));
    check_report(&r, e, KEEP_OLD);
    assert!(ends_with_release(&s.sent));
    let staged = link.device.interpreter.flash.staging.as_ref().unwrap();
    assert_eq!(staged.data.len(), 5 * RAW_PASTE_CHUNK);
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

// ---------------------------------------------------------------------------------------------
// A traceback from the module
// ---------------------------------------------------------------------------------------------

fn write_raises(paste: RawPasteSupport, nth: usize, chunk: usize) {
    let image = sample_image();
    let config = QuecPythonConfig {
        fail_write_at: Some(nth),
        ..QuecPythonConfig::default()
    };
    let (r, s, mut link) = flash_with(config, paste, &image, &[], None);
    let e = r.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::Traceback {
            last_line: "OSError: [Errno 5] EIO".into()
        }
    );
    assert_eq!(e.step, Step::Write);
    assert_eq!(e.offset, Some((nth * chunk) as u64));
    assert_eq!(e.total, Some(image.len() as u64));
    check_report(&r, e, KEEP_OLD);
    assert!(e.to_string().contains(&format!(
        "Writing failed at byte {} of {}: the module raised an error: OSError: [Errno 5] EIO.",
        group_digits((nth * chunk) as u64),
        group_digits(image.len() as u64)
    )));
    // The whole traceback is in the log for whoever investigates.
    assert!(r.events.iter().any(|ev| matches!(
        ev,
        SessionEvent::Log { message, .. } if message.contains("Traceback (most recent call last)")
    )));
    assert_eq!(
        write_sizes(&link).len(),
        nth + 1,
        "no write after the failed one"
    );
    assert!(ends_with_release(&s.sent));
    assert!(at_friendly_prompt(
        &mut link,
        r.elapsed + Duration::from_secs(1)
    ));
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn a_write_that_raises_is_a_traceback_at_its_offset() {
    write_raises(RawPasteSupport::Window(128), 5, RAW_PASTE_CHUNK);
}

#[test]
fn a_first_write_that_raises_is_at_offset_zero() {
    write_raises(RawPasteSupport::Window(128), 0, RAW_PASTE_CHUNK);
}

#[test]
fn a_write_that_raises_in_plain_mode() {
    write_raises(RawPasteSupport::Refuses, 20, PLAIN_CHUNK);
}

// ---------------------------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------------------------

/// Run a flash and cancel once `when` says so. Returns the run, the session and the link.
fn cancel_when(
    paste: RawPasteSupport,
    mut when: impl FnMut(Duration, &Recorder) -> bool,
) -> (Run, Recorder, Link) {
    let image = sample_image();
    let mut cancelled = false;
    let mut hook = |now: Duration, m: &mut Recorder, _: &mut Link| {
        if !cancelled && !m.is_finished() && when(now, m) {
            cancelled = true;
            m.cancel(now);
        }
    };
    flash_with(
        QuecPythonConfig::default(),
        paste,
        &image,
        &[],
        Some(&mut hook),
    )
}

fn check_cancelled(r: &Run, s: &Recorder, step: Step, state: &str) -> FlashError {
    let e = r.error().clone();
    assert_eq!(e.kind, FlashErrorKind::Cancelled);
    assert_eq!(e.step, step, "{e}");
    check_report(r, &e, state);
    assert!(e.to_string().contains("cancelled by you"));
    assert!(
        ends_with_release(&s.sent),
        "last bytes sent: {:?}",
        &s.sent[s.sent.len().saturating_sub(8)..]
    );
    e
}

#[test]
fn cancel_while_connecting() {
    // Only the interrupt has gone out: the host is draining the module's answer to it.
    let (r, s, mut link) =
        cancel_when(RawPasteSupport::Window(128), |_, m| m.sent == b"\r\x03\x03");
    let e = check_cancelled(&r, &s, Step::Connect, KEEP_OLD);
    assert_eq!(e.offset, None);
    assert!(link.device.interpreter.calls.is_empty());
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn cancel_while_preparing() {
    let (r, s, mut link) = cancel_when(RawPasteSupport::Window(128), |_, m| {
        m.steps.last() == Some(&Step::Prepare)
    });
    let e = check_cancelled(&r, &s, Step::Prepare, KEEP_OLD);
    assert_eq!(e.offset, None);
    assert!(!link
        .device
        .interpreter
        .calls
        .iter()
        .any(|c| c.starts_with("write(")));
    assert!(at_friendly_prompt(
        &mut link,
        r.elapsed + Duration::from_secs(1)
    ));
    assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
}

#[test]
fn cancel_during_the_write_at_several_points() {
    let total = sample_image().len() as u64;
    for (paste, fraction) in [
        (RawPasteSupport::Window(128), 0.01),
        (RawPasteSupport::Window(128), 0.3),
        (RawPasteSupport::Window(32), 0.6),
        (RawPasteSupport::Refuses, 0.5),
        (RawPasteSupport::Window(128), 0.97),
    ] {
        let (r, s, mut link) = cancel_when(paste, |_, m| {
            m.steps.last() == Some(&Step::Write) && m.done as f64 >= total as f64 * fraction
        });
        let e = check_cancelled(&r, &s, Step::Write, KEEP_OLD);
        let offset = e.offset.expect("a write-phase cancel has an offset");
        assert_eq!(e.total, Some(total));
        assert_eq!(offset, s.done, "{paste:?} {fraction}");
        assert!(offset as f64 >= total as f64 * fraction && offset < total);
        // No write after the cancel reached the module beyond the one in flight.
        let written: usize = write_sizes(&link).iter().sum();
        assert!(written as u64 <= offset + RAW_PASTE_CHUNK as u64);
        assert!(
            at_friendly_prompt(&mut link, r.elapsed + Duration::from_secs(1)),
            "{paste:?} {fraction}: the module was not given back its prompt"
        );
        assert_eq!(
            version_after_power_cycle(&mut link),
            DEMO_RUNNING_VERSION,
            "{paste:?} {fraction}"
        );
    }
}

#[test]
fn cancel_at_a_time_in_the_middle_of_the_upload() {
    // Cancel by the clock rather than by progress: the cancel lands in the middle of a raw-paste
    // upload (or of the output of a write), never between two calls only.
    for ms in [3_000u64, 3_017, 5_003, 7_500] {
        let (r, s, mut link) = cancel_when(RawPasteSupport::Window(128), |now, _| {
            now >= Duration::from_millis(ms)
        });
        let e = check_cancelled(&r, &s, Step::Write, KEEP_OLD);
        assert_eq!(e.offset, Some(s.done), "at {ms} ms");
        assert!(
            at_friendly_prompt(&mut link, r.elapsed + Duration::from_secs(1)),
            "at {ms} ms"
        );
        assert_eq!(version_after_power_cycle(&mut link), DEMO_RUNNING_VERSION);
    }
}

#[test]
fn cancel_during_verify_warns_that_the_new_firmware_may_boot() {
    let total = sample_image().len() as u64;
    // Cancel once the call is on the wire, while the module runs it.
    let (r, s, mut link) = cancel_when(RawPasteSupport::Window(128), |_, m| {
        m.sent.ends_with(b"print(f.verify())\x04")
    });
    let e = check_cancelled(&r, &s, Step::Verify, KEEP_OLD);
    assert_eq!(e.offset, Some(total));
    // The verify call was on its way: if it passed, the next restart boots the new firmware, and
    // the technician must be told so.
    assert!(link
        .device
        .interpreter
        .calls
        .iter()
        .any(|c| c == "verify()"));
    assert!(
        e.to_string().contains("next restart"),
        "the report hides that the new firmware may boot: {e}"
    );
    // In the simulator the verify ran to completion before the interrupt: the warning is true.
    assert!(
        link.device
            .interpreter
            .flash
            .staging
            .as_ref()
            .unwrap()
            .verified
    );
    assert_eq!(version_after_power_cycle(&mut link), SAMPLE_VERSION);
}

#[test]
fn cancel_after_the_restart_leaves_the_new_firmware() {
    let (r, s, mut link) = cancel_when(RawPasteSupport::Window(128), |_, m| {
        m.steps.last() == Some(&Step::Confirm)
    });
    let e = check_cancelled(&r, &s, Step::Confirm, "restart into it");
    assert_eq!(e.offset, None);
    assert_eq!(link.device.interpreter.running_version(), SAMPLE_VERSION);
    assert_eq!(version_after_power_cycle(&mut link), SAMPLE_VERSION);
}

#[test]
fn cancel_after_the_end_changes_nothing() {
    let image = sample_image();
    let mut link = module(QuecPythonConfig::default(), RawPasteSupport::Window(128));
    let mut s = flash_session(image, FotaOptions::default());
    let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, None);
    r.outcome();
    let sent = s.sent.len();
    s.cancel(r.elapsed);
    assert!(s.poll_event().is_none());
    assert!(s.poll_transmit().is_none());
    assert_eq!(s.sent.len(), sent);
}
