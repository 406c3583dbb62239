//! Fallback to paced plain raw mode, and abort, leave and reset.

use super::*;

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
