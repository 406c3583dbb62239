//! Which bytes MicroPython 1.27 takes verbatim inside a bytes literal of a raw-REPL exec, asked
//! of the real interpreter (the webassembly port under Node, behind the harness in
//! `crates/otadeck-sim/peers/micropython/`) in raw-paste and in plain raw mode; and the bytes
//! literal encoding ([`Encoding::BytesLiteral`]) round-tripping every byte value on it, checked
//! with its own `hashlib.sha256`; and otadeck-sim's lexer storing, reading and refusing the same
//! literals. Needs node and `cargo xtask setup --browser`.
//!
//! The port hangs in raw-paste, so the harness emulates it and hands the buffered code to the
//! plain raw REPL: its raw-paste finding therefore includes plain raw mode's Ctrl-A and Ctrl-B.
//! Firmware's own raw-paste reader (`pyexec.c mp_reader_stdin_readbyte`) stops only at Ctrl-C and
//! Ctrl-D; the encoding escapes all four, since a module may fall back to plain raw mode.
#![cfg(feature = "peer-tests")]

use crate::real_mp;

use std::time::Duration;

use otadeck_core::driver::repl::encoding::{Encoding, LITERAL_ESCAPED};
use otadeck_sim::esp32_mp;
use otadeck_sim::firmware::demo_running_image;
use otadeck_sim::mp_repl::{Interpreter, RawPasteSupport};
use real_mp::{Board, Opts};
use sha2::{Digest, Sha256};

const T: Duration = Duration::from_secs(10);
const RAW: &[u8] = b"raw REPL; CTRL-B to exit\r\n>";

/// A board at its raw prompt; `paste` is `window` (raw-paste) or `absent` (plain raw mode).
fn raw_board(paste: &'static str) -> Board {
    let mut b = Board::start(&Opts {
        paste,
        ..Opts::new("esp32", demo_running_image())
    });
    b.read_until(b">>> ", T);
    b.write(b"\r\x01");
    b.read_until(RAW, T);
    b
}

/// Run `code` as the drivers do in this mode, then bring the board back to a clean raw prompt
/// whatever the code did to the REPL; everything the board printed until then.
fn exec(b: &mut Board, paste: &str, code: &[u8], n: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    if paste == "window" {
        wire.extend_from_slice(b"\x05A\x01");
    }
    wire.extend_from_slice(code);
    wire.push(0x04);
    // Ctrl-C twice and Ctrl-A: out of a paste, a friendly prompt or a half-typed exec.
    wire.extend_from_slice(b"\r\x03\x03\r\x01");
    wire.extend_from_slice(format!("print('END',{n})\x04").as_bytes());
    b.write(&wire);
    b.read_until(format!("END {n}\n").as_bytes(), T)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The byte values `quote` literals take verbatim, one exec per value.
fn verbatim(paste: &'static str, quote: u8, values: impl Iterator<Item = u8>) -> Vec<u8> {
    let mut b = raw_board(paste);
    let mut ok = Vec::new();
    for (n, v) in values.enumerate() {
        let mut code = vec![b'x', b'=', b'b', quote, v, quote];
        code.extend_from_slice(b"\nprint('L',len(x),x[0])");
        let out = exec(&mut b, paste, &code, n);
        if contains(&out, format!("L 1 {v}\n").as_bytes()) {
            ok.push(v);
        }
    }
    b.finish();
    ok
}

fn finding(paste: &'static str) {
    let all = verbatim(paste, b'\'', 0..=255);
    let refused: Vec<u8> = (0..=255).filter(|v| !all.contains(v)).collect();
    let mut expected = LITERAL_ESCAPED.to_vec();
    expected.push(b'\'');
    expected.sort_unstable();
    assert_eq!(refused, expected, "paste={paste}");
    // NUL and every byte from 0x7f up (not UTF-8 on their own) are among those taken.
    assert!(all.contains(&0) && (0x7f..=0xff).all(|v| all.contains(&v)));
    // In double quotes the roles of the two quote characters swap.
    assert_eq!(verbatim(paste, b'"', [b'"', b'\''].into_iter()), [b'\'']);
}

#[test]
fn bytes_literals_take_all_but_eight_byte_values_verbatim_over_raw_paste() {
    finding("window");
}

#[test]
fn bytes_literals_take_all_but_eight_byte_values_verbatim_in_plain_raw_mode() {
    finding("absent");
}

/// Data that exercises every escape: each byte value, the short octal escapes before octal
/// digits and after each other, quotes and backslashes in runs, and noise.
fn hard_data() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255).collect();
    for c in [1u8, 2, 3, 4] {
        for next in [b'0', b'7', b'8', b'\\', c, 0, b'\''] {
            data.extend_from_slice(&[c, next]);
        }
    }
    data.extend_from_slice(b"\\\\''\"\"\r\n\n\r\\'\\\"");
    let mut x = 0x9e37_79b9_u32;
    data.extend((0..2048).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    data
}

