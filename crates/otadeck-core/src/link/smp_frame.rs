//! MCUmgr SMP serial framing, as Zephyr's console transport and MCUboot serial recovery use it:
//! `len u16 BE (= packet + 2)` ‖ SMP packet ‖ CRC-16/XMODEM BE, base64-encoded and cut into lines
//! of at most 127 bytes: the first starts `06 09`, the following ones `04 14`, each ends with `\n`.
//! [`FrameDecoder`] takes bytes split anywhere and skips console output between frames.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// First-frame marker.
pub const START: [u8; 2] = [0x06, 0x09];
/// Continuation-frame marker.
pub const CONTINUATION: [u8; 2] = [0x04, 0x14];
/// Longest line Zephyr's console transport takes: marker + 124 base64 characters + `\n`.
pub const MAX_LINE: usize = 127;
/// Base64 characters in one line (a multiple of 4, so each line decodes on its own).
pub const LINE_BASE64: usize = 124;
/// Longest base64 text the decoder accepts in one line (other senders use longer lines).
pub const MAX_DECODED_LINE: usize = 4096;
/// Longest packet the decoder reassembles.
pub const MAX_PACKET: usize = 65_535;

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

/// CRC-16/XMODEM (poly 0x1021, init 0, not reflected), as Zephyr's `crc16_itu_t`.
pub fn crc16(data: &[u8]) -> u16 {
    CRC16.checksum(data)
}

/// Frame one SMP packet (header + CBOR body) into console lines.
pub fn encode(packet: &[u8]) -> Vec<u8> {
    encode_lines(packet, LINE_BASE64)
}

