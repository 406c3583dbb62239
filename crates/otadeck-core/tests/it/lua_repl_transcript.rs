//! The Lua console machine driven by hand: bytes in, events out, on a clock the test moves; one
//! line at a time and one line queued behind a running one.

use std::time::Duration;

use otadeck_core::link::lua_repl::{
    LuaConfig, LuaError, LuaEvent, LuaRepl, ERROR_PREFIX, MAX_LINE,
};
const T: Duration = Duration::from_secs(3);

fn ready() -> LuaRepl {
    let mut r = LuaRepl::new(LuaConfig::default());
    r.connect(Duration::ZERO);
    assert_eq!(r.poll_transmit().unwrap(), b"\n");
    r.handle_input(Duration::from_millis(5), b"\n> ");
    assert_eq!(
        r.poll_event(),
        None,
        "a prompt counts once the line is quiet"
    );
    r.handle_timeout(Duration::from_millis(105));
    assert_eq!(r.poll_event(), Some(LuaEvent::Ready));
    r
}

#[test]
fn a_line_is_echoed_then_its_output_then_the_prompt() {
    let mut r = ready();
    r.send_line(Duration::ZERO, "print(1)", T);
    assert_eq!(r.poll_transmit().unwrap(), b"print(1)\n");
    r.handle_input(Duration::from_millis(1), b"print(");
    assert_eq!(r.poll_event(), None);
    r.handle_input(Duration::from_millis(2), b"1)\n1\r\n> ");
    assert_eq!(
        r.poll_event(),
        Some(LuaEvent::Done {
            output: "1\n".into(),
            error: None
        })
    );
    assert!(r.is_ready());
    r.send_line(Duration::ZERO, "x()", T);
    r.handle_input(
        Duration::from_millis(1),
        b"x()\nLua error: stdin:1: attempt to call a nil value (global 'x')\n> ",
    );
    let Some(LuaEvent::Done { error, .. }) = r.poll_event() else {
        panic!()
    };
    assert_eq!(
        error.as_deref(),
        Some("stdin:1: attempt to call a nil value (global 'x')")
    );
}

#[test]
fn a_garbled_echo_a_continuation_prompt_and_silence_are_errors() {
    let mut r = ready();
    r.send_line(Duration::ZERO, "w(\"QUJD\")", T);
    r.handle_input(Duration::from_millis(1), b"w(\"QUKD");
    assert_eq!(
        r.poll_event(),
        Some(LuaEvent::Failed(LuaError::EchoMismatch {
            at: 5,
            expected: b'J',
            got: b"KD".to_vec()
        }))
    );
    let mut r = ready();
    r.send_line(Duration::ZERO, "function f()", T);
    r.handle_input(Duration::from_millis(1), b"function f()\n>> ");
    assert_eq!(r.poll_event(), Some(LuaEvent::Failed(LuaError::Incomplete)));
    let mut r = ready();
    r.send_line(Duration::ZERO, "print(2)", T);
    r.handle_input(Duration::from_millis(1), b"print(2)\n2\n");
    r.handle_timeout(Duration::from_millis(2500));
    assert_eq!(r.poll_event(), None, "output restarted the silence timer");
    r.handle_timeout(Duration::from_millis(3001));
    assert!(matches!(
        r.poll_event(),
        Some(LuaEvent::Failed(LuaError::NoResponse { .. }))
    ));
}