fn round_trip(paste: &'static str) {
    let mut b = raw_board(paste);
    let cases: Vec<Vec<u8>> = vec![
        hard_data(),
        (0..=255).rev().collect(),
        vec![b'\''; 40],
        b"'\"'".to_vec(),
        vec![0x01; 300],
        Vec::new(),
    ];
    for (n, data) in cases.iter().enumerate() {
        let mut code =
            b"import hashlib,binascii\nprint('H',binascii.hexlify(hashlib.sha256(".to_vec();
        code.extend_from_slice(&Encoding::BytesLiteral.expression(data));
        code.extend_from_slice(b").digest()))");
        let out = exec(&mut b, paste, &code, n);
        let ours: String = Sha256::digest(data)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        assert!(
            contains(&out, format!("H b'{ours}'").as_bytes()),
            "case {n}, paste={paste}: {}",
            String::from_utf8_lossy(&out)
        );
    }
    b.finish();
}

#[test]
fn every_byte_value_round_trips_through_the_literal_over_raw_paste() {
    round_trip("window");
}

#[test]
fn every_byte_value_round_trips_through_the_literal_in_plain_raw_mode() {
    round_trip("absent");
}

/// The imports of every encoding and the update slot, as the drivers set them up.
const SETUP: &[u8] = b"from binascii import a2b_base64 as A\nfrom io import BytesIO as B\n\
from deflate import DeflateIO as D,RAW as R\nH=bytes.fromhex\n\
from esp32 import Partition as P\np=P(P.RUNNING).get_next_update()";

/// An exec's bytes as otadeck-sim's REPL hands them to its interpreter: one char per byte.
fn latin1(code: &[u8]) -> String {
    code.iter().map(|&b| char::from(b)).collect()
}

fn sim_board() -> esp32_mp::Esp32MicroPython {
    esp32_mp::device(
        esp32_mp::Esp32Config::default(),
        demo_running_image(),
        RawPasteSupport::Window(128),
    )
    .interpreter
}

fn blocks() -> Vec<Vec<u8>> {
    let mut hard = hard_data();
    hard.resize(4096, b'\\');
    let mut x = 0x1234_5679_u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect();
    vec![
        hard,
        noise,
        vec![0; 4096],
        vec![0xFF; 4096],
        vec![0x01; 4096],
        [0x01, b'0'].iter().copied().cycle().take(4096).collect(),
    ]
}

#[test]
fn the_simulator_stores_what_the_interpreter_stores_in_every_encoding() {
    for paste in ["window", "absent"] {
        let mut real = raw_board(paste);
        let mut sim = sim_board();
        exec(&mut real, paste, SETUP, 0);
        assert_eq!(sim.exec(&latin1(SETUP)).stderr, "");
        let mut expected = Vec::new();
        let mut n = 0;
        for block in blocks() {
            for e in Encoding::PROBE_ORDER {
                n += 1;
                let mut code = format!("p.writeblocks({n},").into_bytes();
                code.extend_from_slice(&e.expression(&block));
                code.extend_from_slice(format!(")\nprint('W',{n})").as_bytes());
                let out = exec(&mut real, paste, &code, n);
                assert!(
                    contains(&out, format!("W {n}\n").as_bytes()),
                    "block {n} in {e:?}, paste={paste}: {}",
                    String::from_utf8_lossy(&out)
                );
                let r = sim.exec(&latin1(&code));
                assert_eq!(
                    (r.stdout.as_str(), r.stderr.as_str()),
                    (format!("W {n}\r\n").as_str(), ""),
                    "block {n} in {e:?} on the simulator"
                );
                if expected.is_empty() {
                    expected.resize(4096, 0xFF);
                }
                expected.extend_from_slice(&block);
            }
        }
        let state = real.finish();
        assert!(state.slot(1) == expected, "the interpreter's slot differs");
        assert!(
            sim.flash.slots[1].data == expected,
            "the simulator's slot differs"
        );
    }
}

/// What an exec came to: the exception's name, or what it printed after `X `.
fn verdict(text: &str) -> String {
    if let Some(line) = text
        .split(['\n', '\x04'])
        .find(|l| l.contains("Error:") && !l.starts_with(' '))
    {
        return line.split(':').next().unwrap().to_string();
    }
    text.lines()
        .find_map(|l| l.split_once("X ").map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| format!("nothing in {text:?}"))
}

#[test]
fn the_simulator_refuses_and_reads_literals_as_the_interpreter_does() {
    let snippets: [&[u8]; 12] = [
        b"x=b'\\777'",
        b"x=b'\\x4'",
        b"x=b'a\rb'",
        b"x=b'a\nb'",
        b"x=b'abc",
        b"x=b'\\N{DASH}'",
        b"x=b'\\q\\u12\\8\\0\\t\\a\\v\\f'",
        b"x=b\"'\\\"\"",
        b"x=b'\\1234\\01\\3777'",
        b"x=b'\x00\x05\x7f\x80\xc3\x28\xff'",
        b"x=b'\\x41\\X41'",
        b"x=b'\\\\\\''",
    ];
    let mut real = raw_board("absent");
    let mut sim = sim_board();
    for (n, s) in snippets.iter().enumerate() {
        let mut code = s.to_vec();
        code.extend_from_slice(b"\nimport binascii\nprint('X',binascii.hexlify(x))");
        let out = exec(&mut real, "absent", &code, n);
        let real_verdict = verdict(&String::from_utf8_lossy(&out));
        let r = sim.exec(&latin1(&code));
        let sim_verdict = verdict(&format!("{}{}", r.stdout, r.stderr));
        eprintln!("{:?} -> {real_verdict}", String::from_utf8_lossy(s));
        assert_eq!(
            sim_verdict,
            real_verdict,
            "{:?}",
            String::from_utf8_lossy(s)
        );
    }
    real.finish();
}
