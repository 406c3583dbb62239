//! SLIP framing as the Espressif serial loader uses it: `0xC0` opens and closes each frame, and
//! inside a frame `C0` is sent as `DB DC` and `DB` as `DB DD`.
//!
//! The decoder is streaming: feed it whatever the port delivered, in any splits; bytes outside
//! a frame (boot messages printed before the loader starts, line noise) are skipped.

/// Frame delimiter.
pub const END: u8 = 0xC0;
/// Escape byte.
pub const ESC: u8 = 0xDB;
/// `ESC ESC_END` stands for [`END`] inside a frame.
pub const ESC_END: u8 = 0xDC;
/// `ESC ESC_ESC` stands for [`ESC`] inside a frame.
pub const ESC_ESC: u8 = 0xDD;

/// `payload` as one SLIP frame, delimiters included.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 32 + 2);
    out.push(END);
    for &b in payload {
        match b {
            END => out.extend_from_slice(&[ESC, ESC_END]),
            ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
            _ => out.push(b),
        }
    }
    out.push(END);
    out
}

/// Something wrong inside a frame; the frame is dropped and the decoder waits for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlipError {
    /// `DB` followed by a byte other than `DC` or `DD`.
    BadEscape(u8),
    /// A frame grew beyond the decoder's limit without closing.
    TooLong(usize),
}

/// What the decoder produced from the bytes fed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlipItem {
    /// A complete frame's payload (never empty: `C0 C0` is a delimiter pair, not a frame).
    Frame(Vec<u8>),
    /// A damaged frame was dropped.
    Error(SlipError),
}

/// A streaming SLIP decoder.
#[derive(Debug, Clone)]
pub struct SlipDecoder {
    buf: Vec<u8>,
    in_frame: bool,
    escaped: bool,
    broken: bool,
    max_len: usize,
    skipped: u64,
}

impl Default for SlipDecoder {
    fn default() -> Self {
        Self::new(64 * 1024)
    }
}

impl SlipDecoder {
    /// A decoder that drops frames longer than `max_len` payload bytes.
    pub fn new(max_len: usize) -> Self {
        SlipDecoder {
            buf: Vec::new(),
            in_frame: false,
            escaped: false,
            broken: false,
            max_len,
            skipped: 0,
        }
    }

    /// Bytes seen outside any frame so far (boot noise).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Forget a partial frame (after a reset of the module, say).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.in_frame = false;
        self.escaped = false;
        self.broken = false;
    }

    /// Feed received bytes; returns the frames (and dropped-frame errors) they completed.
    pub fn feed(&mut self, data: &[u8]) -> Vec<SlipItem> {
        let mut out = Vec::new();
        for &b in data {
            if !self.in_frame {
                if b == END {
                    self.in_frame = true;
                } else {
                    self.skipped += 1;
                }
                continue;
            }
            if b == END {
                if self.broken {
                    self.broken = false;
                    self.buf.clear();
                    self.escaped = false;
                    // The closing delimiter; the next one opens a frame.
                    self.in_frame = false;
                    continue;
                }
                if self.buf.is_empty() {
                    // `C0 C0`: the end of one frame and the start of the next; stay inside.
                    continue;
                }
                out.push(SlipItem::Frame(std::mem::take(&mut self.buf)));
                self.in_frame = false;
                self.escaped = false;
                continue;
            }
            if self.broken {
                continue;
            }
            let byte = if self.escaped {
                self.escaped = false;
                match b {
                    ESC_END => END,
                    ESC_ESC => ESC,
                    other => {
                        out.push(SlipItem::Error(SlipError::BadEscape(other)));
                        self.broken = true;
                        continue;
                    }
                }
            } else if b == ESC {
                self.escaped = true;
                continue;
            } else {
                b
            };
            if self.buf.len() >= self.max_len {
                out.push(SlipItem::Error(SlipError::TooLong(self.buf.len())));
                self.broken = true;
                continue;
            }
            self.buf.push(byte);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(items: Vec<SlipItem>) -> Vec<Vec<u8>> {
        items
            .into_iter()
            .filter_map(|i| match i {
                SlipItem::Frame(f) => Some(f),
                SlipItem::Error(_) => None,
            })
            .collect()
    }

    #[test]
    fn escapes_both_special_bytes() {
        assert_eq!(
            encode(&[1, 0xC0, 2, 0xDB, 3]),
            vec![0xC0, 1, 0xDB, 0xDC, 2, 0xDB, 0xDD, 3, 0xC0]
        );
    }

    #[test]
    fn decodes_every_split_and_skips_noise() {
        let a: Vec<u8> = (0..=255u8).collect();
        let b = vec![0xC0, 0xDB, 0xC0];
        let mut wire = b"ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET)\r\n".to_vec();
        wire.extend(encode(&a));
        wire.extend_from_slice(b"noise");
        wire.extend(encode(&b));
        for split in 1..wire.len() {
            let mut d = SlipDecoder::default();
            let mut got = frames(d.feed(&wire[..split]));
            got.extend(frames(d.feed(&wire[split..])));
            assert_eq!(got, vec![a.clone(), b.clone()], "split at {split}");
        }
        let mut d = SlipDecoder::default();
        let mut got = Vec::new();
        for byte in &wire {
            got.extend(frames(d.feed(std::slice::from_ref(byte))));
        }
        assert_eq!(got, vec![a, b]);
    }

    #[test]
    fn a_bad_escape_drops_that_frame_only() {
        let mut wire = vec![0xC0, 1, 0xDB, 0x00, 2, 0xC0];
        wire.extend(encode(&[7, 8]));
        let items = SlipDecoder::default().feed(&wire);
        assert_eq!(
            items,
            vec![
                SlipItem::Error(SlipError::BadEscape(0)),
                SlipItem::Frame(vec![7, 8])
            ]
        );
    }

    #[test]
    fn back_to_back_frames_share_delimiters() {
        let mut wire = encode(&[1]);
        wire.extend(encode(&[2]));
        wire.extend_from_slice(&[0xC0, 3, 0xC0]);
        let got = frames(SlipDecoder::default().feed(&wire));
        assert_eq!(got, vec![vec![1], vec![2], vec![3]]);
    }
}
