//! A flasher stub the user supplies, in esptool's JSON stub format
//! (`{"entry": N, "text": base64, "text_start": N, "data": base64, "data_start": N}`). otadeck
//! bundles none: it works with the ROM alone, and uploads a stub only when given one.

use base64::Engine as _;

/// RAM block size for `MEM_DATA`.
pub const MEM_BLOCK: usize = 0x1800;

/// A stub: code and data segments and the entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stub {
    /// Where execution starts.
    pub entry: u32,
    /// The segments to load: (address, bytes), text first.
    pub segments: Vec<(u32, Vec<u8>)>,
}

/// Why a stub file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    /// The file is not JSON.
    #[error("the stub is not JSON: {0}")]
    NotJson(String),
    /// A field that must be a 32-bit number is missing or is not one.
    #[error("the stub has no numeric {0:?}")]
    NoNumber(&'static str),
    /// The code segment is missing.
    #[error("the stub has no \"text\"")]
    NoText,
    /// A segment is not base64.
    #[error("the stub's {field:?} is not base64: {reason}")]
    NotBase64 {
        /// `text` or `data`.
        field: &'static str,
        /// What the decoder said.
        reason: String,
    },
}

impl Stub {
    /// Parse esptool's JSON stub format.
    pub fn from_json(text: &str) -> Result<Stub, StubError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| StubError::NotJson(e.to_string()))?;
        let num = |k: &'static str| -> Result<u32, StubError> {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(StubError::NoNumber(k))
        };
        let entry = num("entry")?;
        let mut segments = Vec::new();
        for (field, start) in [("text", "text_start"), ("data", "data_start")] {
            let Some(b64) = v.get(field).and_then(serde_json::Value::as_str) else {
                if field == "text" {
                    return Err(StubError::NoText);
                }
                continue;
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| StubError::NotBase64 {
                    field,
                    reason: e.to_string(),
                })?;
            segments.push((num(start)?, bytes));
        }
        Ok(Stub { entry, segments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_and_data_segments() {
        let s = Stub::from_json(
            r#"{"entry": 1074521580, "text": "AQID", "text_start": 1074520064,
                "data": "BAU=", "data_start": 1073658408}"#,
        )
        .unwrap();
        assert_eq!(s.entry, 0x400B_E5EC);
        assert_eq!(s.segments[0], (0x400B_E000, vec![1, 2, 3]));
        assert_eq!(s.segments[1], (0x3FFE_BA28, vec![4, 5]));
        assert!(Stub::from_json(r#"{"entry": 1, "text": "!!", "text_start": 0}"#).is_err());
        assert!(Stub::from_json(r#"{"text": "AQID", "text_start": 0}"#).is_err());
    }
}
