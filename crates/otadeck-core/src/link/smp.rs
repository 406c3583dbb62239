//! MCUmgr SMP packets: the 8-byte header (op, flags, length, group, sequence, command id), the
//! CBOR body as a small [`Value`] tree, and both error forms: `rc` (SMP v1) and
//! `err {group, rc}` (SMP v2).

use std::fmt;

pub use super::smp_cbor::Value;

/// Header length.
pub const HEADER_LEN: usize = 8;
/// OS management group (echo, reset, params).
pub const GROUP_OS: u16 = 0;
/// Image management group (state, upload, erase, slot info).
pub const GROUP_IMAGE: u16 = 1;
/// OS group: echo.
pub const ID_ECHO: u8 = 0;
/// OS group: reset.
pub const ID_RESET: u8 = 5;
/// OS group: MCUmgr parameters (`buf_size`, `buf_count`).
pub const ID_PARAMS: u8 = 6;
/// Image group: state read / test / confirm.
pub const ID_STATE: u8 = 0;
/// Image group: upload.
pub const ID_UPLOAD: u8 = 1;
/// Image group: erase.
pub const ID_ERASE: u8 = 5;
/// Image group: slot info.
pub const ID_SLOT_INFO: u8 = 6;

/// The operation in bits 0-2 of byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read request.
    Read = 0,
    /// Read response.
    ReadRsp = 1,
    /// Write request.
    Write = 2,
    /// Write response.
    WriteRsp = 3,
}

impl Op {
    /// The response op to this request op.
    pub fn response(self) -> Op {
        match self {
            Op::Read | Op::ReadRsp => Op::ReadRsp,
            Op::Write | Op::WriteRsp => Op::WriteRsp,
        }
    }

    /// A request op.
    pub fn is_request(self) -> bool {
        matches!(self, Op::Read | Op::Write)
    }
}

/// The 8-byte SMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Operation.
    pub op: Op,
    /// SMP version in bits 3-4: 0 legacy, 1 SMP v2.
    pub version: u8,
    /// Flags (0).
    pub flags: u8,
    /// Body length.
    pub len: u16,
    /// Management group.
    pub group: u16,
    /// Sequence number; a response echoes its request's.
    pub seq: u8,
    /// Command id within the group.
    pub id: u8,
}

/// Why bytes are not an SMP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer than 8 bytes.
    #[error("SMP packet of {0} bytes is shorter than its 8-byte header")]
    Short(usize),
    /// The length field disagrees with the body.
    #[error("SMP header says {header} body bytes, the packet has {actual}")]
    Length { header: u16, actual: usize },
    /// The body is not a CBOR map.
    #[error("SMP body is not a CBOR map: {0}")]
    Cbor(String),
}

impl Header {
    /// The header as sent.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let [l0, l1] = self.len.to_be_bytes();
        let [g0, g1] = self.group.to_be_bytes();
        [
            (self.op as u8) | ((self.version & 3) << 3),
            self.flags,
            l0,
            l1,
            g0,
            g1,
            self.seq,
            self.id,
        ]
    }

    /// Parse the first 8 bytes.
    pub fn decode(data: &[u8]) -> Result<Header, PacketError> {
        let h = data
            .get(..HEADER_LEN)
            .ok_or(PacketError::Short(data.len()))?;
        let op = match h[0] & 7 {
            0 => Op::Read,
            1 => Op::ReadRsp,
            2 => Op::Write,
            _ => Op::WriteRsp,
        };
        Ok(Header {
            op,
            version: (h[0] >> 3) & 3,
            flags: h[1],
            len: u16::from_be_bytes([h[2], h[3]]),
            group: u16::from_be_bytes([h[4], h[5]]),
            seq: h[6],
            id: h[7],
        })
    }
}

/// A header and its decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The header.
    pub header: Header,
    /// The body (a map).
    pub body: Value,
}

impl Packet {
    /// Build a packet: the header's `len` is set from the encoded body.
    pub fn new(op: Op, version: u8, group: u16, id: u8, seq: u8, body: Value) -> Packet {
        Packet {
            header: Header {
                op,
                version,
                flags: 0,
                len: 0,
                group,
                seq,
                id,
            },
            body,
        }
    }

    /// Header + CBOR body.
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body.encode();
        let mut h = self.header;
        h.len = body.len() as u16;
        let mut out = h.encode().to_vec();
        out.extend(body);
        out
    }

    /// Parse a packet (an empty body is read as an empty map).
    pub fn decode(data: &[u8]) -> Result<Packet, PacketError> {
        let header = Header::decode(data)?;
        let body = &data[HEADER_LEN..];
        if usize::from(header.len) != body.len() {
            return Err(PacketError::Length {
                header: header.len,
                actual: body.len(),
            });
        }
        let body = if body.is_empty() {
            Value::Map(Vec::new())
        } else {
            Value::decode(body).map_err(PacketError::Cbor)?
        };
        if !matches!(body, Value::Map(_)) {
            return Err(PacketError::Cbor("top level is not a map".into()));
        }
        Ok(Packet { header, body })
    }

    /// The reply to this request, with `body`: op+1, same version, group, id and sequence.
    pub fn reply(&self, body: Value) -> Packet {
        Packet::new(
            self.header.op.response(),
            self.header.version,
            self.header.group,
            self.header.id,
            self.header.seq,
            body,
        )
    }
}

