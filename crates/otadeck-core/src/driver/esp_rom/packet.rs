//! Command and response packets of the Espressif serial loader (ROM and stub), before SLIP
//! framing: `00 op size:u16 checksum:u32 data` and `01 op size:u16 value:u32 data status`.

/// Opcodes.
pub mod op {
    /// Begin a plain flash write: erase size, blocks, block size, offset.
    pub const FLASH_BEGIN: u8 = 0x02;
    /// One block of a plain flash write.
    pub const FLASH_DATA: u8 = 0x03;
    /// Leave flash mode: 0 reboots, 1 stays in the loader.
    pub const FLASH_END: u8 = 0x04;
    /// Begin a RAM download.
    pub const MEM_BEGIN: u8 = 0x05;
    /// End a RAM download (and jump to the entry point).
    pub const MEM_END: u8 = 0x06;
    /// One block of a RAM download.
    pub const MEM_DATA: u8 = 0x07;
    /// Synchronise with the loader.
    pub const SYNC: u8 = 0x08;
    /// Write a 32-bit register.
    pub const WRITE_REG: u8 = 0x09;
    /// Read a 32-bit register (the value comes back in `value`).
    pub const READ_REG: u8 = 0x0A;
    /// Set the SPI flash geometry.
    pub const SPI_SET_PARAMS: u8 = 0x0B;
    /// Attach the SPI flash.
    pub const SPI_ATTACH: u8 = 0x0D;
    /// Read up to 64 bytes of flash (ROM).
    pub const READ_FLASH_SLOW: u8 = 0x0E;
    /// Change the baud rate.
    pub const CHANGE_BAUDRATE: u8 = 0x0F;
    /// Begin a compressed flash write.
    pub const FLASH_DEFL_BEGIN: u8 = 0x10;
    /// One block of a zlib stream.
    pub const FLASH_DEFL_DATA: u8 = 0x11;
    /// End a compressed flash write.
    pub const FLASH_DEFL_END: u8 = 0x12;
    /// MD5 of a flash region.
    pub const SPI_FLASH_MD5: u8 = 0x13;
    /// Security info (ESP32-S2 and later).
    pub const GET_SECURITY_INFO: u8 = 0x14;
    /// Read flash, windowed (stub only).
    pub const READ_FLASH: u8 = 0xD2;
}

/// The name of an opcode, for logs and errors.
pub fn op_name(op: u8) -> &'static str {
    match op {
        op::FLASH_BEGIN => "FLASH_BEGIN",
        op::FLASH_DATA => "FLASH_DATA",
        op::FLASH_END => "FLASH_END",
        op::MEM_BEGIN => "MEM_BEGIN",
        op::MEM_END => "MEM_END",
        op::MEM_DATA => "MEM_DATA",
        op::SYNC => "SYNC",
        op::WRITE_REG => "WRITE_REG",
        op::READ_REG => "READ_REG",
        op::SPI_SET_PARAMS => "SPI_SET_PARAMS",
        op::SPI_ATTACH => "SPI_ATTACH",
        op::READ_FLASH_SLOW => "READ_FLASH_SLOW",
        op::CHANGE_BAUDRATE => "CHANGE_BAUDRATE",
        op::FLASH_DEFL_BEGIN => "FLASH_DEFL_BEGIN",
        op::FLASH_DEFL_DATA => "FLASH_DEFL_DATA",
        op::FLASH_DEFL_END => "FLASH_DEFL_END",
        op::SPI_FLASH_MD5 => "SPI_FLASH_MD5",
        op::GET_SECURITY_INFO => "GET_SECURITY_INFO",
        op::READ_FLASH => "READ_FLASH",
        _ => "unknown command",
    }
}

/// The data of a SYNC command.
pub fn sync_data() -> Vec<u8> {
    let mut d = vec![0x07, 0x07, 0x12, 0x20];
    d.extend_from_slice(&[0x55; 32]);
    d
}

/// The loader's data checksum: 0xEF XORed with every byte (the value of `*_DATA` packets).
pub fn checksum(data: &[u8]) -> u32 {
    u32::from(data.iter().fold(0xEFu8, |a, b| a ^ b))
}

/// A command packet (not yet SLIP-framed). `checksum` goes in the header (only `*_DATA` use it).
pub fn command(op: u8, data: &[u8], checksum: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.push(0x00);
    out.push(op);
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(&checksum.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Little-endian u32 words as bytes.
pub fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Who answers: the mask ROM (status in the first 2 of the last 4 bytes; ESP8266: last 2) or a
/// flasher stub (last 2 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// The ROM of an ESP32 or later chip: 4 status bytes.
    Rom,
    /// The ESP8266 ROM: 2 status bytes.
    Rom8266,
    /// A flasher stub: 2 status bytes.
    Stub,
}

impl Loader {
    /// Bytes of status at the end of each response.
    pub fn status_len(self) -> usize {
        match self {
            Loader::Rom => 4,
            Loader::Rom8266 | Loader::Stub => 2,
        }
    }

    /// Flash write block size.
    pub fn flash_block(self) -> usize {
        match self {
            Loader::Rom | Loader::Rom8266 => 0x400,
            Loader::Stub => 0x4000,
        }
    }
}

/// A response packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The opcode it answers.
    pub op: u8,
    /// The `value` field (READ_REG's result).
    pub value: u32,
    /// The data before the status bytes.
    pub data: Vec<u8>,
    /// 0 on success.
    pub status: u8,
    /// The error code when `status` is not 0.
    pub error: u8,
}

