//! MCUmgr SMP packets: the 8-byte header (op, flags, length, group, sequence, command id), the
//! CBOR body as a small [`Value`] tree, and both error forms: `rc` (SMP v1) and
//! `err {group, rc}` (SMP v2).

use std::fmt;

use minicbor::data::Type;

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

/// A CBOR data item, as much of CBOR as SMP uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i128),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A text string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// `null` or `undefined`.
    Null,
    /// A float (kept for completeness).
    Float(f64),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order.
    Map(Vec<(Value, Value)>),
}

const MAX_DEPTH: usize = 16;

impl Value {
    /// A map with text keys.
    pub fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Text(k.into()), v))
                .collect(),
        )
    }

    /// The value under text key `key`, when this is a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Add or replace `key` in a map.
    pub fn insert(&mut self, key: &str, value: Value) {
        if let Value::Map(m) = self {
            m.retain(|(k, _)| !matches!(k, Value::Text(t) if t == key));
            m.push((Value::Text(key.into()), value));
        }
    }

    /// The integer, if it is one.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The integer as u64, if it is a non-negative one that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_int().and_then(|i| u64::try_from(i).ok())
    }

    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text, if it is a text string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The bytes, if it is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if it is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Encode as CBOR (definite lengths).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = minicbor::Encoder::new(Vec::new());
        self.write(&mut e);
        e.into_writer()
    }

    fn write(&self, e: &mut minicbor::Encoder<Vec<u8>>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Value::Int(i) => match (u64::try_from(*i), i64::try_from(*i)) {
                (Ok(u), _) => e.u64(u),
                (_, Ok(s)) => e.i64(s),
                _ => e.null(),
            },
            Value::Bytes(b) => e.bytes(b),
            Value::Text(t) => e.str(t),
            Value::Bool(b) => e.bool(*b),
            Value::Null => e.null(),
            Value::Float(f) => e.f64(*f),
            Value::Array(a) => {
                let _ = e.array(a.len() as u64);
                for v in a {
                    v.write(e);
                }
                Ok(&mut *e)
            }
            Value::Map(m) => {
                let _ = e.map(m.len() as u64);
                for (k, v) in m {
                    k.write(e);
                    v.write(e);
                }
                Ok(&mut *e)
            }
        };
    }

    /// Decode one CBOR item that fills `data` (indefinite lengths and tags accepted).
    pub fn decode(data: &[u8]) -> Result<Value, String> {
        let mut d = minicbor::Decoder::new(data);
        let v = read(&mut d, 0)?;
        if d.position() != data.len() {
            return Err(format!(
                "{} bytes after the CBOR item",
                data.len() - d.position()
            ));
        }
        Ok(v)
    }
}

fn read(d: &mut minicbor::Decoder<'_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("CBOR nested too deep".into());
    }
    let e = |x: minicbor::decode::Error| x.to_string();
    Ok(match d.datatype().map_err(e)? {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::Int(d.u64().map_err(e)?.into()),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
            Value::Int(i128::from(d.int().map_err(e)?))
        }
        Type::Bytes => Value::Bytes(d.bytes().map_err(e)?.to_vec()),
        Type::BytesIndef => {
            let mut out = Vec::new();
            for part in d.bytes_iter().map_err(e)? {
                out.extend_from_slice(part.map_err(e)?);
            }
            Value::Bytes(out)
        }
        Type::String => Value::Text(d.str().map_err(e)?.to_string()),
        Type::StringIndef => {
            let mut out = String::new();
            for part in d.str_iter().map_err(e)? {
                out.push_str(part.map_err(e)?);
            }
            Value::Text(out)
        }
        Type::Bool => Value::Bool(d.bool().map_err(e)?),
        Type::Null | Type::Undefined => {
            d.skip().map_err(e)?;
            Value::Null
        }
        Type::F16 | Type::F32 | Type::F64 => Value::Float(d.f64().map_err(e)?),
        Type::Array | Type::ArrayIndef => {
            let n = d.array().map_err(e)?;
            let mut items = Vec::new();
            match n {
                Some(n) => {
                    for _ in 0..n {
                        items.push(read(d, depth + 1)?);
                    }
                }
                None => {
                    while d.datatype().map_err(e)? != Type::Break {
                        items.push(read(d, depth + 1)?);
                    }
                    d.skip().map_err(e)?;
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let n = d.map().map_err(e)?;
            let mut items = Vec::new();
            match n {
                Some(n) => {
                    for _ in 0..n {
                        let k = read(d, depth + 1)?;
                        items.push((k, read(d, depth + 1)?));
                    }
                }
                None => {
                    while d.datatype().map_err(e)? != Type::Break {
                        let k = read(d, depth + 1)?;
                        items.push((k, read(d, depth + 1)?));
                    }
                    d.skip().map_err(e)?;
                }
            }
            Value::Map(items)
        }
        Type::Tag => {
            d.tag().map_err(e)?;
            read(d, depth + 1)?
        }
        other => return Err(format!("unsupported CBOR item {other}")),
    })
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
    fn indefinite_lengths_and_bad_packets() {
        // {_ "a": [_ 1, -2], "b": (_ h'01', h'02')}
        let data = hex("bf6161 9f0121ff 6162 5f41014102ff ff");
        let v = Value::decode(&data).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Value::Array(vec![Value::Int(1), Value::Int(-2)]))
        );
        assert_eq!(v.get("b").and_then(Value::as_bytes), Some(&[1u8, 2][..]));
        assert!(matches!(
            Packet::decode(&[0; 3]),
            Err(PacketError::Short(3))
        ));
        assert!(matches!(
            Packet::decode(&hex("0100000500000000a0")),
            Err(PacketError::Length { header: 5, .. })
        ));
        let deep = [[0x81u8; 40].as_slice(), &[0x00]].concat();
        assert!(Value::decode(&deep).is_err());
    }
}
