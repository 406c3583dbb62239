//! The simulated MicroPython REPL device, fed bytes directly (no line): it must answer as
//! `pyexec.c` does (PROTOCOLS.md 1.1 and 1.2).

use std::time::Duration;

use otadeck_sim::firmware::quecpython_running_package;
use otadeck_sim::line::Device;
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};

fn module(paste: RawPasteSupport) -> ReplDevice<QuecPython> {
    let mut d = device(
        QuecPythonConfig::default(),
        quecpython_running_package(),
        paste,
    );
    assert_eq!(d.transmit(Duration::ZERO), b">>> ");
    d
}

fn feed(d: &mut ReplDevice<QuecPython>, t_ms: u64, data: &[u8]) -> Vec<u8> {
    let now = Duration::from_millis(t_ms);
    d.receive(now, data);
    d.transmit(now)
}

/// Split `exec output` (after the raw-paste `\x04` echo or after `OK`) into stdout and stderr.
fn split_output(out: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(out).into_owned();
    let text = text.strip_suffix('>').expect("output ends with the prompt");
    let parts: Vec<&str> = text.split('\x04').collect();
    assert_eq!(parts.len(), 3, "stdout \\x04 stderr \\x04 >, got {text:?}");
    (parts[0].to_string(), parts[1].to_string())
}

#[test]
fn golden_transcript_from_the_friendly_prompt() {
    let mut d = module(RawPasteSupport::Window(128));
    let out = feed(&mut d, 10, b"\x01\x05A\x01print(123)\x04");
    assert_eq!(
        out,
        b"\r\nraw REPL; CTRL-B to exit\r\n>R\x01\x80\x00\x01\x04123\r\n\x04\x04>"
    );
    assert_eq!(d.execs, 1);
    assert_eq!(d.overflowed, 0);
}

#[test]
fn golden_transcript_byte_by_byte() {
    let mut d = module(RawPasteSupport::Window(128));
    let mut out = Vec::new();
    for (i, b) in b"\x01\x05A\x01print(123)\x04".iter().enumerate() {
        out.extend(feed(&mut d, i as u64, &[*b]));
    }
    assert_eq!(
        out,
        b"\r\nraw REPL; CTRL-B to exit\r\n>R\x01\x80\x00\x01\x04123\r\n\x04\x04>"
    );
}

#[test]
fn an_unknown_name_gives_a_name_error_traceback_in_stderr() {
    let mut d = module(RawPasteSupport::Window(128));
    feed(&mut d, 0, b"\x01");
    let out = feed(&mut d, 1, b"\x05A\x01print(nosuchname)\x04");
    let rest = out
        .strip_prefix(b"R\x01\x80\x00\x01\x04".as_slice())
        .unwrap_or_else(|| {
            panic!(
                "no raw-paste handshake in {:?}",
                String::from_utf8_lossy(&out)
            )
        });
    let (stdout, stderr) = split_output(rest);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("Traceback (most recent call last):\r\n"),
        "{stderr:?}"
    );
    assert!(
        stderr.ends_with("NameError: name 'nosuchname' isn't defined\r\n"),
        "{stderr:?}"
    );
}

#[test]
fn an_unknown_raw_paste_subcommand_gets_r00_and_the_prompt() {
    let mut d = module(RawPasteSupport::Window(128));
    feed(&mut d, 0, b"\x01");
    assert_eq!(feed(&mut d, 1, b"\x05B\x01"), b"R\x00>");
    // Still in the raw REPL: a plain exec works.
    assert_eq!(feed(&mut d, 2, b"print(5)\x04"), b"OK5\r\n\x04\x04>");
}

#[test]
fn a_refusing_module_answers_r00_to_the_a_request_too() {
    let mut d = module(RawPasteSupport::Refuses);
    feed(&mut d, 0, b"\x01");
    assert_eq!(feed(&mut d, 1, b"\x05A\x01"), b"R\x00>");
    assert_eq!(feed(&mut d, 2, b"print(6)\x04"), b"OK6\r\n\x04\x04>");
}

#[test]
fn old_firmware_reprints_the_banner_for_the_request() {
    let mut d = module(RawPasteSupport::Absent);
    feed(&mut d, 0, b"\x01");
    assert_eq!(
        feed(&mut d, 1, b"\x05A\x01"),
        b"raw REPL; CTRL-B to exit\r\n>"
    );
    // The request left nothing behind in the buffer.
    assert_eq!(feed(&mut d, 2, b"print(7)\x04"), b"OK7\r\n\x04\x04>");
}

