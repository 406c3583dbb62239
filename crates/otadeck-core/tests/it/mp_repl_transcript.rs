//! The raw REPL host machine driven by hand: bytes in, exact bytes out, on a clock the test moves.
//! Wire facts: PROTOCOLS.md section 1 (MicroPython `docs/reference/repl.rst`, `pyexec.c`,
//! `tools/pyboard.py`).

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

// ---------------------------------------------------------------------------------------------
// Raw-paste
// ---------------------------------------------------------------------------------------------

#[test]
fn golden_transcript_from_repl_rst() {
    let mut repl = ready(ReplConfig::default());
    let t = ms(300);
    repl.exec(t, b"print(123)", Duration::from_secs(5));
    // Nothing but the request goes out before the module answers it.
    assert_eq!(sent(&mut repl), b"\x05A\x01");

    repl.handle_input(t + ms(1), b"R\x01\x80\x00\x01");
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::ModeChosen(PasteMode::RawPaste { window: 128 })]
    );
    assert_eq!(sent(&mut repl), b"print(123)\x04");
    assert_eq!(repl.mode(), PasteMode::RawPaste { window: 128 });

    repl.handle_input(t + ms(2), b"\x04123\r\n\x04\x04>");
    assert_eq!(events(&mut repl), vec![exec_done(b"123\r\n", b"")]);
    assert!(repl.is_ready());
}

#[test]
fn golden_transcript_byte_by_byte() {
    let mut repl = ready(ReplConfig::default());
    let t = ms(300);
    repl.exec(t, b"print(123)", Duration::from_secs(5));
    let mut wire = sent(&mut repl);
    let answer = b"R\x01\x80\x00\x01\x04123\r\n\x04\x04>";
    for (i, b) in answer.iter().enumerate() {
        repl.handle_input(t + ms(i as u64), &[*b]);
        wire.extend(sent(&mut repl));
    }
    assert_eq!(wire, b"\x05A\x01print(123)\x04");
    assert_eq!(
        events(&mut repl),
        vec![
            ReplEvent::ModeChosen(PasteMode::RawPaste { window: 128 }),
            exec_done(b"123\r\n", b"")
        ]
    );
}

#[test]
fn each_exec_asks_for_raw_paste_again_and_reports_the_mode_once() {
    let mut repl = ready(ReplConfig::default());
    for (i, t) in [ms(300), ms(400)].into_iter().enumerate() {
        repl.exec(t, b"print(1)", Duration::from_secs(5));
        assert_eq!(sent(&mut repl), b"\x05A\x01", "exec {i}");
        repl.handle_input(t + ms(1), b"R\x01\x80\x00\x01");
        assert_eq!(sent(&mut repl), b"print(1)\x04");
        repl.handle_input(t + ms(2), b"\x041\r\n\x04\x04>");
        let ev = events(&mut repl);
        if i == 0 {
            assert_eq!(
                ev[0],
                ReplEvent::ModeChosen(PasteMode::RawPaste { window: 128 })
            );
        } else {
            assert!(!ev.iter().any(|e| matches!(e, ReplEvent::ModeChosen(_))));
        }
        assert_eq!(ev.last(), Some(&exec_done(b"1\r\n", b"")));
    }
}

#[test]
fn stdout_and_stderr_are_split_on_the_separators() {
    let mut repl = ready(ReplConfig::default());
    repl.exec(ms(300), b"1/0", Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"R\x01\x80\x00\x01");
    assert_eq!(sent(&mut repl), b"1/0\x04");
    events(&mut repl);
    let tb = b"Traceback (most recent call last):\r\n  File \"<stdin>\", line 1, in <module>\r\nZeroDivisionError: divide by zero\r\n";
    let mut answer = b"\x04partial\r\n\x04".to_vec();
    answer.extend_from_slice(tb);
    answer.extend_from_slice(b"\x04>");
    // In three pieces, the first separator and the prompt in different ones.
    repl.handle_input(ms(302), &answer[..5]);
    repl.handle_input(ms(303), &answer[5..40]);
    assert!(events(&mut repl).is_empty());
    repl.handle_input(ms(304), &answer[40..]);
    assert_eq!(events(&mut repl), vec![exec_done(b"partial\r\n", tb)]);
}

