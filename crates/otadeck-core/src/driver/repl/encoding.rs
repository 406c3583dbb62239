//! How image bytes travel inside Python source on a MicroPython REPL. Probed the way mpremote's
//! `romfs deploy` does: raw deflate + base64 when the module has `deflate` and `binascii`, base64
//! when it has `binascii`, hex (`bytes.fromhex`) when it has that; a bytes literal that carries
//! most bytes verbatim needs nothing and is always there. Each chunk then goes in whichever of
//! the module's encodings gives the fewest wire bytes ([`ChunkEncoder`]).

use base64::Engine as _;

use crate::driver::repl::flow::{Reply, Report};
use crate::session::{group_digits, LogLevel};

/// The window `DeflateIO` is asked for (2^12 = 4 KiB, `wbits` 12). MicroPython's decompressor
/// allocates that window and refuses back-references beyond it with `OSError(EINVAL)`; the data
/// of one expression is never longer than the window, so no reference can reach further.
pub const DEFLATE_WBITS: u32 = 12;

/// Bytes that cannot stand verbatim inside `b'…'` in a raw-REPL exec, besides the quote
/// character itself. Measured on MicroPython 1.27 (`tests/it/real_mp_literal.rs`): Ctrl-A and
/// Ctrl-B act on a plain raw REPL (reset, leave), Ctrl-C and Ctrl-D end the input in both raw
/// and raw-paste mode, CR and LF end the line (the lexer turns CR into LF), and `\` starts an
/// escape. Every other byte, NUL and 0x7f-0xff (non-UTF-8 included) among them, is taken as is.
pub const LITERAL_ESCAPED: [u8; 7] = [0x01, 0x02, 0x03, 0x04, b'\n', b'\r', b'\\'];

/// An encoding of bytes in Python source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encoding {
    /// `D(B(A(b'…')),R,12).read()`: raw deflate with a 4 KiB window ([`DEFLATE_WBITS`]), then
    /// base64.
    DeflateBase64,
    /// `A(b'…')`: base64.
    Base64,
    /// `bytes.fromhex('…')`.
    Hex,
    /// `b'…'`: the bytes themselves, with [`LITERAL_ESCAPED`] and the quote escaped.
    BytesLiteral,
}

/// Does the byte `b` start an octal escape's next digit (so a short `\1` before it would take it)?
fn is_octal_digit(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

/// `data` as a Python bytes literal, quoted with whichever of `'` and `"` it holds fewer of, each
/// byte that must be escaped in its shortest escape.
pub fn bytes_literal(data: &[u8]) -> Vec<u8> {
    let singles = data.iter().filter(|&&b| b == b'\'').count();
    let doubles = data.iter().filter(|&&b| b == b'"').count();
    let quote = if doubles < singles { b'"' } else { b'\'' };
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 3);
    out.push(b'b');
    out.push(quote);
    for (i, &b) in data.iter().enumerate() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ if b == quote => out.extend_from_slice(&[b'\\', quote]),
            0x01..=0x04 => {
                // `\1` unless an octal digit follows verbatim; then all three digits.
                if data.get(i + 1).is_some_and(|&n| is_octal_digit(n)) {
                    out.extend_from_slice(&[b'\\', b'0', b'0', b'0' + b]);
                } else {
                    out.extend_from_slice(&[b'\\', b'0' + b]);
                }
            }
            _ => out.push(b),
        }
    }
    out.push(quote);
    out
}

impl Encoding {
    /// The encodings in the order they are probed; the last needs nothing.
    pub const PROBE_ORDER: [Encoding; 4] = [
        Encoding::DeflateBase64,
        Encoding::Base64,
        Encoding::Hex,
        Encoding::BytesLiteral,
    ];

