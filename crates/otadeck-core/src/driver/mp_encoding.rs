//! How image bytes travel inside Python source on a MicroPython REPL, probed the way mpremote's
//! `romfs deploy` does: raw deflate + base64 when the module has `deflate` and `binascii`, base64
//! when it has `binascii`, hex (`bytes.fromhex`) as the last resort.

use base64::Engine as _;

use crate::driver::repl_flow::Reply;

/// The window `DeflateIO` is asked for (2^12 = 4 KiB, `wbits` 12). MicroPython's decompressor
/// allocates that window and refuses back-references beyond it with `OSError(EINVAL)`; the data
/// of one expression is never longer than the window, so no reference can reach further.
pub const DEFLATE_WBITS: u32 = 12;

/// An encoding of bytes in Python source, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    /// `D(B(A(b'…')),R,12).read()`: raw deflate with a 4 KiB window ([`DEFLATE_WBITS`]), then
    /// base64.
    DeflateBase64,
    /// `A(b'…')`: base64.
    Base64,
    /// `bytes.fromhex('…')`.
    Hex,
}

impl Encoding {
    /// The encodings in the order they are probed.
    pub const PROBE_ORDER: [Encoding; 3] =
        [Encoding::DeflateBase64, Encoding::Base64, Encoding::Hex];

    /// The imports this encoding needs on the module (names `A`, `B`, `D`, `R`), run once before
    /// the first write. A module without them raises `ImportError`.
    pub fn imports(self) -> &'static str {
        match self {
            Encoding::DeflateBase64 => {
                "from binascii import a2b_base64 as A\nfrom io import BytesIO as B\nfrom deflate import DeflateIO as D,RAW as R"
            }
            Encoding::Base64 => "from binascii import a2b_base64 as A",
            Encoding::Hex => "H=bytes.fromhex",
        }
    }

    /// A Python expression that evaluates to `data` on the module.
    ///
    /// # Panics
    /// For [`Encoding::DeflateBase64`] when `data` is longer than the deflate window (4 KiB):
    /// the module could not inflate it.
    pub fn expression(self, data: &[u8]) -> String {
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
            }
            Encoding::Base64 => format!(
                "A(b'{}')",
                base64::engine::general_purpose::STANDARD.encode(data)
            ),
            Encoding::Hex => {
                let mut s = String::with_capacity(data.len() * 2 + 6);
                s.push_str("H('");
                for b in data {
                    s.push_str(&format!("{b:02x}"));
                }
                s.push_str("')");
                s
            }
        }
    }

    /// How it reads in the log.
    pub fn describe(self) -> &'static str {
        match self {
            Encoding::DeflateBase64 => "deflate-compressed and base64-encoded",
            Encoding::Base64 => "base64-encoded",
            Encoding::Hex => "hex-encoded",
        }
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

    /// The reply to the last candidate's imports. `None` when not even hex works (the module is
    /// no MicroPython the driver can use).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trips_through_raw_inflate() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8).collect();
        let expr = Encoding::DeflateBase64.expression(&data);
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
        assert_eq!(Encoding::Hex.expression(&[0, 0xab, 0xff]), "H('00abff')");
        assert_eq!(Encoding::Base64.expression(b"hi!"), "A(b'aGkh')");
    }

    #[test]
    fn the_probe_falls_back_in_order_and_gives_up_after_hex() {
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
        assert_eq!(p.on_reply(missing), None);
    }
}