#[test]
fn the_window_is_granted_again_after_each_window_consumed() {
    let mut d = module(RawPasteSupport::Window(32));
    feed(&mut d, 0, b"\x01");
    assert_eq!(feed(&mut d, 1, b"\x05A\x01"), b"R\x01\x20\x00\x01");
    // 100 code bytes: a grant after bytes 32, 64 and 96.
    let code = format!("print('{}')", "z".repeat(91));
    assert_eq!(code.len(), 100);
    let mut grants = Vec::new();
    for (i, b) in code.bytes().enumerate() {
        let out = feed(&mut d, 2, &[b]);
        if !out.is_empty() {
            assert_eq!(out, b"\x01");
            grants.push(i + 1);
        }
    }
    assert_eq!(grants, vec![32, 64, 96]);
    let out = feed(&mut d, 3, b"\x04");
    assert_eq!(
        out,
        format!("\x04{}\r\n\x04\x04>", "z".repeat(91)).as_bytes()
    );
    assert_eq!(d.overflowed, 0);
}

#[test]
fn ctrl_c_inside_raw_paste_ends_it_with_keyboard_interrupt() {
    let mut d = module(RawPasteSupport::Window(128));
    feed(&mut d, 0, b"\x01");
    feed(&mut d, 1, b"\x05A\x01");
    let out = feed(&mut d, 2, b"print(1\x03");
    let rest = out.strip_prefix(b"\x04".as_slice()).expect("end of paste");
    let (stdout, stderr) = split_output(rest);
    assert_eq!(stdout, "");
    assert!(stderr.contains("KeyboardInterrupt"), "{stderr:?}");
    assert_eq!(d.execs, 0, "the code was not run");
    // Ctrl-B goes back to the friendly prompt.
    let out = feed(&mut d, 3, b"\x02");
    assert!(
        out.ends_with(b">>> "),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn an_empty_ctrl_d_in_raw_mode_soft_resets() {
    let mut d = module(RawPasteSupport::Window(128));
    feed(&mut d, 0, b"\x01");
    assert_eq!(
        feed(&mut d, 1, b"\x04"),
        b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
    );
}

#[test]
fn a_slow_reader_buffers_two_windows_and_loses_what_comes_beyond() {
    let mut d = module(RawPasteSupport::Window(32));
    d.paste_byte_time = Duration::from_millis(1);
    feed(&mut d, 0, b"\x01");
    assert_eq!(feed(&mut d, 1, b"\x05A\x01"), b"R\x01\x20\x00\x01");
    // A host ignoring the window sends 100 bytes at once: 64 fit, 36 are lost.
    let code = format!("print('{}')", "y".repeat(91));
    assert_eq!(feed(&mut d, 10, code.as_bytes()), b"");
    assert_eq!(d.overflowed, 36);
    // The reader takes 1 ms a byte: the first grant comes after 32 ms.
    assert_eq!(d.next_wakeup(), Some(Duration::from_millis(11)));
    d.tick(Duration::from_millis(41));
    assert_eq!(d.transmit(Duration::from_millis(41)), b"");
    d.tick(Duration::from_millis(42));
    assert_eq!(d.transmit(Duration::from_millis(42)), b"\x01");
    d.tick(Duration::from_millis(74));
    assert_eq!(d.transmit(Duration::from_millis(74)), b"\x01");
    assert_eq!(d.next_wakeup(), None, "all buffered bytes read");
}

#[test]
fn a_slow_reader_loses_nothing_from_a_host_that_keeps_to_its_credit() {
    let mut d = module(RawPasteSupport::Window(32));
    d.paste_byte_time = Duration::from_millis(1);
    feed(&mut d, 0, b"\x01");
    feed(&mut d, 1, b"\x05A\x01");
    let code = format!("print('{}')", "w".repeat(91));
    let code = code.as_bytes();
    // Two windows up front, then one more per grant; the end marker goes out at once.
    let mut t = 10;
    let mut sent = 64;
    assert_eq!(feed(&mut d, t, &code[..sent]), b"");
    while sent < code.len() {
        t += 1;
        d.tick(Duration::from_millis(t));
        let out = d.transmit(Duration::from_millis(t));
        for _ in out.iter().filter(|&&b| b == 0x01) {
            let end = (sent + 32).min(code.len());
            d.receive(Duration::from_millis(t), &code[sent..end]);
            sent = end;
        }
        assert!(t < 1000);
    }
    d.receive(Duration::from_millis(t), b"\x04");
    let mut out = Vec::new();
    while let Some(at) = d.next_wakeup() {
        d.tick(at);
        out.extend(d.transmit(at));
    }
    assert_eq!(d.overflowed, 0);
    assert!(
        out.ends_with(format!("\x04{}\r\n\x04\x04>", "w".repeat(91)).as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}