    /// The imports this encoding needs on the module (names `A`, `B`, `D`, `R`, `H`), run once
    /// before the first write. A module without them raises `ImportError`.
    pub fn imports(self) -> &'static str {
        match self {
            Encoding::DeflateBase64 => concat!(
                "from binascii import a2b_base64 as A\nfrom io import BytesIO as B\n",
                "from deflate import DeflateIO as D,RAW as R"
            ),
            Encoding::Base64 => "from binascii import a2b_base64 as A",
            Encoding::Hex => "H=bytes.fromhex",
            // Not empty: an empty exec in plain raw mode is a soft reset.
            Encoding::BytesLiteral => "pass",
        }
    }

    /// The encodings a module whose probe found `self` decodes: the imports of deflate + base64
    /// define base64's name too, and a bytes literal needs none.
    pub fn usable(self) -> &'static [Encoding] {
        match self {
            Encoding::DeflateBase64 => &[
                Encoding::DeflateBase64,
                Encoding::Base64,
                Encoding::BytesLiteral,
            ],
            Encoding::Base64 => &[Encoding::Base64, Encoding::BytesLiteral],
            Encoding::Hex => &[Encoding::Hex, Encoding::BytesLiteral],
            Encoding::BytesLiteral => &[Encoding::BytesLiteral],
        }
    }

    /// A Python expression that evaluates to `data` on the module (not UTF-8 for
    /// [`Encoding::BytesLiteral`]).
    ///
    /// # Panics
    /// For [`Encoding::DeflateBase64`] when `data` is longer than the deflate window (4 KiB):
    /// the module could not inflate it.
    pub fn expression(self, data: &[u8]) -> Vec<u8> {
        match self {
            Encoding::DeflateBase64 => {
                assert!(
                    data.len() <= 1 << DEFLATE_WBITS,
                    "{} bytes do not fit one deflate window",
                    data.len()
                );
                let packed = miniz_oxide::deflate::compress_to_vec(data, 9);
                format!(
                    "D(B(A(b'{}')),R,{DEFLATE_WBITS}).read()",
                    base64::engine::general_purpose::STANDARD.encode(packed)
                )
                .into_bytes()
            }
            Encoding::Base64 => format!(
                "A(b'{}')",
                base64::engine::general_purpose::STANDARD.encode(data)
            )
            .into_bytes(),
            Encoding::Hex => {
                let mut s = String::with_capacity(data.len() * 2 + 6);
                s.push_str("H('");
                for b in data {
                    s.push_str(&format!("{b:02x}"));
                }
                s.push_str("')");
                s.into_bytes()
            }
            Encoding::BytesLiteral => bytes_literal(data),
        }
    }

    /// How it reads in the log.
    pub fn describe(self) -> &'static str {
        match self {
            Encoding::DeflateBase64 => "deflate-compressed and base64-encoded",
            Encoding::Base64 => "base64-encoded",
            Encoding::Hex => "hex-encoded",
            Encoding::BytesLiteral => "as bytes literals",
        }
    }
}

/// Picks, chunk by chunk, the encoding among a module's that gives the fewest wire bytes, and
/// counts the picks for the log.
#[derive(Debug, Clone)]
pub struct ChunkEncoder {
    usable: &'static [Encoding],
    used: [u64; 4],
}

impl ChunkEncoder {
    /// For a module whose probe found `found`.
    pub fn new(found: Encoding) -> Self {
        ChunkEncoder {
            usable: found.usable(),
            used: [0; 4],
        }
    }

    /// The encodings it chooses from.
    pub fn usable(&self) -> &'static [Encoding] {
        self.usable
    }

    /// The shortest expression for `data` (the earlier encoding on a tie), without counting it.
    pub fn shortest(&self, data: &[u8]) -> (Encoding, Vec<u8>) {
        let mut best: Option<(Encoding, Vec<u8>)> = None;
        for &e in self.usable {
            let expr = e.expression(data);
            if best.as_ref().is_none_or(|(_, b)| expr.len() < b.len()) {
                best = Some((e, expr));
            }
        }
        best.expect("a bytes literal is always usable")
    }

    /// The shortest expression for `data`, counted.
    pub fn encode(&mut self, data: &[u8]) -> Vec<u8> {
        let (e, expr) = self.shortest(data);
        self.record(e);
        expr
    }

    /// Count one chunk sent in `e`.
    pub fn record(&mut self, e: Encoding) {
        self.used[e as usize] += 1;
    }

    /// The choice in words, for the log: `in the shorter of deflate-compressed and
    /// base64-encoded, base64-encoded, as bytes literals`.
    pub fn describe_choice(&self) -> String {
        match self.usable {
            [only] => only.describe().to_string(),
            many => {
                let names: Vec<&str> = many.iter().map(|e| e.describe()).collect();
                format!("in the shortest of: {}", names.join("; "))
            }
        }
    }

    /// How many chunks went in `e`.
    pub fn count(&self, e: Encoding) -> u64 {
        self.used[e as usize]
    }

    /// The counts in words: `12 chunks deflate-compressed and base64-encoded, 3 as bytes
    /// literals`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = Encoding::PROBE_ORDER
            .iter()
            .filter(|&&e| self.count(e) > 0)
            .map(|&e| format!("{} {}", self.count(e), e.describe()))
            .collect();
        if parts.is_empty() {
            return "no chunks".into();
        }
        format!("chunks sent: {}", parts.join(", "))
    }
}