#[test]
fn running_output_is_reported_as_it_arrives() {
    let mut repl = ready(ReplConfig::default());
    repl.exec(ms(300), b"work()", Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"R\x01\x80\x00\x01");
    sent(&mut repl);
    let all = |repl: &mut RawRepl| std::iter::from_fn(|| repl.poll_event()).collect::<Vec<_>>();
    all(&mut repl);
    repl.handle_input(ms(302), b"\x04P 1 10\r\nP 1 ");
    assert_eq!(
        all(&mut repl),
        vec![ReplEvent::Printed(b"P 1 10\r\nP 1 ".to_vec())]
    );
    repl.handle_input(ms(303), b"50\r\n\x04\x04>");
    assert_eq!(
        all(&mut repl),
        vec![
            ReplEvent::Printed(b"50\r\n".to_vec()),
            exec_done(b"P 1 10\r\nP 1 50\r\n", b"")
        ]
    );
}

#[test]
fn window_credit_is_never_exceeded_and_sending_resumes_on_each_grant() {
    let mut repl = ready(ReplConfig::default());
    let code: Vec<u8> = (0..200u32).map(|i| b'a' + (i % 26) as u8).collect();
    let t = ms(300);
    repl.exec(t, &code, Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"\x05A\x01");

    // Window 32: the size grants 32 bytes and the `\x01` after it another 32.
    repl.handle_input(t + ms(1), b"R\x01\x20\x00\x01");
    let mut wire = sent(&mut repl);
    assert_eq!(wire, &code[..64], "first burst must be exactly 2 x window");

    // The clock moving on does not release more bytes.
    repl.handle_timeout(t + ms(500));
    assert_eq!(sent(&mut repl), b"");

    // One grant, one window.
    repl.handle_input(t + ms(600), b"\x01");
    let burst = sent(&mut repl);
    assert_eq!(burst, &code[64..96]);
    wire.extend(burst);
    repl.handle_timeout(t + ms(700));
    assert_eq!(sent(&mut repl), b"");

    // Two grants at once, two windows.
    repl.handle_input(t + ms(800), b"\x01\x01");
    let burst = sent(&mut repl);
    assert_eq!(burst, &code[96..160]);
    wire.extend(burst);

    // The rest (40 bytes) fits in the next two grants; the end marker follows the last byte only.
    repl.handle_input(t + ms(900), b"\x01");
    let burst = sent(&mut repl);
    assert_eq!(burst, &code[160..192]);
    assert!(!burst.contains(&0x04));
    repl.handle_input(t + ms(950), b"\x01");
    let burst = sent(&mut repl);
    assert_eq!(burst, [&code[192..], b"\x04"].concat());

    // Credits still arriving before the acknowledgement are harmless.
    repl.handle_input(t + ms(960), b"\x01\x04ok\r\n\x04\x04>");
    assert_eq!(
        events(&mut repl),
        vec![
            ReplEvent::ModeChosen(PasteMode::RawPaste { window: 32 }),
            exec_done(b"ok\r\n", b"")
        ]
    );
}