/// Why a frame is not a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// Shorter than the 8-byte header plus the status.
    Short(usize),
    /// The direction byte is not 0x01.
    NotAResponse(u8),
    /// The size field disagrees with the bytes that came.
    SizeMismatch { declared: usize, got: usize },
}

impl std::fmt::Display for PacketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PacketError::Short(n) => write!(f, "a {n}-byte frame is too short for a response"),
            PacketError::NotAResponse(d) => write!(f, "direction byte {d:#04x}, not 0x01"),
            PacketError::SizeMismatch { declared, got } => {
                write!(f, "the size field says {declared} bytes but {got} came")
            }
        }
    }
}

impl Response {
    /// Parse a frame's payload for a loader with this status layout.
    pub fn parse(frame: &[u8], loader: Loader) -> Result<Self, PacketError> {
        let sl = loader.status_len();
        if frame.len() < 8 + 2 {
            return Err(PacketError::Short(frame.len()));
        }
        if frame[0] != 0x01 {
            return Err(PacketError::NotAResponse(frame[0]));
        }
        let size = usize::from(u16::from_le_bytes([frame[2], frame[3]]));
        let body = &frame[8..];
        if body.len() != size {
            return Err(PacketError::SizeMismatch {
                declared: size,
                got: body.len(),
            });
        }
        // A 2-byte status from a 4-byte-status ROM cannot happen; accept what is there.
        let sl = if body.len() < sl { 2 } else { sl };
        let (data, status) = body.split_at(body.len() - sl);
        Ok(Response {
            op: frame[1],
            value: u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]),
            data: data.to_vec(),
            status: status[0],
            error: status[1],
        })
    }

    /// A response packet (for simulators): `status` bytes are appended after `data`.
    pub fn encode(op: u8, value: u32, data: &[u8], status: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + data.len() + status.len());
        out.push(0x01);
        out.push(op);
        out.extend_from_slice(&((data.len() + status.len()) as u16).to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(status);
        out
    }
}

/// ROM error codes.
pub mod rom_error {
    /// The packet was not understood (also the answer to an unknown command).
    pub const INVALID_MESSAGE: u8 = 0x05;
    /// The command failed to act.
    pub const FAILED: u8 = 0x06;
    /// The data checksum did not match.
    pub const INVALID_CRC: u8 = 0x07;
    /// The flash write failed.
    pub const FLASH_WRITE: u8 = 0x08;
    /// The flash read failed.
    pub const FLASH_READ: u8 = 0x09;
    /// The read length is invalid.
    pub const FLASH_READ_LENGTH: u8 = 0x0A;
    /// Inflating the compressed data failed.
    pub const DEFLATE: u8 = 0x0B;
}

/// The name of a loader error code, ROM or stub.
pub fn error_name(code: u8) -> &'static str {
    match code {
        0x05 => "invalid message",
        0x06 => "failed to act on the message",
        0x07 => "invalid CRC in the message",
        0x08 => "flash write error",
        0x09 => "flash read error",
        0x0A => "flash read length error",
        0x0B..=0x0D => "deflate error",
        0x0E | 0x0F => "RAM error",
        0x64..=0x69 => "ROM internal error",
        0xC0 => "bad data length",
        0xC1 => "bad data checksum",
        0xC2 => "bad block size",
        0xC3 => "invalid command",
        0xC4 => "SPI operation failed",
        0xC5 => "SPI unlock failed",
        0xC6 => "not in flash mode",
        0xC7 => "inflate error",
        0xC8 => "not enough data",
        0xC9 => "too much data",
        0xFF => "command not implemented",
        _ => "unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::slip;

    #[test]
    fn sync_frame_matches_the_documented_trace() {
        let wire = slip::encode(&command(op::SYNC, &sync_data(), 0));
        let mut want = vec![
            0xC0, 0x00, 0x08, 0x24, 0x00, 0, 0, 0, 0, 0x07, 0x07, 0x12, 0x20,
        ];
        want.extend_from_slice(&[0x55; 32]);
        want.push(0xC0);
        assert_eq!(wire, want);
    }

    #[test]
    fn the_esp32_rom_sync_reply_parses() {
        let reply = [0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0];
        let r = Response::parse(&reply, Loader::Rom).unwrap();
        assert_eq!(
            (r.op, r.value, r.status, r.error),
            (op::SYNC, 0x2012_0707, 0, 0)
        );
        assert!(r.data.is_empty());
        assert_eq!(Response::encode(op::SYNC, 0x2012_0707, &[], &[0; 4]), reply);
    }

    #[test]
    fn status_position_differs_between_rom_and_stub() {
        let rom = Response::encode(op::SPI_FLASH_MD5, 0, b"ab", &[1, 0x07, 0, 0]);
        let r = Response::parse(&rom, Loader::Rom).unwrap();
        assert_eq!(
            (r.data.as_slice(), r.status, r.error),
            (&b"ab"[..], 1, 0x07)
        );
        let stub = Response::encode(op::SPI_FLASH_MD5, 0, b"ab", &[1, 0xC1]);
        let r = Response::parse(&stub, Loader::Stub).unwrap();
        assert_eq!(
            (r.data.as_slice(), r.status, r.error),
            (&b"ab"[..], 1, 0xC1)
        );
        assert_eq!(error_name(0xC1), "bad data checksum");
    }

    #[test]
    fn checksum_is_seeded_with_0xef() {
        assert_eq!(checksum(&[]), 0xEF);
        assert_eq!(checksum(&[0xEF]), 0);
        assert_eq!(checksum(&[1, 2, 4]), 0xEF ^ 7);
    }
}