/// Probing the module's encodings: one exec per candidate until one imports cleanly.
#[derive(Debug, Clone, Default)]
pub struct EncodingProbe {
    tried: usize,
}

/// What a probe step wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeStep {
    /// Run this encoding's imports and report the reply.
    Try(Encoding),
    /// The module has this one (its names are now defined).
    Found(Encoding),
}

impl EncodingProbe {
    /// The first candidate to try.
    pub fn start(&mut self) -> ProbeStep {
        self.tried = 0;
        ProbeStep::Try(Encoding::PROBE_ORDER[0])
    }

    /// The reply to the last candidate's imports. `None` when even the bytes literal's probe
    /// (which imports nothing of its own) raised: what the driver runs beside the imports is
    /// missing.
    pub fn on_reply(&mut self, reply: Reply<'_>) -> Option<ProbeStep> {
        let current = Encoding::PROBE_ORDER[self.tried];
        if reply.output().is_ok() {
            return Some(ProbeStep::Found(current));
        }
        self.tried += 1;
        Encoding::PROBE_ORDER
            .get(self.tried)
            .map(|&e| ProbeStep::Try(e))
    }
}

/// Python source per write exec when the module's free heap is unknown or small: one 4 KiB
/// chunk (base64 makes it about 5.5 kB).
pub const EXEC_CODE_MIN: usize = 6000;
/// Python source per write exec, at most, however much heap the module has.
pub const EXEC_CODE_MAX: usize = 24 * 1024;
/// What a write exec may take of the free heap (1/n). Each chunk's literal stays on the heap
/// until the exec ends and the lexer briefly holds a second copy of the one it reads, so an exec
/// peaks near twice its source; a quarter leaves the other half for the decoded chunk and a
/// fragmented heap.
pub const HEAP_SHARE: usize = 4;
/// Code that prints the module's free heap, after a collection.
pub const FREE_HEAP_CODE: &str = "import gc\ngc.collect()\nprint(gc.mem_free())";