#[test]
fn upload_without_credit_fails_after_link_timeout() {
    let config = ReplConfig::default();
    let link_timeout = config.link_timeout;
    let mut repl = ready(config);
    let code = vec![b'x'; 100];
    let t = ms(300);
    repl.exec(t, &code, Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(t + ms(1), b"R\x01\x20\x00\x01");
    assert_eq!(sent(&mut repl).len(), 64);
    repl.handle_timeout(t + ms(1) + link_timeout - ms(1));
    assert!(events(&mut repl)
        .iter()
        .all(|e| !matches!(e, ReplEvent::Failed(_))));
    repl.handle_timeout(t + ms(1) + link_timeout);
    assert_eq!(
        events(&mut repl).last(),
        Some(&ReplEvent::Failed(ReplError::NoResponse {
            waiting_for: "taking in the data sent to it"
        }))
    );
    assert!(repl.is_idle());
    assert_eq!(sent(&mut repl), b"", "nothing more after the failure");
}

#[test]
fn early_end_is_acknowledged_and_the_traceback_reported() {
    let mut repl = ready(ReplConfig::default());
    let code: Vec<u8> = b"x = (\n".iter().copied().cycle().take(200).collect();
    let t = ms(300);
    repl.exec(t, &code, Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(t + ms(1), b"R\x01\x20\x00\x01");
    assert_eq!(sent(&mut repl), &code[..64]);

    // The module stops reading (a syntax error): it sends `\x04`. The host answers `\x04` only.
    repl.handle_input(t + ms(2), b"\x04");
    assert_eq!(sent(&mut repl), b"\x04");
    assert!(events(&mut repl)
        .iter()
        .all(|e| !matches!(e, ReplEvent::ExecDone { .. } | ReplEvent::Failed(_))));

    let tb = b"Traceback (most recent call last):\r\n  File \"<stdin>\", line 2\r\nSyntaxError: invalid syntax\r\n";
    let mut report = b"\x04".to_vec();
    report.extend_from_slice(tb);
    report.extend_from_slice(b"\x04>");
    repl.handle_input(t + ms(3), &report);
    assert_eq!(
        events(&mut repl),
        vec![exec_done(b"", tb)],
        "the traceback must be reported as stderr"
    );
    assert!(repl.is_ready());
    // No code byte is sent after the early end, whatever comes later.
    repl.handle_timeout(t + ms(100));
    assert_eq!(sent(&mut repl), b"");
}

#[test]
fn garbage_during_upload_is_a_protocol_error() {
    let mut repl = ready(ReplConfig::default());
    repl.exec(ms(300), &[b'x'; 100], Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"R\x01\x20\x00\x01");
    sent(&mut repl);
    repl.handle_input(ms(302), b"Z");
    assert_eq!(
        events(&mut repl).last(),
        Some(&ReplEvent::Failed(ReplError::Unexpected {
            during: "sending code in raw-paste mode",
            got: b"Z".to_vec()
        }))
    );
    assert!(repl.is_idle());
}

#[test]
fn a_zero_window_is_refused() {
    let mut repl = ready(ReplConfig::default());
    repl.exec(ms(300), b"print(1)", Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"R\x01\x00\x00\x01");
    assert!(matches!(
        events(&mut repl).last(),
        Some(ReplEvent::Failed(ReplError::Unexpected { .. }))
    ));
    assert_eq!(
        sent(&mut repl),
        b"",
        "no code may be sent with a zero window"
    );
}

#[test]
fn output_silence_fails_after_the_exec_timeout_and_output_extends_it() {
    let mut repl = ready(ReplConfig::default());
    let t = ms(300);
    let timeout = Duration::from_secs(7);
    repl.exec(t, b"slow()", timeout);
    sent(&mut repl);
    repl.handle_input(t, b"R\x01\x80\x00\x01");
    assert_eq!(sent(&mut repl), b"slow()\x04");
    repl.handle_input(t, b"\x04");
    events(&mut repl);
    assert_eq!(repl.poll_timeout(), Some(t + timeout));

    // Output resets the silence timer.
    repl.handle_input(t + ms(5000), b"working\r\n");
    assert_eq!(repl.poll_timeout(), Some(t + ms(5000) + timeout));
    repl.handle_timeout(t + timeout);
    assert!(events(&mut repl).is_empty());

    repl.handle_timeout(t + ms(5000) + timeout);
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::Failed(ReplError::NoResponse {
            waiting_for: "running the code"
        })]
    );
    assert!(repl.is_idle());
}

#[test]
fn a_missing_prompt_after_the_output_still_times_out() {
    // The module printed both separators but never the `>`: the held-back `\x04` must not keep
    // the exec alive forever.
    let mut repl = ready(ReplConfig::default());
    let t = ms(300);
    let timeout = Duration::from_secs(2);
    repl.exec(t, b"print(1)", timeout);
    sent(&mut repl);
    repl.handle_input(t, b"R\x01\x80\x00\x01");
    assert_eq!(sent(&mut repl), b"print(1)\x04");
    repl.handle_input(t, b"\x041\r\n\x04\x04");
    events(&mut repl);
    let mut now = t;
    for _ in 0..10 {
        let Some(at) = repl.poll_timeout() else { break };
        assert!(at >= now, "timer went backwards");
        now = at;
        repl.handle_timeout(now);
        if !events(&mut repl).is_empty() {
            break;
        }
    }
    assert!(repl.is_idle(), "still waiting at {now:?}");
    assert_eq!(now, t + timeout);
}