/// An error a module returned, in either form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmpError {
    /// The group of a v2 `err` (`None` for a v1 `rc`).
    pub group: Option<u16>,
    /// The return code.
    pub rc: u32,
    /// The v1 `rsn` text, when sent.
    pub reason: Option<String>,
}

impl SmpError {
    /// The name of the code: MCUmgr's `MGMT_ERR_*` for a v1 `rc` (and for group 0), Zephyr's
    /// `IMG_MGMT_ERR_*` for an image group `err`.
    pub fn name(&self) -> &'static str {
        match self.group {
            Some(GROUP_IMAGE) => image_rc_name(self.rc),
            Some(GROUP_OS) => os_rc_name(self.rc),
            Some(_) => "group error",
            None => rc_name(self.rc),
        }
    }
}

impl fmt::Display for SmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.group {
            Some(g) => write!(f, "group {g} error {} ({})", self.rc, self.name())?,
            None => write!(f, "rc {} ({})", self.rc, self.name())?,
        }
        if let Some(r) = &self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// The error in a response body: a non-zero v1 `rc`, or a v2 `err` with a non-zero `rc`.
pub fn response_error(body: &Value) -> Option<SmpError> {
    if let Some(err) = body.get("err") {
        let rc = err.get("rc").and_then(Value::as_u64).unwrap_or(1) as u32;
        if rc != 0 {
            return Some(SmpError {
                group: Some(err.get("group").and_then(Value::as_u64).unwrap_or(0) as u16),
                rc,
                reason: None,
            });
        }
    }
    match body.get("rc").and_then(Value::as_int) {
        Some(0) | None => None,
        Some(rc) => Some(SmpError {
            group: None,
            rc: u32::try_from(rc).unwrap_or(u32::MAX),
            reason: body.get("rsn").and_then(Value::as_text).map(String::from),
        }),
    }
}

/// v1 `rc` values (`MGMT_ERR_*`, Zephyr `mgmt_defines.h`).
pub mod rc {
    /// Success.
    pub const EOK: u32 = 0;
    /// Unknown error.
    pub const EUNKNOWN: u32 = 1;
    /// Out of memory.
    pub const ENOMEM: u32 = 2;
    /// Invalid argument.
    pub const EINVAL: u32 = 3;
    /// Timed out.
    pub const ETIMEOUT: u32 = 4;
    /// No such entry.
    pub const ENOENT: u32 = 5;
    /// Operation not allowed in the current state.
    pub const EBADSTATE: u32 = 6;
    /// Message too large.
    pub const EMSGSIZE: u32 = 7;
    /// Command not supported.
    pub const ENOTSUP: u32 = 8;
    /// Corrupted data.
    pub const ECORRUPT: u32 = 9;
    /// Busy.
    pub const EBUSY: u32 = 10;
    /// Access denied.
    pub const EACCESSDENIED: u32 = 11;
}

/// The name of a v1 `rc`.
pub fn rc_name(code: u32) -> &'static str {
    match code {
        0 => "EOK",
        1 => "EUNKNOWN",
        2 => "ENOMEM",
        3 => "EINVAL",
        4 => "ETIMEOUT",
        5 => "ENOENT",
        6 => "EBADSTATE",
        7 => "EMSGSIZE",
        8 => "ENOTSUP",
        9 => "ECORRUPT",
        10 => "EBUSY",
        11 => "EACCESSDENIED",
        12 => "UNSUPPORTED_TOO_OLD",
        13 => "UNSUPPORTED_TOO_NEW",
        256.. => "per-user error",
        _ => "unknown error",
    }
}

fn os_rc_name(code: u32) -> &'static str {
    match code {
        1 => "OS_MGMT_ERR_UNKNOWN",
        2 => "OS_MGMT_ERR_INVALID_FORMAT",
        3 => "OS_MGMT_ERR_QUERY_YIELDS_NO_ANSWER",
        _ => "OS group error",
    }
}

