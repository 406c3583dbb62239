//! The harness that makes the real MicroPython interpreter a module's serial port, held to the
//! wire facts it emulates (MicroPython `docs/reference/repl.rst` and `pyexec.c`): raw-paste with
//! its golden transcript, a refused raw-paste, firmware without it, soft and hard resets.
#![cfg(feature = "peer-tests")]

use crate::real_mp;

use std::time::Duration;

use otadeck_sim::firmware::demo_running_image;
use real_mp::{Board, Opts};

const T: Duration = Duration::from_secs(10);
const RAW: &[u8] = b"raw REPL; CTRL-B to exit\r\n>";

fn board(paste: &'static str) -> Board {
    let mut b = Board::start(&Opts {
        paste,
        ..Opts::new("esp32", demo_running_image())
    });
    b.read_until(b">>> ", T);
    b
}

/// The board's output with `\r\n` for the port's bare `\n` (its print ends lines with `\n`).
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn raw_paste_follows_the_golden_transcript() {
    let mut b = board("window");
    b.write(b"\x01\x05A\x01print(123)\x04");
    let got = b.read_until(b"\x04\x04>", T);
    assert_eq!(
        crlf(&got),
        b"\r\nraw REPL; CTRL-B to exit\r\n>R\x01\x80\x00\x01\x04123\r\n\x04\x04>"
    );
    // A window of 128 bytes: one `\x01` per 128 bytes taken in, beyond the two granted first.
    let code = format!("x='{}'\nprint(len(x))", "1".repeat(600));
    b.write(b"\x05A\x01");
    b.read_until(b"R\x01\x80\x00\x01", T);
    b.write(code.as_bytes());
    b.write(b"\x04");
    let got = b.read_until(b"\x04\x04>", T);
    let credits = got.iter().take_while(|&&c| c == 0x01).count();
    assert_eq!(credits, code.len() / 128, "{got:?}");
    assert_eq!(crlf(&got[credits..]), b"\x04600\r\n\x04\x04>");
}

#[test]
fn refused_and_missing_raw_paste_answer_as_the_firmware_does() {
    let mut b = board("refuse");
    b.write(b"\r\x01");
    b.read_until(RAW, T);
    b.write(b"\x05A\x01");
    assert_eq!(b.read_until(b">", T), b"R\x00>");
    b.write(b"print(2)\x04");
    assert_eq!(crlf(&b.read_until(b"\x04\x04>", T)), b"OK2\r\n\x04\x04>");

    let mut b = board("absent");
    b.write(b"\r\x01");
    b.read_until(RAW, T);
    b.write(b"\x05A\x01");
    assert_eq!(b.read_until(b">", T), RAW);
}

#[test]
fn resets_keep_the_flash_and_return_to_the_prompts() {
    let mut b = board("window");
    b.write(b"\r\x01");
    b.read_until(RAW, T);
    // An empty Ctrl-D in the raw REPL is a soft reset; the board stays in the raw REPL.
    b.write(b"x=1\x04");
    b.read_until(b"\x04\x04>", T);
    b.write(b"\x04");
    assert_eq!(
        b.read_until(RAW, T),
        b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
    );
    b.write(b"print(x)\x04");
    let got = b.read_until(b"\x04>", T);
    assert!(
        String::from_utf8_lossy(&got).contains("NameError"),
        "{got:?}"
    );
    // machine.reset(): nothing more of the exec shows; a boot log and the friendly prompt come.
    b.write(b"from esp32 import Partition as P\nP('ota_1').writeblocks(0,b'\\xe9'*4096)\x04");
    b.read_until(b"\x04\x04>", T);
    b.write(b"import machine\nmachine.reset()\nprint('after')\x04");
    let got = b.read_until(b">>> ", T);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("OK") && text.contains("rst:0xc"), "{text}");
    assert!(!text.contains("after"), "{text}");
    let state = b.finish();
    assert_eq!(state.slot(1), vec![0xE9; 4096]);
    assert_eq!(state.json()["boots"], 1);
    assert_eq!(
        state.running(),
        0,
        "an invalid image in ota_1 was never selected"
    );
}