/// Python source per write exec for a module that answered [`FREE_HEAP_CODE`] with `reply`:
/// [`HEAP_SHARE`] of its free heap, within [`EXEC_CODE_MIN`]..=[`EXEC_CODE_MAX`] (logged).
/// Several chunks then go in one exec, one round trip instead of several; raw-paste flow control
/// makes a large exec safe on the wire.
pub fn exec_budget(report: &mut Report, reply: Reply<'_>) -> usize {
    let free = reply.output().ok().and_then(|o| o.parse::<usize>().ok());
    let budget = free.map_or(EXEC_CODE_MIN, |f| {
        (f / HEAP_SHARE).clamp(EXEC_CODE_MIN, EXEC_CODE_MAX)
    });
    report.log(
        LogLevel::Debug,
        format!(
            "Free heap {}: up to {} bytes of code per write",
            free.map_or("unknown".into(), |f| group_digits(f as u64)),
            group_digits(budget as u64)
        ),
    );
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What MicroPython's lexer makes of a bytes literal as [`bytes_literal`] writes it (the
    /// escapes it uses: `\\`, `\'`, `\"`, `\n`, `\r`, one to three octal digits).
    fn unescape(lit: &[u8]) -> Vec<u8> {
        let quote = lit[1];
        assert_eq!(lit[0], b'b');
        assert_eq!(*lit.last().unwrap(), quote);
        let body = &lit[2..lit.len() - 1];
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            let c = body[i];
            assert!(
                !LITERAL_ESCAPED.contains(&c) || c == b'\\',
                "{c:#x} verbatim"
            );
            assert_ne!(c, quote, "an unescaped quote");
            if c != b'\\' {
                out.push(c);
                i += 1;
                continue;
            }
            let e = body[i + 1];
            i += 2;
            out.push(match e {
                b'n' => b'\n',
                b'r' => b'\r',
                b'0'..=b'7' => {
                    let mut v = u32::from(e - b'0');
                    for _ in 0..2 {
                        match body.get(i) {
                            Some(&d) if is_octal_digit(d) => {
                                v = v * 8 + u32::from(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    v as u8
                }
                other => other,
            });
        }
        out
    }

    #[test]
    fn the_literal_escapes_only_what_the_lexer_needs_in_the_shortest_form() {
        let all: Vec<u8> = (0..=255).collect();
        let lit = bytes_literal(&all);
        assert_eq!(unescape(&lit), all);
        // Eight escapes of two characters (the quote included): 256 + 8 + `b''`.
        assert_eq!(lit.len(), 256 + 8 + 3);
        // A single quote and no double quote: quoted with double quotes, the `'` verbatim.
        assert_eq!(
            bytes_literal(b"\x01a\x017\x04\x00'\\\r\n"),
            b"b\"\\1a\\0017\\4\x00'\\\\\\r\\n\""
        );
        assert_eq!(bytes_literal(b"''\""), b"b\"''\\\"\"");
        assert_eq!(bytes_literal(b"'\"\""), b"b'\\'\"\"'");
        for seed in 0..50u32 {
            let data: Vec<u8> = (0..300u32)
                .map(|i| {
                    [1, 2, 3, 4, b'0', b'7', b'8', b'\'', b'"', b'\\']
                        [((i * 7 + seed * 13) % 10) as usize]
                })
                .collect();
            assert_eq!(unescape(&bytes_literal(&data)), data);
        }
    }

    #[test]
    fn each_chunk_goes_in_the_shortest_usable_encoding() {
        let mut enc = ChunkEncoder::new(Encoding::DeflateBase64);
        let zeros = vec![0u8; 4096];
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let ctrl = vec![0x03u8; 3000];
        assert_eq!(enc.shortest(&zeros).0, Encoding::DeflateBase64);
        assert_eq!(enc.shortest(&noise).0, Encoding::BytesLiteral);
        let lit = enc.encode(&noise);
        assert!(lit.len() < 4096 * 105 / 100, "{}", lit.len());
        enc.encode(&zeros);
        enc.encode(&noise);
        assert_eq!(
            enc.summary(),
            "chunks sent: 1 deflate-compressed and base64-encoded, 2 as bytes literals"
        );
        // Without deflate, a block of control bytes is shorter in base64 than escaped.
        let b64 = ChunkEncoder::new(Encoding::Base64);
        assert_eq!(b64.shortest(&ctrl).0, Encoding::Base64);
        assert_eq!(b64.shortest(&noise).0, Encoding::BytesLiteral);
        // A module with no decoder at all still takes literals.
        let none = ChunkEncoder::new(Encoding::BytesLiteral);
        assert_eq!(
            none.shortest(&ctrl),
            (Encoding::BytesLiteral, bytes_literal(&ctrl))
        );
    }

    #[test]
    fn deflate_round_trips_through_raw_inflate() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8).collect();
        let expr = String::from_utf8(Encoding::DeflateBase64.expression(&data)).unwrap();
        let b64 = expr
            .strip_prefix("D(B(A(b'")
            .and_then(|s| s.strip_suffix("')),R,12).read()"))
            .unwrap();
        let packed = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert!(packed.len() < 200, "{} bytes", packed.len());
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec(&packed).unwrap(),
            data
        );
    }

    #[test]
    fn hex_and_base64_expressions() {
        assert_eq!(Encoding::Hex.expression(&[0, 0xab, 0xff]), b"H('00abff')");
        assert_eq!(Encoding::Base64.expression(b"hi!"), b"A(b'aGkh')");
    }

    #[test]
    fn the_probe_falls_back_in_order_down_to_the_literal() {
        let mut p = EncodingProbe::default();
        assert_eq!(p.start(), ProbeStep::Try(Encoding::DeflateBase64));
        let missing = Reply::Output {
            stdout: "",
            stderr:
                "Traceback (most recent call last):\r\nImportError: no module named 'deflate'\r\n",
        };
        assert_eq!(p.on_reply(missing), Some(ProbeStep::Try(Encoding::Base64)));
        let ok = Reply::Output {
            stdout: "",
            stderr: "",
        };
        assert_eq!(p.on_reply(ok), Some(ProbeStep::Found(Encoding::Base64)));
        p.start();
        p.on_reply(missing);
        p.on_reply(missing);
        assert_eq!(
            p.on_reply(missing),
            Some(ProbeStep::Try(Encoding::BytesLiteral))
        );
        assert_eq!(
            p.on_reply(ok),
            Some(ProbeStep::Found(Encoding::BytesLiteral))
        );
        p.start();
        for _ in 0..3 {
            p.on_reply(missing);
        }
        assert_eq!(p.on_reply(missing), None);
    }
}
