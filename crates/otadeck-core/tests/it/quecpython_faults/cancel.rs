//! Cancel at every step: what the module holds afterwards, in words.

use super::*;

// ---------------------------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------------------------

/// Run a flash and cancel once `when` says so. Returns the run, the session and the link.
fn cancel_when(
    paste: RawPasteSupport,
    mut when: impl FnMut(Duration, &Recorder) -> bool,
) -> (Run, Recorder, Link) {
    let image = quecpython_sample_package();
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
    let total = quecpython_sample_package().len() as u64;
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
    let total = quecpython_sample_package().len() as u64;
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
    let image = quecpython_sample_package();
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
