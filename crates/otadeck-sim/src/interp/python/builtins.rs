//! Library functions that several simulated MicroPython firmwares share.

use std::time::Duration;

use base64::Engine as _;

use crate::interp::python::expr::{self, Globals, Host, PyErr, Value};
use crate::mp_repl::ExecResult;

/// What a board that runs each exec line by line keeps between and during execs.
#[derive(Debug, Default)]
pub struct ExecState {
    /// Names defined at the prompt.
    pub globals: Globals,
    /// What the running exec printed.
    pub printed: String,
    /// The running exec asked for a reset.
    pub reboot_requested: bool,
    /// Time the running exec keeps the board busy.
    pub busy: Duration,
}

/// A board whose execs run line by line through [`expr::run`].
pub trait LineBoard: Host + Sized {
    /// Its exec state.
    fn exec_state(&mut self) -> &mut ExecState;
    /// Free heap in bytes: an exec too large for it raises `MemoryError`.
    fn heap_free(&self) -> usize;
}

/// Run `code` on `board`: the `MemoryError` of an oversized exec, else every line in order,
/// with what it printed, its traceback, a reset it asked for and the time it took.
pub fn exec_lines<B: LineBoard>(board: &mut B, code: &str) -> ExecResult {
    if let Some(refused) = exec_memory_error(code.len(), board.heap_free()) {
        return refused;
    }
    let state = board.exec_state();
    state.printed.clear();
    state.reboot_requested = false;
    state.busy = Duration::ZERO;
    let mut globals = std::mem::take(&mut state.globals);
    let outcome = expr::run(code, &mut globals, board);
    let state = board.exec_state();
    state.globals = globals;
    ExecResult {
        stdout: std::mem::take(&mut state.printed),
        stderr: outcome.err().unwrap_or_default(),
        reboot: state.reboot_requested,
        duration: state.busy,
        pending: None,
    }
}

/// `binascii.a2b_base64(b'…')` (or a `str`). Like MicroPython, characters outside the alphabet
/// are skipped.
pub fn a2b_base64(args: &[Value]) -> Result<Value, PyErr> {
    let data = match args {
        [Value::Bytes(b)] => b.as_slice(),
        [Value::Str(s)] => s.as_bytes(),
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

/// `AttributeError: '…' object has no attribute 'attr'`.
pub fn no_attribute(obj: &Value, attr: &str) -> PyErr {
    PyErr::new(
        "AttributeError",
        format!("'{}' object has no attribute '{attr}'", obj.repr()),
    )
}

/// The dotted name of `obj.attr` (`os.uname`, `obj#3.write`) for a module or native object.
pub fn attr_path(obj: &Value, attr: &str) -> Result<String, PyErr> {
    match obj {
        Value::Module(m) => Ok(format!("{m}.{attr}")),
        Value::Native(n) => Ok(format!("{n}.{attr}")),
        other => Err(no_attribute(other, attr)),
    }
}

/// `obj.attr` as a native callable when its dotted name is one of `known`.
pub fn known_attr(obj: &Value, attr: &str, known: &[&str]) -> Result<Value, PyErr> {
    let path = attr_path(obj, attr)?;
    if known.contains(&path.as_str()) {
        Ok(Value::Native(path))
    } else {
        Err(no_attribute(obj, attr))
    }
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