/// Image group v2 codes (Zephyr `img_mgmt_err_code_t`) the simulator and the driver use.
pub mod img_rc {
    /// No image in the slot.
    pub const NO_IMAGE: u32 = 3;
    /// The hash names no image.
    pub const HASH_NOT_FOUND: u32 = 8;
    /// Flash write failed.
    pub const FLASH_WRITE_FAILED: u32 = 12;
    /// Invalid slot.
    pub const INVALID_SLOT: u32 = 14;
    /// Invalid offset.
    pub const INVALID_OFFSET: u32 = 20;
    /// Invalid length.
    pub const INVALID_LENGTH: u32 = 21;
    /// The first chunk holds no MCUboot header magic.
    pub const INVALID_IMAGE_HEADER_MAGIC: u32 = 23;
    /// The data's SHA-256 differs from `sha`.
    pub const INVALID_HASH: u32 = 24;
    /// The slot holds a pending image.
    pub const IMAGE_ALREADY_PENDING: u32 = 28;
    /// The image does not fit the slot.
    pub const INVALID_IMAGE_TOO_LARGE: u32 = 30;
    /// The slot is in use (the image the module would revert to).
    pub const IMAGE_SETTING_TEST_TO_ACTIVE_DENIED: u32 = 33;
}

fn image_rc_name(code: u32) -> &'static str {
    match code {
        1 => "IMG_MGMT_ERR_UNKNOWN",
        3 => "IMG_MGMT_ERR_NO_IMAGE",
        8 => "IMG_MGMT_ERR_HASH_NOT_FOUND",
        12 => "IMG_MGMT_ERR_FLASH_WRITE_FAILED",
        14 => "IMG_MGMT_ERR_INVALID_SLOT",
        20 => "IMG_MGMT_ERR_INVALID_OFFSET",
        21 => "IMG_MGMT_ERR_INVALID_LENGTH",
        23 => "IMG_MGMT_ERR_INVALID_IMAGE_HEADER_MAGIC",
        24 => "IMG_MGMT_ERR_INVALID_HASH",
        28 => "IMG_MGMT_ERR_IMAGE_ALREADY_PENDING",
        30 => "IMG_MGMT_ERR_INVALID_IMAGE_TOO_LARGE",
        33 => "IMG_MGMT_ERR_IMAGE_SETTING_TEST_TO_ACTIVE_DENIED",
        _ => "image group error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s = s.replace(' ', "");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn echo_packet_matches_the_golden_vector() {
        let p = Packet::new(
            Op::Write,
            0,
            GROUP_OS,
            ID_ECHO,
            0,
            Value::map([("d", Value::Text("hello".into()))]),
        );
        assert_eq!(p.encode(), hex("0200000900000000a161646568656c6c6f"));
        let back = Packet::decode(&p.encode()).unwrap();
        assert_eq!(
            back,
            Packet {
                header: Header { len: 9, ..p.header },
                ..p
            }
        );
    }

    #[test]
    fn upload_body_matches_the_mcuboot_test_vector() {
        let want = hex(
            "a36464617461 5810 a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5 636c656e 1a000114e8 636f6666 00"
                .replace(' ', "")
                .as_str(),
        );
        let body = Value::map([
            ("data", Value::Bytes(vec![0xa5; 16])),
            ("len", Value::Int(70888)),
            ("off", Value::Int(0)),
        ]);
        // The vector spells the 16-byte string's length in one extra byte (58 10); the encoder
        // writes the shortest form (50), which decodes the same.
        assert_eq!(Value::decode(&want).unwrap(), body);
        let mut shortest = want.clone();
        shortest.splice(6..8, [0x50]);
        assert_eq!(body.encode(), shortest);
    }

    #[test]
    fn v2_header_bits_and_replies() {
        let p = Packet::new(Op::Read, 1, GROUP_OS, ID_PARAMS, 7, Value::map([]));
        let bytes = p.encode();
        assert_eq!(bytes[0], 0x08);
        let r = p.reply(Value::map([("buf_size", Value::Int(384))]));
        assert_eq!(r.encode()[0], 0x09);
        assert_eq!(r.header.seq, 7);
        assert_eq!(r.header.op, Op::ReadRsp);
    }

    #[test]
    fn both_error_forms_are_read() {
        let v1 = Value::map([
            ("rc", Value::Int(6)),
            ("rsn", Value::Text("pending".into())),
        ]);
        let e = response_error(&v1).unwrap();
        assert_eq!(e.to_string(), "rc 6 (EBADSTATE): pending");
        let v2 = Value::map([(
            "err",
            Value::map([("group", Value::Int(1)), ("rc", Value::Int(8))]),
        )]);
        let e = response_error(&v2).unwrap();
        assert_eq!(e.group, Some(1));
        assert_eq!(e.name(), "IMG_MGMT_ERR_HASH_NOT_FOUND");
        assert_eq!(response_error(&Value::map([("rc", Value::Int(0))])), None);
        assert_eq!(response_error(&Value::map([("off", Value::Int(5))])), None);
    }

    #[test]
    fn short_and_mislabelled_packets_are_refused() {
        assert!(matches!(
            Packet::decode(&[0; 3]),
            Err(PacketError::Short(3))
        ));
        assert!(matches!(
            Packet::decode(&hex("0100000500000000a0")),
            Err(PacketError::Length { header: 5, .. })
        ));
        assert!(matches!(
            Packet::decode(&hex("010000010000000001")),
            Err(PacketError::Cbor(_))
        ));
    }
}
