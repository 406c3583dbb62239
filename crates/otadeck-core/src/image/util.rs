//! Bounds-checked reads and small helpers shared by the image parsers.
//!
//! Every read goes through [`take`], which never indexes past the input and reports the field and
//! offset it wanted when the data is too short.

use serde::Serialize;

/// The input ends before a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("truncated: {field} at offset {offset} needs {needed} bytes, {available} present")]
pub struct Truncated {
    /// The field that could not be read.
    pub field: &'static str,
    /// Where it starts.
    pub offset: usize,
    /// How many bytes it needs.
    pub needed: usize,
    /// How many bytes the input has from `offset` on.
    pub available: usize,
}

/// `len` bytes at `offset`, or the reason they are not there.
pub(crate) fn take<'a>(
    data: &'a [u8],
    offset: usize,
    len: usize,
    field: &'static str,
) -> Result<&'a [u8], Truncated> {
    offset
        .checked_add(len)
        .and_then(|end| data.get(offset..end))
        .ok_or(Truncated {
            field,
            offset,
            needed: len,
            available: data.len().saturating_sub(offset),
        })
}

/// A fixed-size array at `offset`.
pub(crate) fn array<const N: usize>(
    data: &[u8],
    offset: usize,
    field: &'static str,
) -> Result<[u8; N], Truncated> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(data, offset, N, field)?);
    Ok(out)
}

pub(crate) fn u8_at(data: &[u8], offset: usize, field: &'static str) -> Result<u8, Truncated> {
    Ok(take(data, offset, 1, field)?[0])
}

pub(crate) fn u16_le(data: &[u8], offset: usize, field: &'static str) -> Result<u16, Truncated> {
    Ok(u16::from_le_bytes(array(data, offset, field)?))
}

pub(crate) fn u32_le(data: &[u8], offset: usize, field: &'static str) -> Result<u32, Truncated> {
    Ok(u32::from_le_bytes(array(data, offset, field)?))
}

/// The text of a NUL-padded C string field (lossy UTF-8, up to the first NUL).
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Serialize bytes as a lower-case hex string.
pub(crate) fn ser_hex<S: serde::Serializer, T: AsRef<[u8]>>(
    bytes: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes.as_ref()))
}

/// A label/value row of a human summary.
pub(crate) fn row(label: impl Into<String>, value: impl Into<String>) -> (String, String) {
    (label.into(), value.into())
}

/// "valid" or "INVALID (stored X, computed Y)".
pub(crate) fn check_text(ok: bool, stored: &str, computed: &str) -> String {
    if ok {
        format!("{stored} (valid)")
    } else {
        format!("{stored} (INVALID, computed {computed})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_is_bounded_and_total() {
        let data = [1u8, 2, 3];
        assert_eq!(take(&data, 1, 2, "x").unwrap(), &[2, 3]);
        let e = take(&data, 2, 5, "field").unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.needed, e.available),
            ("field", 2, 5, 1)
        );
        assert!(take(&data, usize::MAX, 2, "x").is_err());
        assert!(take(&data, 10, 0, "x").is_err());
        assert_eq!(u16_le(&data, 0, "x").unwrap(), 0x0201);
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
        assert_eq!(c_string(b"ab\0cd"), "ab");
    }
}