#[test]
fn no_answer_to_the_raw_paste_request_fails_after_link_timeout() {
    let config = ReplConfig::default();
    let link_timeout = config.link_timeout;
    let mut repl = ready(config);
    repl.exec(ms(300), b"print(1)", Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"\x05A\x01");
    assert_eq!(repl.poll_timeout(), Some(ms(300) + link_timeout));
    // Half an answer is not an answer.
    repl.handle_input(ms(301), b"R");
    repl.handle_timeout(ms(300) + link_timeout - ms(1));
    assert!(events(&mut repl).is_empty());
    repl.handle_timeout(ms(300) + link_timeout);
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::Failed(ReplError::NoResponse {
            waiting_for: "answering the raw-paste request"
        })]
    );
    assert_eq!(sent(&mut repl), b"", "no code is sent blind");
}

#[test]
fn an_unknown_answer_to_the_raw_paste_request_fails() {
    let mut repl = ready(ReplConfig::default());
    repl.exec(ms(300), b"print(1)", Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"OK");
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::Failed(ReplError::Unexpected {
            during: "answering the raw-paste request",
            got: b"OK".to_vec()
        })]
    );
}

// ---------------------------------------------------------------------------------------------
// Fallback to plain raw mode
// ---------------------------------------------------------------------------------------------

fn plain_config() -> ReplConfig {
    ReplConfig {
        plain_chunk: 16,
        plain_chunk_interval: ms(10),
        ..ReplConfig::default()
    }
}

/// Drive a plain upload by its own timer and collect (time, bytes) of each transmit.
fn paced_upload(repl: &mut RawRepl, start: Duration) -> Vec<(Duration, Vec<u8>)> {
    let mut out = Vec::new();
    let mut now = start;
    while let Some(tx) = repl.poll_transmit() {
        out.push((now, tx));
    }
    for _ in 0..100 {
        if out.last().is_some_and(|(_, b)| b == b"\x04") {
            break;
        }
        let at = repl
            .poll_timeout()
            .expect("plain upload stopped without a timer");
        assert!(at >= now);
        // Waking early changes nothing.
        if at > now {
            repl.handle_timeout(at - ms(1));
            assert!(
                repl.poll_transmit().is_none(),
                "sent before the pause was over"
            );
        }
        now = at;
        repl.handle_timeout(now);
        while let Some(tx) = repl.poll_transmit() {
            out.push((now, tx));
        }
    }
    out
}

#[test]
fn r00_falls_back_to_paced_plain_mode_for_the_whole_session() {
    let mut repl = ready(plain_config());
    let code: Vec<u8> = (0..40u8).map(|i| b'A' + i % 26).collect();
    let t = ms(300);
    repl.exec(t, &code, Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"\x05A\x01");

    // The `R\x00` alone is not enough: the host waits for (and eats) the `>` after it.
    repl.handle_input(t + ms(1), b"R\x00");
    assert_eq!(sent(&mut repl), b"");
    assert!(events(&mut repl).is_empty());
    let t1 = t + ms(2);
    repl.handle_input(t1, b">");
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::ModeChosen(PasteMode::PlainUnsupported)]
    );
    assert_eq!(repl.mode(), PasteMode::PlainUnsupported);

    let pieces = paced_upload(&mut repl, t1);
    assert_eq!(
        pieces[..3],
        [
            (t1, code[..16].to_vec()),
            (t1 + ms(10), code[16..32].to_vec()),
            (t1 + ms(20), code[32..].to_vec()),
        ]
    );
    // Then the end marker, once, not before the last piece.
    assert_eq!(pieces.len(), 4);
    assert_eq!(pieces[3].1, b"\x04");
    assert!(pieces[3].0 >= t1 + ms(20));
    repl.handle_input(t1 + ms(25), b"OK");
    assert!(events(&mut repl).is_empty());
    repl.handle_input(t1 + ms(26), b"hi\r\n\x04\x04>");
    assert_eq!(events(&mut repl), vec![exec_done(b"hi\r\n", b"")]);

    // The next exec goes straight to plain mode: no new request, no new mode report.
    let t2 = ms(1000);
    repl.exec(t2, b"print(2)", Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"print(2)\x04");
    repl.handle_input(t2 + ms(1), b"OK2\r\n\x04\x04>");
    assert_eq!(events(&mut repl), vec![exec_done(b"2\r\n", b"")]);
}

#[test]
fn r00_not_followed_by_a_prompt_is_an_error() {
    let mut repl = ready(plain_config());
    repl.exec(ms(300), b"print(1)", Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"R\x00?");
    assert!(matches!(
        events(&mut repl).as_slice(),
        [ReplEvent::Failed(ReplError::Unexpected { .. })]
    ));
    assert_eq!(sent(&mut repl), b"");
}