#[test]
fn a_line_queued_behind_a_running_one_is_parsed_after_its_prompt() {
    let mut r = ready();
    r.send_line(Duration::ZERO, "w(\"QUJD\")", T);
    assert!(!r.can_queue(), "not before the echo is complete");
    r.handle_input(Duration::from_millis(1), b"w(\"QUJD\")");
    assert!(!r.can_queue(), "the line end has not come back yet");
    r.handle_input(Duration::from_millis(2), b"\n");
    assert!(r.can_queue());
    r.queue_line(Duration::from_millis(2), "w(\"REVG\")", T);
    assert_eq!(r.poll_transmit().unwrap(), b"w(\"QUJD\")\n");
    assert_eq!(r.poll_transmit().unwrap(), b"w(\"REVG\")\n");
    assert!(!r.can_queue(), "never more than one line ahead");
    assert!(r.has_queued());
    // The first prompt, the queued line's echo and its prompt in one read.
    r.handle_input(
        Duration::from_millis(3),
        b"> w(\"REVG\")\nLua error: ota error\r\n> ",
    );
    let done = |error: Option<&str>| LuaEvent::Done {
        output: error.map_or(String::new(), |e| format!("{ERROR_PREFIX}{e}\n")),
        error: error.map(str::to_string),
    };
    assert_eq!(r.poll_event(), Some(done(None)));
    assert_eq!(r.poll_event(), Some(done(Some("ota error"))));
    assert_eq!(r.poll_event(), None);
    assert!(r.is_ready() && !r.has_queued());
}

#[test]
fn the_queued_line_runs_after_an_error_and_its_echo_is_still_checked() {
    let mut r = ready();
    r.send_line(Duration::ZERO, "w(\"QUJD\")", T);
    r.handle_input(Duration::from_millis(1), b"w(\"QUJD\")\n");
    r.queue_line(Duration::from_millis(1), "w(\"REVG\")", T);
    r.handle_input(
        Duration::from_millis(2),
        b"Lua error: ota error\r\n> w(\"RE",
    );
    let Some(LuaEvent::Done { error, .. }) = r.poll_event() else {
        panic!()
    };
    assert_eq!(error.as_deref(), Some("ota error"));
    assert!(r.line_in_flight(), "the queued line is now the running one");
    r.handle_input(Duration::from_millis(3), b"WG\")\n");
    assert_eq!(
        r.poll_event(),
        Some(LuaEvent::Failed(LuaError::EchoMismatch {
            at: 5,
            expected: b'V',
            got: b"WG\")\n".to_vec()
        }))
    );
    // Silence after the first prompt: the queued line's own timeout runs from there.
    let mut r = ready();
    r.send_line(Duration::ZERO, "w(\"QUJD\")", T);
    r.handle_input(Duration::from_millis(1), b"w(\"QUJD\")\n");
    r.queue_line(
        Duration::from_millis(1),
        "w(\"REVG\")",
        Duration::from_secs(5),
    );
    r.handle_input(Duration::from_millis(2), b"> ");
    assert_eq!(r.poll_event(), Some(done_ok()));
    assert_eq!(r.poll_timeout(), Some(Duration::from_millis(5002)));
    r.handle_timeout(Duration::from_millis(5002));
    assert!(matches!(
        r.poll_event(),
        Some(LuaEvent::Failed(LuaError::NoResponse { .. }))
    ));
    assert!(r.is_idle() && !r.has_queued());
}

fn done_ok() -> LuaEvent {
    LuaEvent::Done {
        output: String::new(),
        error: None,
    }
}

#[test]
fn long_lines_are_refused_before_sending() {
    let mut r = ready();
    r.send_line(Duration::ZERO, &"x".repeat(MAX_LINE + 1), T);
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(
        r.poll_event(),
        Some(LuaEvent::Failed(LuaError::LineTooLong { len: 251 }))
    );
}

#[test]
fn a_boot_log_ends_at_a_prompt_followed_by_quiet() {
    let mut r = LuaRepl::new(LuaConfig::default());
    r.await_boot(Duration::ZERO, Duration::from_secs(10));
    r.handle_input(
        Duration::from_millis(100),
        b"ets Jun  8 2016\r\nNodeMCU ESP32\r\n> ",
    );
    r.handle_timeout(Duration::from_millis(150));
    assert_eq!(r.poll_event(), None);
    assert_eq!(r.poll_timeout(), Some(Duration::from_millis(300)));
    r.handle_timeout(Duration::from_millis(300));
    assert_eq!(r.poll_event(), Some(LuaEvent::Ready));
}
