//! Library functions that several simulated MicroPython firmwares share.

use base64::Engine as _;

use crate::interp::python::expr::{PyErr, Value};
use crate::mp_repl::ExecResult;

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

/// The `MemoryError` an exec of `code_len` bytes of source raises on a heap with `heap_free`
/// bytes free, if it does: a bytes literal stays on the heap until the exec ends and the lexer
/// briefly holds a second copy of the one it reads, so more than half the heap fails.
pub fn exec_memory_error(code_len: usize, heap_free: usize) -> Option<ExecResult> {
    (code_len > heap_free / 2).then(|| ExecResult {
        stderr: format!(
            "Traceback (most recent call last):\r\nMemoryError: memory allocation failed, \
             allocating {code_len} bytes\r\n"
        ),
        ..ExecResult::default()
    })
}
