//! The raw REPL host machine driven by hand: bytes in, exact bytes out, on a clock the test moves.
//! Wire facts: PROTOCOLS.md section 1 (MicroPython `docs/reference/repl.rst`, `pyexec.c`,
//! `tools/pyboard.py`).

mod plain;
mod raw_paste;

use std::time::Duration;

use otadeck_core::link::mp_repl::{PasteMode, RawRepl, ReplConfig, ReplError, ReplEvent};

const BANNER_FROM_FRIENDLY: &[u8] = b"\r\n>>> \r\nraw REPL; CTRL-B to exit\r\n>";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Everything the machine wants to send, concatenated.
fn sent(repl: &mut RawRepl) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(tx) = repl.poll_transmit() {
        assert!(!tx.is_empty(), "empty transmit");
        out.extend_from_slice(&tx);
    }
    out
}

/// The machine's events, without the running-output notices (checked on their own in
/// `running_output_is_reported_as_it_arrives`).
fn events(repl: &mut RawRepl) -> Vec<ReplEvent> {
    std::iter::from_fn(|| repl.poll_event())
        .filter(|e| !matches!(e, ReplEvent::Printed(_)))
        .collect()
}

/// A machine that went through the whole entering sequence and is ready, at `ms(200)`.
fn ready(config: ReplConfig) -> RawRepl {
    let quiet = config.drain_quiet;
    let mut repl = RawRepl::new(config);
    repl.enter(Duration::ZERO);
    assert_eq!(sent(&mut repl), b"\r\x03\x03");
    repl.handle_timeout(quiet);
    assert_eq!(sent(&mut repl), b"\r\x01");
    repl.handle_input(ms(200), BANNER_FROM_FRIENDLY);
    assert_eq!(events(&mut repl), vec![ReplEvent::Ready]);
    assert!(repl.is_ready());
    repl
}

fn exec_done(stdout: &[u8], stderr: &[u8]) -> ReplEvent {
    ReplEvent::ExecDone {
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
    }
}

// ---------------------------------------------------------------------------------------------
// Entering the raw REPL
// ---------------------------------------------------------------------------------------------

#[test]
fn entering_interrupts_waits_for_quiet_then_asks_for_raw_mode() {
    let config = ReplConfig::default();
    let quiet = config.drain_quiet;
    let mut repl = RawRepl::new(config);
    repl.enter(Duration::ZERO);
    assert_eq!(sent(&mut repl), b"\r\x03\x03");
    assert_eq!(repl.poll_timeout(), Some(quiet));

    // Before the quiet time is over nothing more is sent.
    repl.handle_timeout(quiet - ms(1));
    assert_eq!(sent(&mut repl), b"");

    // A program still printing pushes the request back: the quiet time restarts at the last byte.
    repl.handle_input(ms(60), b"sensor: 23.5\r\n");
    assert_eq!(repl.poll_timeout(), Some(ms(60) + quiet));
    repl.handle_timeout(quiet);
    assert_eq!(sent(&mut repl), b"");

    repl.handle_timeout(ms(60) + quiet);
    assert_eq!(sent(&mut repl), b"\r\x01");
    assert!(events(&mut repl).is_empty());
    assert!(!repl.is_ready());
}

#[test]
fn a_module_that_keeps_printing_is_asked_after_drain_max() {
    let config = ReplConfig::default();
    let max = config.drain_max;
    let mut repl = RawRepl::new(config);
    repl.enter(Duration::ZERO);
    assert_eq!(sent(&mut repl), b"\r\x03\x03");
    let mut t = Duration::ZERO;
    while t + ms(50) < max {
        t += ms(50);
        repl.handle_input(t, b"tick\r\n");
        assert_eq!(
            sent(&mut repl),
            b"",
            "asked for raw mode at {t:?} while output continued"
        );
    }
    assert_eq!(repl.poll_timeout(), Some(max));
    repl.handle_timeout(max);
    assert_eq!(sent(&mut repl), b"\r\x01");
}

#[test]
fn ready_only_after_the_full_banner_even_when_split() {
    let mut repl = RawRepl::new(ReplConfig::default());
    repl.enter(Duration::ZERO);
    sent(&mut repl);
    repl.handle_timeout(ms(100));
    assert_eq!(sent(&mut repl), b"\r\x01");

    let pieces: [&[u8]; 5] = [
        b"\r\n>>> \r\n",
        b"raw REPL; CTRL",
        b"-B to exit",
        b"\r\n",
        b">",
    ];
    for (i, piece) in pieces.iter().enumerate() {
        assert!(!repl.is_ready(), "ready before piece {i}");
        assert!(events(&mut repl).is_empty(), "event before piece {i}");
        repl.handle_input(ms(110 + i as u64), piece);
    }
    assert_eq!(events(&mut repl), vec![ReplEvent::Ready]);
    assert!(repl.is_ready());
    assert_eq!(repl.poll_timeout(), None);
}

#[test]
fn the_banner_without_its_prompt_is_not_enough() {
    let mut repl = RawRepl::new(ReplConfig::default());
    repl.enter(Duration::ZERO);
    repl.handle_timeout(ms(100));
    sent(&mut repl);
    repl.handle_input(ms(120), b"\r\nraw REPL; CTRL-B to exit\r\n");
    assert!(!repl.is_ready());
    assert!(events(&mut repl).is_empty());
    repl.handle_input(ms(121), b">");
    assert_eq!(events(&mut repl), vec![ReplEvent::Ready]);
}

#[test]
fn no_answer_to_the_raw_request_fails_after_enter_timeout() {
    let config = ReplConfig::default();
    let (quiet, enter_timeout) = (config.drain_quiet, config.enter_timeout);
    let mut repl = RawRepl::new(config);
    repl.enter(Duration::ZERO);
    repl.handle_timeout(quiet);
    assert_eq!(sent(&mut repl), b"\r\x03\x03\r\x01");
    assert_eq!(repl.poll_timeout(), Some(quiet + enter_timeout));

    repl.handle_timeout(quiet + enter_timeout - ms(1));
    assert!(events(&mut repl).is_empty());
    assert!(!repl.is_idle());

    repl.handle_timeout(quiet + enter_timeout);
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::Failed(ReplError::NoResponse {
            waiting_for: "entering the raw REPL"
        })]
    );
    assert!(repl.is_idle());
    assert_eq!(repl.poll_timeout(), None);
    assert_eq!(sent(&mut repl), b"");
}
