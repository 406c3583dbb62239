//! Line faults and tracebacks from the module mid-flash: the module keeps its previous firmware.

use super::*;

// ---------------------------------------------------------------------------------------------
// Line faults
// ---------------------------------------------------------------------------------------------

#[test]
fn a_pulled_cable_leaves_the_previous_firmware() {
    let (total_wire, _) = clean_wire_bytes();
    let image = quecpython_sample_package();
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
            &quecpython_running_package()[..]
        );
    }
}

#[test]
fn a_hung_module_is_reported_and_keeps_its_firmware() {
    let (total_wire, _) = clean_wire_bytes();
    let image = quecpython_sample_package();
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
        &quecpython_sample_package(),
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
    let image = quecpython_sample_package();
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
    let image = quecpython_sample_package();
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
    let image = quecpython_sample_package();
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
        "Writing failed at byte {} of {}: the module's firmware raised an error (OSError: [Errno 5] \
         EIO).",
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
