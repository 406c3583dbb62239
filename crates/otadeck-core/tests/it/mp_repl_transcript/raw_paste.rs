//! Raw-paste mode: the golden transcript, window credit, and every way an upload can go wrong.

use super::*;

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