/// Frame one packet with at most `line_base64` base64 characters a line (rounded down to a
/// multiple of 4, at least 4).
pub fn encode_lines(packet: &[u8], line_base64: usize) -> Vec<u8> {
    let per_line = (line_base64 / 4).max(1) * 4;
    let mut raw = Vec::with_capacity(packet.len() + 4);
    raw.extend_from_slice(&((packet.len() + 2) as u16).to_be_bytes());
    raw.extend_from_slice(packet);
    raw.extend_from_slice(&crc16(packet).to_be_bytes());
    let text = STANDARD.encode(&raw);
    let mut out = Vec::with_capacity(text.len() + text.len() / per_line * 3 + 3);
    for (i, line) in text.as_bytes().chunks(per_line).enumerate() {
        out.extend_from_slice(if i == 0 { &START } else { &CONTINUATION });
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// Bytes on the wire for a packet of `packet_len` bytes.
pub fn encoded_len(packet_len: usize) -> usize {
    let b64 = (packet_len + 4).div_ceil(3) * 4;
    b64 + b64.div_ceil(LINE_BASE64) * 3
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A line held characters that are not base64.
    #[error("a frame line is not valid base64")]
    BadBase64,
    /// The CRC over the packet did not match.
    #[error("frame checksum mismatch (CRC-16 {got:#06x}, computed {computed:#06x})")]
    BadCrc { got: u16, computed: u16 },
    /// More data arrived than the length field announced.
    #[error("frame carries {got} bytes where its length field says {expected}")]
    Overrun { expected: usize, got: usize },
    /// A length field too short to hold a CRC.
    #[error("frame length field {0} is too short")]
    BadLength(usize),
    /// A continuation line with no first line before it.
    #[error("continuation line without a start line")]
    Orphan,
    /// A line longer than the decoder takes.
    #[error("frame line longer than {MAX_DECODED_LINE} characters")]
    LineTooLong,
}

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete SMP packet whose CRC checked.
    Packet(Vec<u8>),
    /// A frame that was dropped.
    Error(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside a frame (console output).
    Noise,
    /// Saw the first byte of a marker.
    Marker(u8),
    /// Inside a line; `true` for a first line.
    Line(bool),
    /// Skipping an over-long line up to its newline.
    Skip,
}

/// Reassembles packets from console bytes.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    state: State,
    line: Vec<u8>,
    raw: Vec<u8>,
    in_packet: bool,
    noise: Vec<u8>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder between frames.
    pub fn new() -> Self {
        FrameDecoder {
            state: State::Noise,
            line: Vec::new(),
            raw: Vec::new(),
            in_packet: false,
            noise: Vec::new(),
        }
    }

    /// Forget any partial frame.
    pub fn reset(&mut self) {
        *self = FrameDecoder::new();
    }

    /// Console bytes seen outside frames since the last call (boot banners, log lines).
    pub fn take_noise(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.noise)
    }

    /// Feed received bytes; returns the packets (and dropped frames) they completed.
    pub fn push(&mut self, data: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        for &b in data {
            self.byte(b, &mut out);
        }
        out
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Frame>) {
        match self.state {
            State::Noise => {
                if b == START[0] || b == CONTINUATION[0] {
                    self.state = State::Marker(b);
                } else if self.noise.len() < 4096 {
                    self.noise.push(b);
                }
            }
            State::Marker(first) => {
                self.state = match (first, b) {
                    (0x06, 0x09) => State::Line(true),
                    (0x04, 0x14) => State::Line(false),
                    _ => {
                        self.noise.push(first);
                        State::Noise
                    }
                };
                self.line.clear();
            }
            State::Line(first) => {
                if b == b'\n' {
                    self.state = State::Noise;
                    self.end_line(first, out);
                } else if b != b'\r' {
                    if self.line.len() >= MAX_DECODED_LINE {
                        self.state = State::Skip;
                        self.in_packet = false;
                        out.push(Frame::Error(FrameError::LineTooLong));
                    } else {
                        self.line.push(b);
                    }
                }
            }
            State::Skip => {
                if b == b'\n' {
                    self.state = State::Noise;
                }
            }
        }
    }

    fn end_line(&mut self, first: bool, out: &mut Vec<Frame>) {
        if first {
            self.raw.clear();
            self.in_packet = true;
        } else if !self.in_packet {
            out.push(Frame::Error(FrameError::Orphan));
            return;
        }
        match STANDARD.decode(&self.line) {
            Ok(bytes) => self.raw.extend_from_slice(&bytes),
            Err(_) => {
                self.in_packet = false;
                out.push(Frame::Error(FrameError::BadBase64));
                return;
            }
        }
        if self.raw.len() < 2 {
            return;
        }
        let expected = usize::from(u16::from_be_bytes([self.raw[0], self.raw[1]]));
        if expected < 2 {
            self.in_packet = false;
            out.push(Frame::Error(FrameError::BadLength(expected)));
            return;
        }
        let got = self.raw.len() - 2;
        if got < expected {
            return;
        }
        self.in_packet = false;
        if got > expected {
            out.push(Frame::Error(FrameError::Overrun { expected, got }));
            return;
        }
        let body = &self.raw[2..];
        let (packet, crc) = body.split_at(body.len() - 2);
        let got = u16::from_be_bytes([crc[0], crc[1]]);
        let computed = crc16(packet);
        if got == computed {
            out.push(Frame::Packet(packet.to_vec()));
        } else {
            out.push(Frame::Error(FrameError::BadCrc { got, computed }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &str = "0200000900000000a161646568656c6c6f";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn crc_check_values() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(&hex(ECHO)), 0x256F);
    }

    #[test]
    fn echo_frame_matches_the_golden_vector() {
        let mut want = vec![0x06, 0x09];
        want.extend_from_slice(b"ABMCAAAJAAAAAKFhZGVoZWxsbyVv\n");
        assert_eq!(encode(&hex(ECHO)), want);
        assert_eq!(encoded_len(hex(ECHO).len()), want.len());
        let mut d = FrameDecoder::new();
        assert_eq!(d.push(&want), vec![Frame::Packet(hex(ECHO))]);
    }

    #[test]
    fn long_packets_use_127_byte_lines_and_decode_from_any_split() {
        let packet: Vec<u8> = (0..700u32).map(|i| (i * 7) as u8).collect();
        let wire = encode(&packet);
        assert_eq!(wire.len(), encoded_len(packet.len()));
        let lines: Vec<&[u8]> = wire.split_inclusive(|b| *b == b'\n').collect();
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE));
        assert_eq!(&lines[0][..2], &START);
        assert!(lines[1..].iter().all(|l| l[..2] == CONTINUATION));
        for split in [1, 2, 3, 50, 126, 127, 128, 500] {
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            for part in wire.chunks(split) {
                got.extend(d.push(part));
            }
            assert_eq!(got, vec![Frame::Packet(packet.clone())], "split {split}");
        }
    }

    #[test]
    fn console_noise_between_frames_is_skipped_and_kept_aside() {
        let mut wire = b"*** Booting Zephyr OS ***\r\nuart:~$ ".to_vec();
        wire.extend(encode(&hex(ECHO)));
        wire.extend_from_slice(b"[00:00:01] log line\r\n");
        wire.extend(encode(b"12345678"));
        let mut d = FrameDecoder::new();
        let got = d.push(&wire);
        assert_eq!(
            got,
            vec![
                Frame::Packet(hex(ECHO)),
                Frame::Packet(b"12345678".to_vec())
            ]
        );
        assert!(String::from_utf8_lossy(&d.take_noise()).contains("Booting Zephyr"));
    }

    #[test]
    fn a_flipped_bit_is_a_crc_error_and_the_next_frame_still_decodes() {
        let mut bad = encode(&hex(ECHO));
        bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
        let mut d = FrameDecoder::new();
        let got = d.push(&bad);
        assert!(matches!(got[..], [Frame::Error(FrameError::BadCrc { .. })]));
        assert_eq!(d.push(&encode(&hex(ECHO))), vec![Frame::Packet(hex(ECHO))]);
    }

    #[test]
    fn bad_lines_are_reported() {
        let mut d = FrameDecoder::new();
        assert_eq!(
            d.push(b"\x04\x14AAAA\n"),
            vec![Frame::Error(FrameError::Orphan)]
        );
        assert_eq!(
            d.push(b"\x06\x09!!!!\n"),
            vec![Frame::Error(FrameError::BadBase64)]
        );
        // Length 3 announced, 4 bytes after it.
        let raw = STANDARD.encode([0, 3, 1, 2, 3, 4]);
        let mut line = START.to_vec();
        line.extend_from_slice(raw.as_bytes());
        line.push(b'\n');
        assert_eq!(
            d.push(&line),
            vec![Frame::Error(FrameError::Overrun {
                expected: 3,
                got: 4
            })]
        );
        // A start line abandons a partial packet.
        let wire = encode(&[9u8; 300]);
        let cut = wire.iter().position(|b| *b == b'\n').unwrap() + 1;
        assert!(d.push(&wire[..cut]).is_empty());
        assert_eq!(d.push(&encode(b"ok")), vec![Frame::Packet(b"ok".to_vec())]);
    }
}