#[test]
fn old_firmware_banner_falls_back_to_plain_mode() {
    let mut repl = ready(plain_config());
    let t = ms(300);
    repl.exec(t, b"print(7)", Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"\x05A\x01");
    repl.handle_input(t + ms(1), b"ra");
    repl.handle_input(t + ms(2), b"w REPL; CTRL-B");
    assert_eq!(sent(&mut repl), b"");
    assert!(events(&mut repl).is_empty());
    repl.handle_input(t + ms(3), b" to exit\r\n");
    assert_eq!(sent(&mut repl), b"");
    repl.handle_input(t + ms(4), b">");
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::ModeChosen(PasteMode::PlainOldFirmware)]
    );
    assert_eq!(sent(&mut repl), b"print(7)\x04");
    repl.handle_input(t + ms(5), b"OK7\r\n\x04\x04>");
    assert_eq!(events(&mut repl), vec![exec_done(b"7\r\n", b"")]);

    repl.exec(ms(500), b"print(8)", Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"print(8)\x04", "plain mode is kept");
}

#[test]
fn plain_mode_by_choice_never_asks_for_raw_paste() {
    let mut repl = ready(ReplConfig {
        try_raw_paste: false,
        ..plain_config()
    });
    let code = vec![b'1'; 20];
    repl.exec(ms(300), &code, Duration::from_secs(5));
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::ModeChosen(PasteMode::PlainByChoice)]
    );
    let pieces = paced_upload(&mut repl, ms(300));
    let wire: Vec<u8> = pieces.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(wire, [&code[..], b"\x04"].concat());
    assert!(!wire.starts_with(b"\x05"));
    assert_eq!(pieces[1].0, ms(310));
}

#[test]
fn garbage_instead_of_ok_fails() {
    let mut repl = ready(ReplConfig {
        try_raw_paste: false,
        ..plain_config()
    });
    repl.exec(ms(300), b"print(1)", Duration::from_secs(5));
    assert_eq!(sent(&mut repl), b"print(1)\x04");
    events(&mut repl);
    repl.handle_input(ms(301), b"X");
    assert!(
        events(&mut repl).is_empty(),
        "one byte is not yet an answer"
    );
    repl.handle_input(ms(302), b"Y\r\n");
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::Failed(ReplError::Unexpected {
            during: "waiting for OK after sending code",
            got: b"XY\r\n".to_vec()
        })]
    );
    assert!(repl.is_idle());
}

#[test]
fn no_ok_at_all_fails_after_link_timeout() {
    let config = ReplConfig {
        try_raw_paste: false,
        ..plain_config()
    };
    let link_timeout = config.link_timeout;
    let mut repl = ready(config);
    repl.exec(ms(300), b"print(1)", Duration::from_secs(5));
    sent(&mut repl);
    events(&mut repl);
    assert_eq!(repl.poll_timeout(), Some(ms(300) + link_timeout));
    repl.handle_timeout(ms(300) + link_timeout - ms(1));
    assert!(events(&mut repl).is_empty());
    repl.handle_timeout(ms(300) + link_timeout);
    assert_eq!(
        events(&mut repl),
        vec![ReplEvent::Failed(ReplError::NoResponse {
            waiting_for: "taking in the data sent to it (no OK came back)"
        })]
    );
}

// ---------------------------------------------------------------------------------------------
// Abort, leave, reset
// ---------------------------------------------------------------------------------------------

#[test]
fn abort_drops_pending_code_and_sends_two_ctrl_c() {
    let mut repl = ready(ReplConfig::default());
    repl.exec(ms(300), &[b'x'; 100], Duration::from_secs(5));
    sent(&mut repl);
    repl.handle_input(ms(301), b"R\x01\x20\x00");
    // The code is not polled yet when the abort comes: it must not go out.
    repl.handle_input(ms(302), b"\x01");
    repl.abort(ms(303));
    assert_eq!(sent(&mut repl), b"\x03\x03");
    assert!(repl.is_idle());
    repl.leave(ms(304));
    assert_eq!(sent(&mut repl), b"\x02");
    // Late output is ignored.
    repl.handle_input(ms(305), b"\x04\x04Traceback\x04>");
    assert!(events(&mut repl)
        .iter()
        .all(|e| !matches!(e, ReplEvent::ExecDone { .. })));
}
