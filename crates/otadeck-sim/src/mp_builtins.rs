//! Library functions that several simulated MicroPython firmwares share.

use base64::Engine as _;

use crate::pyexpr::{PyErr, Value};

/// `binascii.a2b_base64(b'…')`. Like MicroPython, characters outside the alphabet are skipped.
pub fn a2b_base64(args: &[Value]) -> Result<Value, PyErr> {
    let data = match args {
        [Value::Bytes(b)] => b,
        _ => {
            return Err(PyErr::new(
                "TypeError",
                "object with buffer protocol required",
            ))
        }
    };
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .map(Value::Bytes)
        .map_err(|_| PyErr::new("ValueError", "incorrect padding"))
}

/// `bytes.fromhex('…')`.
pub fn fromhex(args: &[Value]) -> Result<Value, PyErr> {
    let [Value::Str(s)] = args else {
        return Err(PyErr::new("TypeError", "fromhex() argument must be str"));
    };
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .map(Value::Bytes)
        .ok_or_else(|| PyErr::new("ValueError", "non-hex digit found"))
}

/// `binascii.hexlify(data)`.
pub fn hexlify(data: &[u8]) -> Value {
    Value::Bytes(
        data.iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect(),
    )
}
